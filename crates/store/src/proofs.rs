//! Roots and proofs served from a store: one batched read of O(log n) stored subtree hashes,
//! never a rebuild of the tree.

use modeltrail_ledger::proof::{consistency_plan, inclusion_plan, root_plan, PlanError};
use modeltrail_ledger::tree::fold_range;
use modeltrail_ledger::Hash;

use crate::{LogStore, StoreError};

/// A proof could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ProofFetchError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The root hash of the log at `size`.
pub async fn root_at<S: LogStore>(store: &S, size: u64) -> Result<Hash, ProofFetchError> {
    let hashes = store.nodes(&root_plan(size)).await?;
    Ok(fold_range(&hashes).unwrap_or_else(Hash::empty_tree))
}

/// The inclusion proof of leaf `index` in the log at `size`.
pub async fn inclusion_proof<S: LogStore>(
    store: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofFetchError> {
    let plan = inclusion_plan(index, size)?;
    let hashes = store.nodes(&plan.nodes()).await?;
    Ok(plan.assemble(&hashes)?)
}

/// The consistency proof from the log at `first` to the log at `second`.
pub async fn consistency_proof<S: LogStore>(
    store: &S,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProofFetchError> {
    let plan = consistency_plan(first, second)?;
    let hashes = store.nodes(&plan.nodes()).await?;
    Ok(plan.assemble(&hashes)?)
}
