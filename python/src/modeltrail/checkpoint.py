"""The log's signed checkpoints: C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and
the tlog checkpoint text inside them (c2sp.org/tlog-checkpoint) with modeltrail's one
``timestamp`` extension line.

A checkpoint note reads::

    <origin>
    <tree size>
    <base64 root hash>
    timestamp <YYYY-MM-DDTHH:MM:SS.ffffffZ>

    — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>

The log's verifier key is ``<name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>``, as
``GET /api/v1/log/public-key`` serves it; the key id is the first four bytes of
SHA-256(name || 0x0A || 0x01 || public key). :func:`open_checkpoint` reads a note strictly,
checks the signature by that key and that the origin is the key's name, and returns the
:class:`Checkpoint`; anything else is a :class:`~modeltrail.errors.CheckpointError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import List, Optional, Tuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import CheckpointError

__all__ = ["VerifierKey", "Checkpoint", "open_checkpoint", "parse_checkpoint_body", "key_id"]

_ED25519 = 0x01
_SIG_PREFIX = "\u2014 "
_MAX_NOTE_LEN = 1 << 20
_MAX_SIGNATURES = 100
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def _b64decode(text: str) -> bytes:
    # Standard alphabet with padding, nothing else (as the server's base64 engine reads it).
    if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text) or len(text) % 4:
        raise ValueError("not standard padded base64")
    return base64.b64decode(text, validate=True)


def _check_key_name(name: str) -> Optional[str]:
    if not name:
        return "a key name must not be empty"
    if any(c.isspace() for c in name):
        return "a key name must not contain white space"
    if "+" in name:
        return "a key name must not contain '+'"
    if any(ord(c) < 0x20 for c in name):
        return "a key name must not contain control characters"
    return None


def key_id(name: str, public_key: bytes) -> int:
    """The key id of an Ed25519 key: the first 4 bytes, big-endian, of
    SHA-256(name || 0x0A || 0x01 || public key)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([_ED25519]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


@dataclass(frozen=True)
class VerifierKey:
    """The log's public key: its name (the log's origin), key id and Ed25519 public key."""

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_text(cls, text: str) -> "VerifierKey":
        """Reads ``<name>+<8 hex key id>+<base64(0x01 || public key)>``, checking the key id."""
        text = text.strip()
        parts = text.split("+", 2)  # the base64 key may hold '+' itself
        if len(parts) != 3:
            raise CheckpointError(
                f"malformed verifier key {text[:80]!r}: expected <name>+<key id>+<key>"
            )
        name, id_text, key_text = parts
        problem = _check_key_name(name)
        if problem:
            raise CheckpointError(f"malformed verifier key: {problem}")
        if not re.fullmatch(r"[0-9a-f]{8}", id_text):
            raise CheckpointError("malformed verifier key: the key id must be 8 lowercase hex digits")
        try:
            raw = _b64decode(key_text)
        except (ValueError, binascii.Error):
            raise CheckpointError("malformed verifier key: the key is not valid base64") from None
        if len(raw) != 33 or raw[0] != _ED25519:
            raise CheckpointError(
                "malformed verifier key: expected the type byte 0x01 and a 32-byte Ed25519 key"
            )
        public = raw[1:]
        try:
            Ed25519PublicKey.from_public_bytes(public)
        except ValueError:
            raise CheckpointError("malformed verifier key: not an Ed25519 public key") from None
        expected = key_id(name, public)
        if int(id_text, 16) != expected:
            raise CheckpointError(
                f"verifier key id {id_text} is not the id of its key, {expected:08x}"
            )
        return cls(name=name, key_id=expected, public_key=public)

    def to_text(self) -> str:
        """``<name>+<8 hex key id>+<base64(0x01 || public key)>``."""
        raw = bytes([_ED25519]) + self.public_key
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(raw).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True)
class Checkpoint:
    """A verified tree head of the log.

    Attributes:
        origin: the log's identity (its key's name).
        size: the number of events in the tree.
        root: the RFC 6962 root hash (32 bytes).
        timestamp: when the server made it, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
        text: the signed note, byte for byte, as the server sent it.
    """

    origin: str
    size: int
    root: bytes
    timestamp: str
    text: str

    @property
    def root_hex(self) -> str:
        """The root hash in lower-case hex."""
        return self.root.hex()

    @property
    def time(self) -> datetime:
        """:attr:`timestamp` as an aware UTC datetime."""
        return datetime.strptime(self.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=timezone.utc
        )

    def __repr__(self) -> str:
        return (
            f"Checkpoint(origin={self.origin!r}, size={self.size}, root={self.root_hex}, "
            f"timestamp={self.timestamp!r})"
        )


