//! In-memory ledger speed: leaf hashing plus frontier append, full-tree append, proofs, and the
//! canonical encoding of a typical event.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use modeltrail_ledger::event::{Actor, AuthMethod, EncodedEvent, EventDraft};
use modeltrail_ledger::tree::{Frontier, MemoryTree};
use modeltrail_ledger::{leaf_hash, Timestamp};
use std::hint::black_box;

fn entry(i: u64) -> Vec<u8> {
    let mut e = vec![b'x'; 300];
    e[..8].copy_from_slice(&i.to_le_bytes());
    e
}

fn append(c: &mut Criterion) {
    let entries: Vec<Vec<u8>> = (0..100_000).map(entry).collect();
    let mut g = c.benchmark_group("append 100k leaves of 300 bytes");
    g.throughput(Throughput::Elements(entries.len() as u64));
    g.bench_function("leaf hash + frontier", |b| {
        b.iter(|| {
            let mut f = Frontier::new();
            for e in &entries {
                black_box(f.append(leaf_hash(e)));
            }
            f.root()
        })
    });
    g.bench_function("leaf hash + memory tree", |b| {
        b.iter(|| {
            let mut t = MemoryTree::new();
            for e in &entries {
                t.append(leaf_hash(e));
            }
            t.size()
        })
    });
    g.finish();
}

fn proofs(c: &mut Criterion) {
    let mut tree = MemoryTree::new();
    for i in 0..1_000_000u64 {
        tree.append(leaf_hash(&i.to_le_bytes()));
    }
    let mut i = 0u64;
    c.bench_function("inclusion proof at 1M leaves (memory)", |b| {
        b.iter(|| {
            i = (i + 7919) % 1_000_000;
            tree.inclusion_proof(i, 1_000_000)
        })
    });
    c.bench_function("consistency proof to 1M leaves (memory)", |b| {
        b.iter(|| {
            i = (i + 7919) % 999_999 + 1;
            tree.consistency_proof(i, 1_000_000)
        })
    });
}

fn encode(c: &mut Criterion) {
    let draft = EventDraft {
        actor: Actor {
            id: "svc-train".into(),
            name: "Training Pipeline".into(),
            role: "developer".into(),
            auth: AuthMethod::ApiToken,
        },
        client: Default::default(),
        action: "run.metric".into(),
        record: None,
        prev: None,
        reason: Some("logged by pipeline".into()),
        target: None,
        payload: serde_json::json!({"metric": "auc", "value": 0.91, "step": 17, "pad": "x".repeat(100)}),
    };
    c.bench_function("seal + canonical encode + leaf hash of one event", |b| {
        b.iter_batched(
            || draft.clone(),
            |d| EncodedEvent::encode(&d.seal(42, Timestamp::from_micros(1))),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, append, proofs, encode);
criterion_main!(benches);
