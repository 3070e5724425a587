//! SHA-256 hashes and the RFC 6962 / RFC 9162 domain-separated leaf and node hashing.

use sha2::digest::generic_array::GenericArray;
use sha2::digest::typenum::U64;
use sha2::{Digest, Sha256};
use std::fmt;

/// Length of a SHA-256 hash in bytes.
pub const HASH_LEN: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; HASH_LEN]);

/// A hash given as text or bytes could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashParseError {
    #[error("a hash is {HASH_LEN} bytes, found {0}")]
    WrongLength(usize),
    #[error("a hash in hex must be 64 hex digits: {0}")]
    BadHex(String),
    #[error("a hash in base64 is not valid base64: {0}")]
    BadBase64(String),
}

impl Hash {
    /// The hash of the empty tree: SHA-256 of no bytes.
    pub fn empty_tree() -> Hash {
        Hash(Sha256::digest([]).into())
    }

    /// Reads a hash from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, HashParseError> {
        <[u8; HASH_LEN]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashParseError::WrongLength(bytes.len()))
    }

    /// Reads a hash from 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Hash, HashParseError> {
        let bytes = hex::decode(text).map_err(|e| HashParseError::BadHex(e.to_string()))?;
        Hash::from_slice(&bytes)
    }

    /// Reads a hash from standard base64 (RFC 4648 section 4), as checkpoints carry it.
    pub fn from_base64(text: &str) -> Result<Hash, HashParseError> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| HashParseError::BadBase64(e.to_string()))?;
        Hash::from_slice(&bytes)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn to_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// RFC 6962 leaf hash: SHA-256(0x00 || entry bytes).
///
/// An entry that fits in `LEAF_BLOCKS` blocks with its prefix and padding (most events) is
/// laid out in place and compressed in one call; a longer one goes through the streaming hasher.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let message = 1 + entry.len();
    let blocks = (message + 9).div_ceil(64);
    if blocks > LEAF_BLOCKS {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(entry);
        return Hash(h.finalize().into());
    }
    let mut buffer: [GenericArray<u8, U64>; LEAF_BLOCKS] = Default::default();
    let padded = &mut buffer[..blocks];
    write_at(padded, 1, entry);
    write_at(padded, message, &[0x80]);
    write_at(padded, blocks * 64 - 8, &(8 * message as u64).to_be_bytes());
    let mut state = SHA256_INITIAL;
    sha2::compress256(&mut state, padded);
    state_to_hash(state)
}

/// The most 64-byte blocks a leaf hash lays out on the stack (entries up to 1,014 bytes).
const LEAF_BLOCKS: usize = 16;

/// Copies `bytes` into consecutive blocks from byte offset `at` (which the caller keeps inside).
fn write_at(blocks: &mut [GenericArray<u8, U64>], mut at: usize, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let Some(block) = blocks.get_mut(at / 64) else {
            return;
        };
        let offset = at % 64;
        let n = bytes.len().min(64 - offset);
        block[offset..offset + n].copy_from_slice(&bytes[..n]);
        bytes = &bytes[n..];
        at += n;
    }
}

fn state_to_hash(state: [u32; 8]) -> Hash {
    let mut out = [0u8; HASH_LEN];
    for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    Hash(out)
}

/// SHA-256's initial hash value (FIPS 180-4, section 5.3.3).
const SHA256_INITIAL: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
///
/// The 65 bytes and SHA-256's padding (0x80, zeros, the length in bits) always fill exactly two
/// blocks, written here and compressed in one call: a tree has as many nodes as leaves, and
/// this skips the streaming hasher's buffering.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut blocks: [GenericArray<u8, U64>; 2] = Default::default();
    blocks[0][0] = 1;
    blocks[0][1..1 + HASH_LEN].copy_from_slice(&left.0);
    blocks[0][1 + HASH_LEN..].copy_from_slice(&right.0[..HASH_LEN - 1]);
    blocks[1][0] = right.0[HASH_LEN - 1];
    blocks[1][1] = 0x80;
    blocks[1][56..].copy_from_slice(&(8 * (1 + 2 * HASH_LEN as u64)).to_be_bytes());
    let mut state = SHA256_INITIAL;
    sha2::compress256(&mut state, &blocks);
    state_to_hash(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_hash_is_sha256_of_a_zero_byte_and_the_entry_at_every_length() {
        // Across the one-call layout's block boundaries and past its limit.
        let entry: Vec<u8> = (0..LEAF_BLOCKS * 64 + 200)
            .map(|i| (i * 7 + 3) as u8)
            .collect();
        for len in 0..entry.len() {
            let mut streaming = Sha256::new();
            streaming.update([0u8]);
            streaming.update(&entry[..len]);
            let expected: [u8; HASH_LEN] = streaming.finalize().into();
            assert_eq!(leaf_hash(&entry[..len]).0, expected, "length {len}");
        }
    }

    #[test]
    fn node_hash_is_sha256_of_its_65_bytes() {
        let mut x = 1u8;
        for _ in 0..1000 {
            let mut pair = [Hash([0; HASH_LEN]); 2];
            for byte in pair.iter_mut().flat_map(|h| h.0.iter_mut()) {
                x = x.wrapping_mul(37).wrapping_add(11);
                *byte = x;
            }
            let mut buf = vec![1u8];
            buf.extend_from_slice(&pair[0].0);
            buf.extend_from_slice(&pair[1].0);
            assert_eq!(
                node_hash(&pair[0], &pair[1]).0,
                <[u8; 32]>::from(Sha256::digest(&buf))
            );
        }
    }
}
