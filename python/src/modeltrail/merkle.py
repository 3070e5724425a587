"""The RFC 6962 / RFC 9162 Merkle tree: leaf and node hashes, the tree head of a list of
leaves, and the verifiers of inclusion and consistency proofs.

* leaf hash = SHA-256(0x00 || entry bytes); node hash = SHA-256(0x01 || left || right);
* the root of no leaves is SHA-256 of no bytes;
* :func:`verify_inclusion` and :func:`verify_consistency` are RFC 9162 sections 2.1.3.2 and
  2.1.4.2, with the proof length checked first, and raise
  :class:`~modeltrail.errors.ProofError` saying what does not match.

Hashes are ``bytes`` of length 32 throughout; :func:`from_hex` reads the server's hex form.
"""

from __future__ import annotations

import hashlib
from typing import List, Sequence

from .errors import ConsistencyError, ProofError

__all__ = [
    "HASH_LEN",
    "leaf_hash",
    "node_hash",
    "empty_root",
    "root_hash",
    "from_hex",
    "verify_inclusion",
    "verify_consistency",
    "root_from_inclusion",
]

HASH_LEN = 32


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the hash of one leaf."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def empty_root() -> bytes:
    """The root of the empty tree: SHA-256 of no bytes."""
    return hashlib.sha256(b"").digest()


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (RFC 6962 section 2.1) of the entries ``leaves`` (not yet hashed)."""
    return _subtree([leaf_hash(entry) for entry in leaves])


def _subtree(hashes: List[bytes]) -> bytes:
    if not hashes:
        return empty_root()
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_subtree(hashes[:split]), _subtree(hashes[split:]))


def from_hex(text: str, what: str = "hash") -> bytes:
    """A 32-byte hash from 64 hex digits; :class:`ProofError` otherwise."""
    try:
        value = bytes.fromhex(text)
    except (ValueError, TypeError):
        raise ProofError(f"{what} {text!r} is not hex") from None
    if len(value) != HASH_LEN:
        raise ProofError(f"{what} is {len(value)} bytes, not {HASH_LEN}")
    return value


def _check_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        if not isinstance(h, (bytes, bytearray)) or len(h) != HASH_LEN:
            raise ProofError(f"proof hash {i} is not {HASH_LEN} bytes")


def _inclusion_shape(index: int, size: int) -> "tuple[int, int]":
    """The proof's length below the point where the leaf's path joins the tree's right border,
    and along that border."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 section 2.1.3.2); the length must be
    right already (as :func:`verify_inclusion` checks)."""
    f, s = index, size - 1
    r = leaf
    for p in proof:
        if f & 1 == 1 or f == s:
            r = node_hash(p, r)
            while f & 1 == 0 and f != 0:
                f >>= 1
                s >>= 1
        else:
            r = node_hash(r, p)
        f >>= 1
        s >>= 1
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Checks that ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` leaves whose
    root is ``root``; raises :class:`ProofError` otherwise."""
    if index < 0 or index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of {size} leaves")
    _check_hashes(proof)
    inner, border = _inclusion_shape(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            f"an inclusion proof of leaf {index} in a tree of {size} has {inner + border} "
            f"hashes, this one {len(proof)}"
        )
    computed = root_from_inclusion(leaf, index, size, proof)
    if computed != root:
        raise ProofError(
            f"the inclusion proof of leaf {index} leads to root {computed.hex()}, not the "
            f"checkpoint's {root.hex()} at size {size}"
        )


def _consistency_len(first: int, second: int) -> int:
    inner, border = _inclusion_shape(first - 1, second)
    shift = (first & -first).bit_length() - 1
    seed = 0 if first & (first - 1) == 0 else 1
    return inner - shift + border + seed


def verify_consistency(
    first: int,
    second: int,
    proof: Sequence[bytes],
    first_root: bytes,
    second_root: bytes,
) -> None:
    """Checks that the tree of ``second`` leaves with root ``second_root`` extends the tree of
    ``first`` leaves with root ``first_root``; raises :class:`ConsistencyError` otherwise."""
    if first < 0 or first > second:
        raise ConsistencyError(f"tree size {first} cannot be extended to the smaller {second}")
    _check_hashes(proof)
    if first == second or first == 0:
        if proof:
            raise ConsistencyError(
                f"a consistency proof from {first} to {second} is empty; this one has "
                f"{len(proof)} hashes"
            )
        if first == second and first_root != second_root:
            raise ConsistencyError(
                f"two trees of size {first} with different roots: {first_root.hex()} and "
                f"{second_root.hex()}"
            )
        return
    expected = _consistency_len(first, second)
    if len(proof) != expected:
        raise ConsistencyError(
            f"a consistency proof from {first} to {second} has {expected} hashes, this one "
            f"{len(proof)}"
        )
    if first & (first - 1) == 0:
        seed, rest = first_root, list(proof)
    else:
        seed, rest = proof[0], list(proof[1:])
    f, s = first - 1, second - 1
    while f & 1 == 1:
        f >>= 1
        s >>= 1
    fr = sr = seed
    for c in rest:
        if f & 1 == 1 or f == s:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while f & 1 == 0 and f != 0:
                f >>= 1
                s >>= 1
        else:
            sr = node_hash(sr, c)
        f >>= 1
        s >>= 1
    if fr != first_root:
        raise ConsistencyError(
            f"the consistency proof from {first} to {second} gives the older root "
            f"{fr.hex()}, not the pinned {first_root.hex()}"
        )
    if sr != second_root:
        raise ConsistencyError(
            f"the consistency proof from {first} to {second} gives the newer root "
            f"{sr.hex()}, not the checkpoint's {second_root.hex()}"
        )
