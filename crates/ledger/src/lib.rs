//! The pure core of modeltrail's audit log. Everything here is deterministic and does no I/O:
//! canonical JSON (RFC 8785), the event type, RFC 6962 hashing, the Merkle tree and its proofs,
//! C2SP signed checkpoints, and the offline verification of a log.

pub mod checkpoint;
pub mod event;
pub mod hash;
pub mod jcs;
pub mod note;
pub mod proof;
pub mod timestamp;
pub mod tree;
pub mod verify;

pub use hash::{leaf_hash, node_hash, Hash};
pub use timestamp::Timestamp;
