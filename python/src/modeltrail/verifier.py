"""The client's trust in the log: the log's public key and the last checkpoint verified (the
pin), optionally kept in a file, and the rule that the pin only ever moves to a checkpoint the
server proves consistent with it.

:class:`LogVerifier` does no HTTP itself: the client hands it the signed notes it received and
a function that fetches consistency proofs, so every rule is here, in one place:

* a checkpoint counts only when signed by the log's key, with the key's name as its origin;
* a newer checkpoint moves the pin only after a consistency proof from the pin verifies;
* an older checkpoint (a receipt written before the pin moved) must be proven a prefix of the
  pin;
* the same size with another root is a fork: :class:`~modeltrail.errors.ConsistencyError`;
* a pin file is re-verified with its own key when read, so an edited pin is noticed.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Union

from .checkpoint import Checkpoint, VerifierKey, open_checkpoint
from .errors import CheckpointError, ConsistencyError
from .merkle import verify_consistency, verify_inclusion

__all__ = ["LogVerifier", "ConsistencyFetcher"]

#: Fetches the consistency proof between two tree sizes (older, newer): the proof hashes.
ConsistencyFetcher = Callable[[int, int], Sequence[bytes]]


class LogVerifier:
    """The log key and the pinned checkpoint of one server.

    Args:
        public_key: the log's verifier key (text or :class:`VerifierKey`), when known from
            elsewhere (the server's ``verifier.key``); otherwise the first one seen is trusted
            (trust on first use) and then never changes.
        pin_file: where to keep the key and the pin between runs (JSON); read if it exists.
        server: the server's URL, recorded in the pin file.
    """

    def __init__(
        self,
        public_key: Union[str, VerifierKey, None] = None,
        pin_file: Union[str, "os.PathLike[str]", None] = None,
        server: Optional[str] = None,
    ) -> None:
        self._lock = threading.RLock()
        self._key: Optional[VerifierKey] = (
            VerifierKey.from_text(public_key) if isinstance(public_key, str) else public_key
        )
        self._pinned: Optional[Checkpoint] = None
        self.pin_file = Path(pin_file) if pin_file is not None else None
        self.server = server
        if self.pin_file is not None and self.pin_file.exists():
            self._load()

    @property
    def key(self) -> Optional[VerifierKey]:
        """The log's key, once known."""
        return self._key

    @property
    def pinned(self) -> Optional[Checkpoint]:
        """The last checkpoint verified, or None before the first."""
        return self._pinned

    def trust_key(self, key: Union[str, VerifierKey]) -> VerifierKey:
        """Sets the key on first use; afterwards a different key is refused."""
        given = VerifierKey.from_text(key) if isinstance(key, str) else key
        with self._lock:
            if self._key is None:
                self._key = given
            elif self._key != given:
                raise CheckpointError(
                    f"the server's log key {given.to_text()} is not the pinned one "
                    f"{self._key.to_text()}: a log's key does not change, so this is another "
                    "log, or someone else's"
                )
            return self._key

    def open(self, note: str) -> Checkpoint:
        """Verifies a signed checkpoint note with the log's key (which must be known)."""
        if self._key is None:
            raise CheckpointError("the log's key is not known yet")
        return open_checkpoint(note, self._key)

    def advance(self, checkpoint: Checkpoint, consistency: ConsistencyFetcher) -> Checkpoint:
        """Accepts a verified checkpoint: proves it consistent with the pin (fetching the proof
        with ``consistency``) and moves the pin when it is newer. Returns the pin."""
        with self._lock:
            pin = self._pinned
            if pin is None:
                self._pin(checkpoint)
                return checkpoint
            if checkpoint.origin != pin.origin:
                raise CheckpointError(
                    f"the checkpoint is of log {checkpoint.origin!r}, the pin of {pin.origin!r}"
                )
            if checkpoint.size == pin.size:
                if checkpoint.root != pin.root:
                    raise ConsistencyError(
                        f"two checkpoints of size {pin.size} with different roots (pinned "
                        f"{pin.root_hex}, now {checkpoint.root_hex}): the log was rewritten or "
                        "forked"
                    )
                return pin
            older, newer = (pin, checkpoint) if checkpoint.size > pin.size else (checkpoint, pin)
            if older.size > 0:
                proof = list(consistency(older.size, newer.size))
                verify_consistency(older.size, newer.size, proof, older.root, newer.root)
            if newer is checkpoint:
                self._pin(checkpoint)
            return self._pinned  # type: ignore[return-value]

    def check_inclusion(
        self, leaf: bytes, index: int, checkpoint: Checkpoint, proof: Sequence[bytes]
    ) -> None:
        """Checks that ``leaf`` is leaf ``index`` of the tree ``checkpoint`` commits to."""
        verify_inclusion(leaf, index, checkpoint.size, list(proof), checkpoint.root)

    def reset(self) -> None:
        """Forgets the pin (not the key): the next checkpoint is trusted as the first was."""
        with self._lock:
            self._pinned = None
            if self.pin_file is not None and self.pin_file.exists():
                self.pin_file.unlink()

    # -- the pin file ----------------------------------------------------------------------

    def _pin(self, checkpoint: Checkpoint) -> None:
        self._pinned = checkpoint
        if self.pin_file is not None and self._key is not None:
            self._save()

    def _save(self) -> None:
        assert self.pin_file is not None and self._key is not None and self._pinned is not None
        record = {
            "server": self.server,
            "public_key": self._key.to_text(),
            "checkpoint": self._pinned.text,
            "pinned_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        self.pin_file.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=str(self.pin_file.parent), prefix=".pin-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, self.pin_file)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise

    def _load(self) -> None:
        assert self.pin_file is not None
        try:
            record = json.loads(self.pin_file.read_text(encoding="utf-8"))
            key_text = record["public_key"]
            note = record["checkpoint"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"the pin file {self.pin_file} cannot be read: {e}") from None
        pinned_key = VerifierKey.from_text(key_text)
        if self._key is not None and self._key != pinned_key:
            raise CheckpointError(
                f"the pin file {self.pin_file} holds the log key {pinned_key.to_text()}, not "
                f"the one given, {self._key.to_text()}"
            )
        try:
            checkpoint = open_checkpoint(note, pinned_key)
        except CheckpointError as e:
            raise CheckpointError(
                f"the pinned checkpoint in {self.pin_file} does not verify with the pinned key "
                f"(the file was altered): {e}"
            ) from None
        self._key = pinned_key
        self._pinned = checkpoint

    def describe(self) -> List[str]:
        """Lines saying what is trusted, for people."""
        lines = [f"log key: {self._key.to_text() if self._key else '(not yet known)'}"]
        if self._pinned is not None:
            p = self._pinned
            lines.append(f"pinned: size {p.size}, root {p.root_hex}, at {p.timestamp}")
        return lines
