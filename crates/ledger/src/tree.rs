//! The RFC 6962 Merkle tree: perfect-subtree addressing, the append frontier (compact range)
//! that the sequencer keeps, and a whole tree in memory for tests, tools and benchmarks.
//!
//! Every stored hash is the hash of a *perfect* subtree: 2^level consecutive leaves starting at a
//! multiple of 2^level. Any root and any proof is a fold over O(log n) of them (see `proof`).

use crate::hash::{node_hash, Hash};
use crate::proof::{consistency_plan, inclusion_plan, PlanError, ProofPlan};

/// A perfect subtree: the 2^`level` leaves starting at leaf `index << level`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    pub const fn new(level: u8, index: u64) -> NodeId {
        NodeId { level, index }
    }

    /// The first leaf under this node.
    pub const fn begin(self) -> u64 {
        self.index << self.level
    }

    /// One past the last leaf under this node.
    pub const fn end(self) -> u64 {
        (self.index + 1) << self.level
    }

    /// The leaf whose append completes this subtree: its hash is known from then on.
    pub const fn completed_by(self) -> u64 {
        self.end() - 1
    }
}

/// How many perfect subtrees the append of leaf `seq` completes (levels 0, 1, ... in order).
pub const fn completed_count(seq: u64) -> usize {
    (seq.wrapping_add(1)).trailing_zeros() as usize + 1
}

/// The perfect subtrees, left to right and largest first, that make up leaves `[begin, end)`.
///
/// Every range a proof or a root needs starts at a multiple of the largest power of two not
/// above its length, which makes this decomposition the one RFC 6962's `MTH` recursion uses.
pub fn range_nodes(begin: u64, end: u64) -> impl Iterator<Item = NodeId> {
    let mut at = begin;
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let len = end - at;
        // Largest power of two that fits the remaining length and keeps the node aligned.
        let mut level = 63 - len.leading_zeros();
        if at != 0 {
            level = level.min(at.trailing_zeros());
        }
        let node = NodeId::new(level as u8, at >> level);
        at = node.end();
        Some(node)
    })
}

