"""modeltrail: the Python SDK of the modeltrail audit trail for ML models in GxP work.

A :class:`Client` logs in (or takes an API token), writes and reads the lifecycle records,
signs them (asking for the password on the terminal), registers datasets hashed locally,
uploads monitoring data from pandas or numpy, and verifies what it writes and reads against
the log: checkpoints signed by the log's Ed25519 key, each new one proven consistent with the
one pinned before (RFC 6962), and each event proven included.

    >>> from modeltrail import Client
    >>> client = Client.login("http://127.0.0.1:8080", "dana")      # asks for the password
    >>> model = client.create_record("model", {...}, id="credit-risk-model")
    >>> client.verify_inclusion(model)
    InclusionProof(seq=..., ...)

The modules: :mod:`~modeltrail.client` (the API), :mod:`~modeltrail.errors`,
:mod:`~modeltrail.records` (answers as objects), :mod:`~modeltrail.canonical` (RFC 8785),
:mod:`~modeltrail.merkle` (RFC 6962 proofs), :mod:`~modeltrail.checkpoint` (signed notes),
:mod:`~modeltrail.verifier` (the pin), :mod:`~modeltrail.datasets` (local hashing),
:mod:`~modeltrail.monitoring` (columns from pandas and numpy), :mod:`~modeltrail.transport`
(HTTP).
"""

from .checkpoint import Checkpoint, VerifierKey, open_checkpoint
from .client import MEANINGS, Client
from .errors import (
    ApiError,
    AuthenticationError,
    CanonicalJsonError,
    CheckpointError,
    ConflictError,
    ConsistencyError,
    InvalidRequestError,
    ModeltrailError,
    NotFoundError,
    PasswordRequiredError,
    PermissionDeniedError,
    ProofError,
    ReleaseRefusedError,
    ServerError,
    TransportError,
    VerificationError,
)
from .decisions import DecisionLogger, DecisionQueueFull, decision_record, input_digest
from .records import Event, InclusionProof, Readiness, Receipt, Record
from .verifier import LogVerifier

__all__ = [
    "Client",
    "DecisionLogger",
    "DecisionQueueFull",
    "decision_record",
    "input_digest",
    "MEANINGS",
    "Record",
    "Receipt",
    "Event",
    "Readiness",
    "InclusionProof",
    "Checkpoint",
    "VerifierKey",
    "open_checkpoint",
    "LogVerifier",
    "ModeltrailError",
    "TransportError",
    "ApiError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "ReleaseRefusedError",
    "InvalidRequestError",
    "ServerError",
    "VerificationError",
    "CheckpointError",
    "ProofError",
    "ConsistencyError",
    "CanonicalJsonError",
    "PasswordRequiredError",
]

__version__ = "0.1.0"
