"""What the server answers, as typed objects: a record version (:class:`Record`), the receipt
every state change carries (:class:`Receipt`), an event of the log (:class:`Event`, which
knows its canonical bytes and leaf hash), release readiness (:class:`Readiness`) and the
outcome of a client-side inclusion check (:class:`InclusionProof`).

Each keeps the server's JSON in ``raw``, so fields this SDK does not name stay reachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .canonical import canonical_json
from .merkle import leaf_hash

__all__ = ["Receipt", "Record", "Event", "Readiness", "InclusionProof"]


@dataclass(frozen=True)
class Receipt:
    """What a state change appended: the events' sequence numbers and leaf hashes (hex), and
    the signed checkpoint (tree size and note) that includes them."""

    seq: List[int]
    leaf: List[str]
    tree_size: int
    checkpoint: str

    @classmethod
    def from_json(cls, raw: Dict[str, Any]) -> "Receipt":
        return cls(
            seq=[int(s) for s in raw.get("seq", [])],
            leaf=[str(h) for h in raw.get("leaf", [])],
            tree_size=int(raw.get("tree_size", 0)),
            checkpoint=str(raw.get("checkpoint", "")),
        )


@dataclass(frozen=True)
class Record:
    """One version of a record as the server shows it.

    Attributes:
        kind: the record type, such as ``model`` or ``dataset_version``.
        id: the record id.
        version: the version shown; ``latest_version`` is the newest.
        status: ``active`` or ``voided``.
        data: the version's content (with the fields the server computes).
        seq: the sequence number of the event that made this version.
        leaf: that event's leaf hash (hex).
        signatures: every signature on the record, each with ``applies_to_this_version`` and
            its ``manifestation`` (name, time, meaning).
        receipt: for an answer to a change, what it appended.
        raw: the server's JSON.
    """

    kind: str
    id: str
    version: int
    latest_version: int
    status: str
    data: Dict[str, Any]
    seq: int
    leaf: str
    signatures: List[Dict[str, Any]]
    receipt: Optional[Receipt]
    raw: Dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, raw: Dict[str, Any]) -> "Record":
        receipt = raw.get("receipt")
        return cls(
            kind=str(raw.get("type", "")),
            id=str(raw.get("id", "")),
            version=int(raw.get("version", 0)),
            latest_version=int(raw.get("latest_version", raw.get("version", 0))),
            status=str(raw.get("status", "")),
            data=raw.get("data") or {},
            seq=int(raw.get("seq", -1)),
            leaf=str(raw.get("leaf", "")),
            signatures=list(raw.get("signatures") or []),
            receipt=Receipt.from_json(receipt) if isinstance(receipt, dict) else None,
            raw=raw,
        )

    @property
    def workflow_state(self) -> Optional[str]:
        """The workflow state of a change request, exception or CAPA."""
        state = self.raw.get("workflow_state")
        return state if isinstance(state, str) else None

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]


#: The fields of an event, in the server's form; anything else (``leaf``) is not hashed.
EVENT_FIELDS = (
    "seq",
    "timestamp",
    "actor",
    "client",
    "action",
    "record",
    "prev",
    "reason",
    "target",
    "payload",
)


@dataclass(frozen=True)
class Event:
    """One event of the log, as ``GET /api/v1/events`` returns it.

    Its leaf in the Merkle tree is SHA-256(0x00 || canonical JSON of the event);
    :meth:`leaf_hash` recomputes it from the content here, never trusting :attr:`claimed_leaf`.
    """

    seq: int
    timestamp: str
    actor: Dict[str, Any]
    client: Dict[str, Any]
    action: str
    payload: Any
    record: Optional[Dict[str, Any]] = None
    prev: Optional[str] = None
    reason: Optional[str] = None
    target: Optional[str] = None
    #: the leaf hash the server sent beside the event (hex), if any.
    claimed_leaf: Optional[str] = None

    @classmethod
    def from_json(cls, raw: Dict[str, Any]) -> "Event":
        return cls(
            seq=int(raw["seq"]),
            timestamp=str(raw["timestamp"]),
            actor=dict(raw["actor"]),
            client=dict(raw.get("client") or {}),
            action=str(raw["action"]),
            payload=raw.get("payload"),
            record=raw.get("record"),
            prev=raw.get("prev"),
            reason=raw.get("reason"),
            target=raw.get("target"),
            claimed_leaf=raw.get("leaf"),
        )

    def to_json(self) -> Dict[str, Any]:
        """The event as the log holds it (optional fields only when present)."""
        out: Dict[str, Any] = {
            "seq": self.seq,
            "timestamp": self.timestamp,
            "actor": self.actor,
            "client": self.client,
            "action": self.action,
            "payload": self.payload,
        }
        for name in ("record", "prev", "reason", "target"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def canonical_bytes(self) -> bytes:
        """The event's RFC 8785 bytes: exactly the log's leaf entry."""
        return canonical_json(self.to_json())

    def leaf_hash(self) -> bytes:
        """SHA-256(0x00 || canonical bytes), computed here."""
        return leaf_hash(self.canonical_bytes())


@dataclass(frozen=True)
class Readiness:
    """A model version's release readiness: its lifecycle ``status`` (derived from the log),
    whether it is ``ready`` for production, and every gate condition, met or not."""

    model_version: str
    status: str
    ready: bool
    conditions: List[Dict[str, Any]]
    raw: Dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, model_version: str, raw: Dict[str, Any]) -> "Readiness":
        return cls(
            model_version=model_version,
            status=str(raw.get("status", "")),
            ready=bool(raw.get("ready", False)),
            conditions=list(raw.get("conditions") or []),
            raw=raw,
        )

    @property
    def unmet(self) -> List[Dict[str, Any]]:
        """The conditions not met, each naming what is missing."""
        return [c for c in self.conditions if not c.get("met")]


@dataclass(frozen=True)
class InclusionProof:
    """A verified inclusion: leaf ``leaf`` (hex) is event ``seq`` of the tree that
    ``checkpoint`` (signed by the log's key, consistent with the pin) commits to.

    ``content_checked`` says whether the event's own bytes were hashed here (an :class:`Event`
    given, or read back from the log), so that its content, not just its leaf hash, is proven.
    """

    seq: int
    leaf: str
    tree_size: int
    root: str
    proof: List[str]
    content_checked: bool