/// Folds the hashes of a range's perfect subtrees (as given by [`range_nodes`]) into the range's
/// Merkle tree hash. `None` for an empty slice.
pub fn fold_range(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

/// The right edge of the tree: the hashes of the perfect subtrees that make up `[0, size)`.
/// Appending is O(log n) worst case and O(1) amortised; it is all the sequencer needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

/// A frontier was given the wrong number of hashes for its size.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a tree of size {size} has a frontier of {expected} hashes, {found} were given")]
pub struct FrontierError {
    pub size: u64,
    pub expected: usize,
    pub found: usize,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier {
            size: 0,
            nodes: Vec::new(),
        }
    }

    /// Rebuilds a frontier from the hashes of `range_nodes(0, size)`, in that order.
    pub fn from_nodes(size: u64, nodes: Vec<Hash>) -> Result<Frontier, FrontierError> {
        let expected = size.count_ones() as usize;
        if nodes.len() != expected {
            return Err(FrontierError {
                size,
                expected,
                found: nodes.len(),
            });
        }
        Ok(Frontier { size, nodes })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash and returns the hashes of the perfect subtrees this leaf completes,
    /// level 0 (the leaf itself) first: exactly [`completed_count`] of them.
    pub fn append(&mut self, leaf: Hash) -> Vec<Hash> {
        let merges = self.size.trailing_ones() as usize;
        let mut completed = Vec::with_capacity(merges + 1);
        completed.push(leaf);
        let mut acc = leaf;
        // The frontier holds one node per set bit of size (smallest last); the nodes of the
        // trailing ones are the left siblings the new leaf completes, smallest first.
        let keep = self.nodes.len() - merges;
        for left in self.nodes.drain(keep..).rev() {
            acc = node_hash(&left, &acc);
            completed.push(acc);
        }
        self.nodes.push(acc);
        self.size += 1;
        completed
    }

    /// Grows the tree to `size` leaves a perfect subtree at a time: `known` gives the hash of each
    /// subtree of [`range_nodes`]`(self.size(), size)`, and may give the hash of a node these
    /// complete above them (one already computed elsewhere); the others are computed here.
    /// `completed` sees every node completed above an added subtree, bottom up, with whether it
    /// was computed here. Nothing happens if `size` is not beyond the current size. If `known`
    /// lacks one of the subtrees, the tree stays at the size reached and its id is the error.
    pub fn extend_to(
        &mut self,
        size: u64,
        mut known: impl FnMut(NodeId) -> Option<Hash>,
        mut completed: impl FnMut(NodeId, &Hash, bool),
    ) -> Result<(), NodeId> {
        for id in range_nodes(self.size, size) {
            let mut acc = known(id).ok_or(id)?;
            // The subtree starts at a multiple of its width, so it completes one parent for each
            // trailing one of the size counted in its width: the frontier's last nodes are their
            // left children, smallest last.
            let merges = (self.size >> id.level).trailing_ones() as usize;
            let keep = self.nodes.len().saturating_sub(merges);
            let mut parent = id;
            for left in self.nodes.drain(keep..).rev() {
                parent = NodeId::new(parent.level + 1, parent.index >> 1);
                match known(parent) {
                    Some(hash) => {
                        acc = hash;
                        completed(parent, &acc, false);
                    }
                    None => {
                        acc = node_hash(&left, &acc);
                        completed(parent, &acc, true);
                    }
                }
            }
            self.nodes.push(acc);
            self.size = id.end();
        }
        Ok(())
    }

    /// The root hash of the tree at its current size.
    pub fn root(&self) -> Hash {
        fold_range(&self.nodes).unwrap_or_else(Hash::empty_tree)
    }
}

impl Default for Frontier {
    fn default() -> Self {
        Frontier::new()
    }
}

/// A whole Merkle tree in memory: every perfect subtree hash, 2n hashes for n leaves.
/// Yields the root at any size and proofs between any sizes.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf hash, completing the perfect subtrees it closes.
    pub fn append(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let len = self.levels[level].len();
            if len % 2 == 1 {
                break;
            }
            hash = node_hash(&self.levels[level][len - 2], &hash);
            level += 1;
        }
    }

    /// The hash of a perfect subtree, if the tree already holds all its leaves.
    pub fn node(&self, id: NodeId) -> Option<Hash> {
        self.levels
            .get(usize::from(id.level))?
            .get(id.index as usize)
            .copied()
    }

    /// The hashes of many nodes, in order; `None` if any is not yet complete.
    pub fn nodes(&self, ids: &[NodeId]) -> Option<Vec<Hash>> {
        ids.iter().map(|id| self.node(*id)).collect()
    }

    /// The root hash at any size up to the current one.
    pub fn root(&self, size: u64) -> Option<Hash> {
        if size > self.size() {
            return None;
        }
        let ids: Vec<NodeId> = range_nodes(0, size).collect();
        Some(fold_range(&self.nodes(&ids)?).unwrap_or_else(Hash::empty_tree))
    }

    /// The inclusion proof of leaf `index` in the tree at `size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, PlanError> {
        self.check_size(size)?;
        self.answer(&inclusion_plan(index, size)?)
    }

    /// The consistency proof from the tree at `first` to the tree at `second`.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, PlanError> {
        self.check_size(second)?;
        self.answer(&consistency_plan(first, second)?)
    }

    fn check_size(&self, size: u64) -> Result<(), PlanError> {
        if size > self.size() {
            return Err(PlanError::SizeBeyondTree {
                size,
                tree_size: self.size(),
            });
        }
        Ok(())
    }

    fn answer(&self, plan: &ProofPlan) -> Result<Vec<Hash>, PlanError> {
        let ids = plan.nodes();
        let hashes = self.nodes(&ids).ok_or(PlanError::WrongNodeCount {
            expected: ids.len(),
            found: 0,
        })?;
        plan.assemble(&hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn range_nodes_decompose_by_binary_length() {
        let ids: Vec<_> = range_nodes(0, 13).collect();
        assert_eq!(
            ids,
            vec![NodeId::new(3, 0), NodeId::new(2, 2), NodeId::new(0, 12)]
        );
        let ids: Vec<_> = range_nodes(8, 11).collect();
        assert_eq!(ids, vec![NodeId::new(1, 4), NodeId::new(0, 10)]);
        assert_eq!(range_nodes(5, 5).count(), 0);
    }

    #[test]
    fn frontier_matches_memory_tree_and_reports_completed_nodes() {
        let mut frontier = Frontier::new();
        let mut tree = MemoryTree::new();
        for i in 0..300u64 {
            let leaf = leaf_hash(&i.to_be_bytes());
            let completed = frontier.append(leaf);
            tree.append(leaf);
            assert_eq!(completed.len(), completed_count(i));
            for (level, hash) in completed.iter().enumerate() {
                let id = NodeId::new(level as u8, i >> level);
                assert_eq!(id.completed_by(), i);
                assert_eq!(tree.node(id), Some(*hash));
            }
            assert_eq!(Some(frontier.root()), tree.root(i + 1));
            let nodes: Vec<NodeId> = range_nodes(0, i + 1).collect();
            let rebuilt = Frontier::from_nodes(i + 1, tree.nodes(&nodes).unwrap()).unwrap();
            assert_eq!(rebuilt, frontier);
        }
    }

    #[test]
    fn extending_by_subtrees_matches_appending_leaves() {
        let mut tree = MemoryTree::new();
        for i in 0..200u64 {
            tree.append(leaf_hash(&i.to_be_bytes()));
        }
        // Steps of every length from every start, with and without known parents.
        for start in 0..40u64 {
            for step in 1..40u64 {
                for parents_known in [false, true] {
                    let nodes: Vec<NodeId> = range_nodes(0, start).collect();
                    let mut f = Frontier::from_nodes(start, tree.nodes(&nodes).unwrap()).unwrap();
                    let mut seen = Vec::new();
                    let mut computed = 0;
                    f.extend_to(
                        start + step,
                        |id| {
                            let added = id.begin() >= start;
                            (added || parents_known).then(|| tree.node(id)).flatten()
                        },
                        |id, hash, here| {
                            assert_eq!(tree.node(id), Some(*hash));
                            seen.push(id);
                            computed += usize::from(here);
                        },
                    )
                    .unwrap();
                    assert_eq!(f.root(), tree.root(start + step).unwrap());
                    // Exactly the nodes that start before the old size and end in the added
                    // range, each once: the added subtrees never merge among themselves.
                    let mut expected: Vec<NodeId> = (1..9u8)
                        .flat_map(|level| (0..(256 >> level)).map(move |i| NodeId::new(level, i)))
                        .filter(|id| id.begin() < start && start < id.end())
                        .filter(|id| id.end() <= start + step)
                        .collect();
                    expected.sort();
                    seen.sort();
                    assert_eq!(seen, expected, "{start}+{step}");
                    if parents_known {
                        assert_eq!(computed, 0);
                    }
                }
            }
        }
        let mut f = Frontier::new();
        assert_eq!(
            f.extend_to(3, |id| (id.level == 1).then(Hash::empty_tree), |_, _, _| {}),
            Err(NodeId::new(0, 2))
        );
        assert_eq!(f.size(), 2);
    }

    #[test]
    fn frontier_rejects_wrong_node_count() {
        let err = Frontier::from_nodes(5, vec![Hash::empty_tree()]).unwrap_err();
        assert_eq!(err.expected, 2);
    }
}
