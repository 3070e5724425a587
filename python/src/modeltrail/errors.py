"""The SDK's exceptions: what the server refused (with its error code and message), what could
not be reached, and what the server could not prove.

Every exception derives from :class:`ModeltrailError`. Errors the server answered carry its
stable ``code`` (``invalid``, ``stale_version``, ``release_refused`` ...), its ``message``, the
``field`` at fault and structured ``details`` when it sent them. Client-side verification
failures derive from :class:`VerificationError`.

No exception ever holds a password or a token: messages are built from the server's answer
(which never carries a secret) and from what the SDK checked.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type

__all__ = [
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


class ModeltrailError(Exception):
    """Base class of every error the SDK raises."""


class TransportError(ModeltrailError):
    """The server could not be reached, or answered with something that is not its API."""


class ApiError(ModeltrailError):
    """The server refused a request.

    Attributes:
        status: the HTTP status.
        code: the server's stable error code, such as ``invalid`` or ``stale_version``.
        message: the server's explanation, for people.
        field: the request field at fault (a JSON path), when the server named one.
        details: structured detail, such as a refused release's ``unmet`` conditions.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: Optional[str] = None,
        details: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        text = f"{status} {code}: {message}"
        if field:
            text += f" (field {field})"
        super().__init__(text)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, field={self.field!r})"
        )


class AuthenticationError(ApiError):
    """Who you are could not be established: wrong user id or password (at login or at a
    signature), an invalid or expired token, or a locked account."""


class PermissionDeniedError(ApiError):
    """Authenticated, but the role may not do this (403), or a rule of the server forbids it,
    such as segregation of duties."""


class NotFoundError(ApiError):
    """No such record, record type, version or endpoint (404)."""


class ConflictError(ApiError):
    """The request conflicts with the log's state (409): a stale version, a voided record, an
    illegal workflow step, a protocol not yet approved..."""

    @property
    def unmet(self) -> List[Dict[str, Any]]:
        """Unmet conditions, where the server lists them (a refused release or workflow step:
        ``details.unmet``, each naming the record or signature missing); else empty."""
        if isinstance(self.details, dict):
            unmet = self.details.get("unmet")
            if isinstance(unmet, list):
                return unmet
        return []


class ReleaseRefusedError(ConflictError):
    """The release gate refused production; :attr:`unmet` lists every unmet condition."""


class InvalidRequestError(ApiError):
    """The request was malformed or did not meet the schema (400, 413, 422); ``field`` names
    what is wrong when the server could."""


class ServerError(ApiError):
    """The server failed (5xx); the log is unchanged unless a sequence number was returned."""


class VerificationError(ModeltrailError):
    """The server could not prove what it claims: the base of every client-side check."""


class CheckpointError(VerificationError):
    """A signed checkpoint is malformed, is not signed by the log's key, or names another log."""


class ProofError(VerificationError):
    """An inclusion or consistency proof does not verify, or an event's bytes are not the leaf
    the log holds."""


class ConsistencyError(ProofError):
    """A new checkpoint is not an extension of the pinned one: the log was rewritten, cut back,
    or shown differently to someone else."""


class CanonicalJsonError(ModeltrailError, ValueError):
    """A value has no RFC 8785 canonical form (NaN, an integer beyond 2^53, a lone surrogate)."""


class PasswordRequiredError(ModeltrailError):
    """A signature needs the signer's password and none was given (and there is no terminal to
    ask on)."""


def error_from_answer(
    status: int, code: str, message: str, field: Optional[str], details: Optional[Dict[str, Any]]
) -> ApiError:
    """The exception class that fits a server's error answer."""
    cls: Type[ApiError] = ApiError
    if status == 401 or code in ("wrong_password", "account_locked", "invalid_credentials"):
        cls = AuthenticationError
    elif status == 403:
        cls = PermissionDeniedError
    elif status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ReleaseRefusedError if code == "release_refused" else ConflictError
    elif status in (400, 413, 415, 422):
        cls = InvalidRequestError
    elif status >= 500:
        cls = ServerError
    return cls(status, code, message, field, details)
