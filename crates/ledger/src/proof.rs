//! Inclusion and consistency proofs (RFC 6962 section 2.1, RFC 9162 section 2.1.3 and 2.1.4):
//! planning which perfect-subtree hashes a proof needs, assembling the proof from them, and
//! verifying proofs.
//!
//! A store answers a proof with one batched read of the plan's nodes, O(log n) of them, and no
//! rebuild of the tree.

use crate::hash::{node_hash, Hash};
use crate::tree::{fold_range, range_nodes, NodeId};

/// A proof cannot be planned for these arguments.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a consistency proof needs the first size ({first}) not above the second ({second})")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("tree size {size} is beyond the tree's current size {tree_size}")]
    SizeBeyondTree { size: u64, tree_size: u64 },
    #[error("a proof plan needs {expected} node hashes, {found} were given")]
    WrongNodeCount { expected: usize, found: usize },
}

/// Why a proof does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("first tree size {first} is above the second tree size {second}")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("the proof has {found} hashes; this proof needs exactly {expected}")]
    WrongLength { expected: usize, found: usize },
    #[error("the proof leads to root {computed}, not to the expected root {expected}")]
    RootMismatch { expected: Hash, computed: Hash },
    #[error("the proof leads to first-tree root {computed}, not to the expected {expected}")]
    FirstRootMismatch { expected: Hash, computed: Hash },
    #[error("trees of equal size {size} must have equal roots: {first} and {second}")]
    EqualSizesDifferentRoots {
        size: u64,
        first: Hash,
        second: Hash,
    },
}

/// Which perfect-subtree hashes make up a proof, and how to fold them into the proof's hashes.
/// Each proof hash is the Merkle tree hash of one leaf range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofPlan {
    /// Leaf ranges `[begin, end)`, one per proof hash, in proof order.
    ranges: Vec<(u64, u64)>,
}

impl ProofPlan {
    /// The perfect-subtree hashes to fetch, in order (each range's nodes, range after range).
    pub fn nodes(&self) -> Vec<NodeId> {
        self.ranges
            .iter()
            .flat_map(|&(begin, end)| range_nodes(begin, end))
            .collect()
    }

    /// How many hashes the finished proof has.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Builds the proof from the hashes of [`ProofPlan::nodes`], given in the same order.
    pub fn assemble(&self, hashes: &[Hash]) -> Result<Vec<Hash>, PlanError> {
        let mut proof = Vec::with_capacity(self.ranges.len());
        let mut at = 0;
        for &(begin, end) in &self.ranges {
            let count = range_nodes(begin, end).count();
            let group = hashes
                .get(at..at + count)
                .ok_or(PlanError::WrongNodeCount {
                    expected: self.nodes().len(),
                    found: hashes.len(),
                })?;
            // A range is never empty, so the fold always has a value.
            proof.extend(fold_range(group));
            at += count;
        }
        if at != hashes.len() {
            return Err(PlanError::WrongNodeCount {
                expected: at,
                found: hashes.len(),
            });
        }
        Ok(proof)
    }
}

/// The hashes that make up the root of a tree of `size` leaves (fold them with `fold_range`).
pub fn root_plan(size: u64) -> Vec<NodeId> {
    range_nodes(0, size).collect()
}

/// Largest power of two strictly below `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Plans the inclusion proof of leaf `index` in the tree of `size` leaves (RFC 6962 `PATH`).
pub fn inclusion_plan(index: u64, size: u64) -> Result<ProofPlan, PlanError> {
    if index >= size {
        return Err(PlanError::IndexOutOfRange { index, size });
    }
    let mut ranges = Vec::new();
    let (mut lo, mut hi) = (0, size);
    // Walk from the root down, collecting siblings; the proof lists them bottom-up.
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    Ok(ProofPlan { ranges })
}

/// Plans the consistency proof between tree sizes `first` and `second` (RFC 6962 `PROOF`).
/// Empty when `first` is 0 or equal to `second`.
pub fn consistency_plan(first: u64, second: u64) -> Result<ProofPlan, PlanError> {
    if first > second {
        return Err(PlanError::SizesOutOfOrder { first, second });
    }
    let mut ranges = Vec::new();
    if first == 0 || first == second {
        return Ok(ProofPlan { ranges });
    }
    // SUBPROOF(m, D[lo:hi], b), walked from the root down.
    let (mut m, mut lo, mut hi, mut whole_first_tree) = (first, 0, second, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !whole_first_tree {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            m -= k;
            lo += k;
            whole_first_tree = false;
        }
    }
    ranges.reverse();
    Ok(ProofPlan { ranges })
}

/// Splits an inclusion proof's length into the part below the point where the leaf's path
/// joins the right border of the tree, and the part along that border.
fn inclusion_shape(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    (inner, border)
}

/// Verifies that `leaf` is leaf `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = inclusion_shape(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::WrongLength {
            expected: inner + border,
            found: proof.len(),
        });
    }
    let computed = root_from_inclusion(leaf, index, size, proof);
    if computed != *root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            computed,
        });
    }
    Ok(())
}

/// RFC 9162 section 2.1.3.2, for a proof whose length is already checked.
fn root_from_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash]) -> Hash {
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    r
}

/// The length of a valid consistency proof between `first` and `second` (0 < first < second).
fn consistency_len(first: u64, second: u64) -> usize {
    let (inner, border) = inclusion_shape(first - 1, second);
    let shift = first.trailing_zeros() as usize;
    let seed = usize::from(!first.is_power_of_two());
    inner - shift + border + seed
}

/// Verifies that the tree of `second` leaves with root `second_root` extends the tree of
/// `first` leaves with root `first_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == second || first == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                found: proof.len(),
            });
        }
        if first == second && first_root != second_root {
            return Err(ProofError::EqualSizesDifferentRoots {
                size: first,
                first: *first_root,
                second: *second_root,
            });
        }
        return Ok(());
    }
    let expected = consistency_len(first, second);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    // RFC 9162 section 2.1.4.2. When the first tree is a perfect subtree, its root is the seed.
    let (seed, rest) = if first.is_power_of_two() {
        (*first_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if fr != *first_root {
        return Err(ProofError::FirstRootMismatch {
            expected: *first_root,
            computed: fr,
        });
    }
    if sr != *second_root {
        return Err(ProofError::RootMismatch {
            expected: *second_root,
            computed: sr,
        });
    }
    Ok(())
}