def parse_checkpoint_body(body: str) -> Tuple[str, int, bytes, str]:
    """Reads the checkpoint text (without signatures): origin, size, root and timestamp, each
    line in the one form the server writes. Raises :class:`CheckpointError` naming the line."""

    def malformed(line: int, problem: str) -> CheckpointError:
        return CheckpointError(f"malformed checkpoint, line {line}: {problem}")

    if not body.endswith("\n"):
        raise malformed(body.count("\n") + 1, "the checkpoint text does not end in a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 4:
        what = ["origin", "tree size", "root hash", "timestamp"][len(lines)]
        raise malformed(len(lines) + 1, f"missing {what} line")
    if len(lines) > 4:
        raise malformed(5, "unexpected line after the timestamp line")
    origin, size_text, root_text, time_line = lines
    problem = _check_key_name(origin)
    if problem:
        raise malformed(1, f"origin {origin[:64]!r}: {problem}")
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text) or len(size_text) > 20:
        raise malformed(2, f"tree size {size_text[:64]!r} is not a decimal number")
    size = int(size_text)
    if size >= 1 << 64:
        raise malformed(2, "tree size does not fit in 64 bits")
    try:
        root = _b64decode(root_text)
    except (ValueError, binascii.Error):
        raise malformed(3, f"root hash {root_text[:64]!r} is not base64") from None
    if len(root) != 32 or base64.b64encode(root).decode() != root_text:
        raise malformed(3, "the root hash is not 32 bytes in canonical base64")
    if not time_line.startswith("timestamp "):
        raise malformed(4, "expected the extension line `timestamp YYYY-MM-DDTHH:MM:SS.ffffffZ`")
    timestamp = time_line[len("timestamp "):]
    if not _TIMESTAMP.match(timestamp):
        raise malformed(4, f"timestamp {timestamp[:64]!r} is not in canonical form")
    try:
        datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        raise malformed(4, f"timestamp {timestamp!r} is not a time") from None
    return origin, size, root, timestamp


def _open_note(note: str, key: VerifierKey) -> str:
    """Checks a signed note's signature by ``key``; returns the signed text."""
    if len(note.encode("utf-8")) > _MAX_NOTE_LEN:
        raise CheckpointError("the note is larger than 1 MiB")
    for i, line in enumerate(note.split("\n")):
        bad = next((c for c in line if ord(c) < 0x20), None)
        if bad is not None:
            raise CheckpointError(
                f"malformed note, line {i + 1}: control character U+{ord(bad):04X}"
            )
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("malformed note: no blank line followed by signature lines")
    text, block = note[: split + 1], note[split + 2:]
    first_line = text.count("\n") + 2
    if not block:
        raise CheckpointError("malformed note: no blank line followed by signature lines")
    if not block.endswith("\n"):
        raise CheckpointError("malformed note: the last signature line does not end in a newline")
    signatures: List[Tuple[int, str, int, bytes]] = []
    for i, line in enumerate(block[:-1].split("\n")):
        number = first_line + i
        if i == _MAX_SIGNATURES:
            raise CheckpointError(f"malformed note, line {number}: too many signature lines")
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError(
                f"malformed note, line {number}: a signature line starts with an em dash "
                "(U+2014) and a space"
            )
        name, sep, b64 = line[len(_SIG_PREFIX):].partition(" ")
        problem = _check_key_name(name) if sep else "no space between key name and signature"
        if problem:
            raise CheckpointError(f"malformed note, line {number}: {problem}")
        try:
            raw = _b64decode(b64)
        except (ValueError, binascii.Error):
            raise CheckpointError(
                f"malformed note, line {number}: the signature is not base64"
            ) from None
        if len(raw) < 5:
            raise CheckpointError(f"malformed note, line {number}: the signature is too short")
        signatures.append((number, name, int.from_bytes(raw[:4], "big"), raw[4:]))
    verified = False
    message = text.encode("utf-8")
    for number, name, kid, signature in signatures:
        if name != key.name or kid != key.key_id:
            continue
        if len(signature) != 64 or not key.verify(message, signature):
            raise CheckpointError(
                f"the signature by {name}+{kid:08x} on line {number} does not verify: the "
                "checkpoint was altered or not signed by the log's key"
            )
        verified = True
    if not verified:
        raise CheckpointError(
            f"the checkpoint carries no signature by the log's key {key.name}+{key.key_id:08x}"
        )
    return text


def open_checkpoint(note: str, key: VerifierKey) -> Checkpoint:
    """Verifies a signed checkpoint note with ``key`` (signatures by other keys are ignored),
    reads its checkpoint and checks that the origin is the key's name."""
    if not isinstance(note, str):
        raise CheckpointError("a checkpoint note is text")
    body = _open_note(note, key)
    origin, size, root, timestamp = parse_checkpoint_body(body)
    if origin != key.name:
        raise CheckpointError(
            f"the checkpoint's origin {origin!r} is not the log key's name {key.name!r}"
        )
    return Checkpoint(origin=origin, size=size, root=root, timestamp=timestamp, text=note)
