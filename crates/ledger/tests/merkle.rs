//! The Merkle tree and its proofs against the published RFC 6962 vectors, corruptions of valid
//! proofs, and property tests over random trees.

use modeltrail_ledger::proof::{verify_consistency, verify_inclusion, ProofError};
use modeltrail_ledger::tree::{Frontier, MemoryTree};
use modeltrail_ledger::{leaf_hash, Hash};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    leaves: Vec<String>,
    roots: std::collections::BTreeMap<u64, String>,
    inclusion: Vec<Inclusion>,
    consistency: Vec<Consistency>,
}

#[derive(Deserialize)]
struct Inclusion {
    leaf_index: u64,
    tree_size: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct Consistency {
    size1: u64,
    size2: u64,
    proof: Vec<String>,
}

fn vectors() -> Vectors {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/rfc6962-vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("test vectors are in testdata/");
    serde_json::from_str(&text).expect("vectors parse")
}

fn hashes(hex: &[String]) -> Vec<Hash> {
    hex.iter().map(|h| Hash::from_hex(h).unwrap()).collect()
}

fn vector_tree(v: &Vectors) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for leaf in &v.leaves {
        tree.append(leaf_hash(&hex::decode(leaf).unwrap()));
    }
    tree
}

#[test]
fn reproduces_every_published_root() {
    let v = vectors();
    let tree = vector_tree(&v);
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root().to_hex(), v.roots[&0]);
    for (size, root) in &v.roots {
        assert_eq!(
            &tree.root(*size).unwrap().to_hex(),
            root,
            "root at size {size}"
        );
    }
    for (i, leaf) in v.leaves.iter().enumerate() {
        frontier.append(leaf_hash(&hex::decode(leaf).unwrap()));
        assert_eq!(frontier.root().to_hex(), v.roots[&(i as u64 + 1)]);
    }
    assert_eq!(v.roots.len(), 9, "sizes 0 to 8");
}

#[test]
fn reproduces_and_verifies_every_published_inclusion_proof() {
    let v = vectors();
    let tree = vector_tree(&v);
    assert!(!v.inclusion.is_empty());
    for case in &v.inclusion {
        let expected = hashes(&case.proof);
        let proof = tree
            .inclusion_proof(case.leaf_index, case.tree_size)
            .unwrap();
        assert_eq!(
            proof, expected,
            "inclusion {} in {}",
            case.leaf_index, case.tree_size
        );
        let leaf = leaf_hash(&hex::decode(&v.leaves[case.leaf_index as usize]).unwrap());
        let root = Hash::from_hex(&v.roots[&case.tree_size]).unwrap();
        verify_inclusion(&leaf, case.leaf_index, case.tree_size, &expected, &root).unwrap();
    }
}

#[test]
fn reproduces_and_verifies_every_published_consistency_proof() {
    let v = vectors();
    let tree = vector_tree(&v);
    assert!(!v.consistency.is_empty());
    for case in &v.consistency {
        let expected = hashes(&case.proof);
        let proof = tree.consistency_proof(case.size1, case.size2).unwrap();
        assert_eq!(
            proof, expected,
            "consistency {} to {}",
            case.size1, case.size2
        );
        let r1 = Hash::from_hex(&v.roots[&case.size1]).unwrap();
        let r2 = Hash::from_hex(&v.roots[&case.size2]).unwrap();
        verify_consistency(case.size1, case.size2, &expected, &r1, &r2).unwrap();
    }
}

/// The root a checkpoint for `size` would carry; a size the tree does not reach gets a hash that
/// is no root of it. A proof's size is bound to a root by the signed checkpoint, so a proof that
/// claims another size is checked against that size's root.
fn root_at(tree: &MemoryTree, size: u64) -> Hash {
    tree.root(size).unwrap_or(Hash([0xAB; 32]))
}

/// Every way of damaging a valid inclusion proof that the issue names.
fn inclusion_corruptions(
    tree: &MemoryTree,
    leaf: Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Vec<(String, Result<(), ProofError>)> {
    let root = root_at(tree, size);
    let mut out = Vec::new();
    out.push((
        "wrong index +1".into(),
        verify_inclusion(&leaf, index + 1, size, proof, &root),
    ));
    if index > 0 {
        out.push((
            "wrong index -1".into(),
            verify_inclusion(&leaf, index - 1, size, proof, &root),
        ));
    }
    out.push((
        "wrong size +1".into(),
        verify_inclusion(&leaf, index, size + 1, proof, &root_at(tree, size + 1)),
    ));
    if size > 1 {
        out.push((
            "wrong size -1".into(),
            verify_inclusion(&leaf, index, size - 1, proof, &root_at(tree, size - 1)),
        ));
    }
    let mut added = proof.to_vec();
    added.push(leaf);
    out.push((
        "hash added".into(),
        verify_inclusion(&leaf, index, size, &added, &root),
    ));
    if !proof.is_empty() {
        let removed = &proof[..proof.len() - 1];
        out.push((
            "hash removed".into(),
            verify_inclusion(&leaf, index, size, removed, &root),
        ));
    }
    for i in 0..proof.len() {
        let mut flipped = proof.to_vec();
        flipped[i].0[i % 32] ^= 1;
        out.push((
            format!("bit flipped in hash {i}"),
            verify_inclusion(&leaf, index, size, &flipped, &root),
        ));
    }
    let mut bad_leaf = leaf;
    bad_leaf.0[0] ^= 0x80;
    out.push((
        "bit flipped in leaf".into(),
        verify_inclusion(&bad_leaf, index, size, proof, &root),
    ));
    let mut bad_root = root;
    bad_root.0[31] ^= 1;
    out.push((
        "bit flipped in root".into(),
        verify_inclusion(&leaf, index, size, proof, &bad_root),
    ));
    out
}

#[test]
fn rejects_corrupted_published_inclusion_proofs() {
    let v = vectors();
    let tree = vector_tree(&v);
    for case in &v.inclusion {
        let leaf = leaf_hash(&hex::decode(&v.leaves[case.leaf_index as usize]).unwrap());
        let proof = hashes(&case.proof);
        for (what, result) in
            inclusion_corruptions(&tree, leaf, case.leaf_index, case.tree_size, &proof)
        {
            assert!(
                result.is_err(),
                "{what} accepted for leaf {} in {}",
                case.leaf_index,
                case.tree_size
            );
        }
    }
}

#[test]
fn rejects_corrupted_published_consistency_proofs() {
    let v = vectors();
    let tree = vector_tree(&v);
    for case in v
        .consistency
        .iter()
        .filter(|c| c.size1 > 0 && c.size1 < c.size2)
    {
        let proof = hashes(&case.proof);
        for (what, result) in consistency_corruptions(&tree, case.size1, case.size2, &proof) {
            assert!(
                result.is_err(),
                "{what} accepted for {} -> {}",
                case.size1,
                case.size2
            );
        }
    }
}

fn consistency_corruptions(
    tree: &MemoryTree,
    s1: u64,
    s2: u64,
    proof: &[Hash],
) -> Vec<(String, Result<(), ProofError>)> {
    let (r1, r2) = (root_at(tree, s1), root_at(tree, s2));
    let at = |size| root_at(tree, size);
    let mut out = vec![
        (
            "size1 +1".to_string(),
            verify_consistency(s1 + 1, s2, proof, &at(s1 + 1), &r2),
        ),
        (
            "size2 +1".to_string(),
            verify_consistency(s1, s2 + 1, proof, &r1, &at(s2 + 1)),
        ),
        (
            "size1 -1".to_string(),
            verify_consistency(s1 - 1, s2, proof, &at(s1 - 1), &r2),
        ),
        (
            "roots swapped".to_string(),
            verify_consistency(s1, s2, proof, &r2, &r1),
        ),
    ];
    if s2 - 1 > s1 {
        out.push((
            "size2 -1".into(),
            verify_consistency(s1, s2 - 1, proof, &r1, &at(s2 - 1)),
        ));
    }
    let mut added = proof.to_vec();
    added.push(r1);
    out.push((
        "hash added".into(),
        verify_consistency(s1, s2, &added, &r1, &r2),
    ));
    if !proof.is_empty() {
        out.push((
            "hash removed".into(),
            verify_consistency(s1, s2, &proof[1..], &r1, &r2),
        ));
    }
    for i in 0..proof.len() {
        let mut flipped = proof.to_vec();
        flipped[i].0[(i * 7) % 32] ^= 4;
        out.push((
            format!("bit flipped in hash {i}"),
            verify_consistency(s1, s2, &flipped, &r1, &r2),
        ));
    }
    let mut bad = r1;
    bad.0[5] ^= 1;
    out.push((
        "first root flipped".into(),
        verify_consistency(s1, s2, proof, &bad, &r2),
    ));
    let mut bad = r2;
    bad.0[5] ^= 1;
    out.push((
        "second root flipped".into(),
        verify_consistency(s1, s2, proof, &r1, &bad),
    ));
    out
}

#[test]
fn equal_and_empty_sizes() {
    let v = vectors();
    let tree = vector_tree(&v);
    let r3 = tree.root(3).unwrap();
    let r5 = tree.root(5).unwrap();
    verify_consistency(3, 3, &[], &r3, &r3).unwrap();
    assert!(verify_consistency(3, 3, &[], &r3, &r5).is_err());
    assert!(verify_consistency(3, 3, &[r3], &r3, &r3).is_err());
    verify_consistency(0, 5, &[], &Hash::empty_tree(), &r5).unwrap();
    assert!(verify_consistency(5, 3, &[], &r5, &r3).is_err());
    assert!(tree.inclusion_proof(8, 8).is_err());
    assert!(tree.inclusion_proof(0, 9).is_err());
    assert!(tree.consistency_proof(6, 5).is_err());
}

fn random_tree(size: u64, salt: u64) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for i in 0..size {
        tree.append(leaf_hash(&[i.to_le_bytes(), salt.to_le_bytes()].concat()));
    }
    tree
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_inclusion_proof_verifies_and_every_mutation_fails(
        size in 1u64..600, pick in any::<u64>(), salt in any::<u64>()
    ) {
        let tree = random_tree(size + 1, salt);
        let index = pick % size;
        let root = tree.root(size).unwrap();
        let leaf = tree.node(modeltrail_ledger::tree::NodeId::new(0, index)).unwrap();
        let proof = tree.inclusion_proof(index, size).unwrap();
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
        for (what, result) in inclusion_corruptions(&tree, leaf, index, size, &proof) {
            prop_assert!(result.is_err(), "{} accepted: leaf {} of {}", what, index, size);
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_every_mutation_fails(
        second in 2u64..600, pick in any::<u64>(), salt in any::<u64>()
    ) {
        let tree = random_tree(second + 1, salt);
        let first = 1 + pick % (second - 1);
        let (r1, r2) = (tree.root(first).unwrap(), tree.root(second).unwrap());
        let proof = tree.consistency_proof(first, second).unwrap();
        prop_assert_eq!(verify_consistency(first, second, &proof, &r1, &r2), Ok(()));
        for (what, result) in consistency_corruptions(&tree, first, second, &proof) {
            prop_assert!(result.is_err(), "{} accepted: {} -> {}", what, first, second);
        }
    }

    #[test]
    fn frontier_root_equals_tree_root_at_every_size(size in 0u64..300, salt in any::<u64>()) {
        let tree = random_tree(size, salt);
        let mut frontier = Frontier::new();
        for i in 0..size {
            frontier.append(tree.node(modeltrail_ledger::tree::NodeId::new(0, i)).unwrap());
            prop_assert_eq!(Some(frontier.root()), tree.root(i + 1));
        }
    }
}
