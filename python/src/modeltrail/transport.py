"""HTTP to the server, on the standard library alone: JSON requests and answers, raw and
streamed bodies, multipart forms, the bearer token, and the server's error shape
(``{"error": {"code", "message", "field", "details"}}``) turned into typed exceptions.

The token is held in a private attribute and never appears in a repr, a log line or an
exception message.
"""

from __future__ import annotations

import json
import os
import ssl
import uuid
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import ApiError, TransportError, error_from_answer

__all__ = ["Transport", "Part", "USER_AGENT"]

try:
    from importlib.metadata import version as _version

    __version__ = _version("modeltrail")
except Exception:  # pragma: no cover - running from a source tree
    __version__ = "0"

USER_AGENT = f"modeltrail-python/{__version__}"

#: One part of a multipart form: (field name, file name or None, media type, bytes).
Part = Tuple[str, Optional[str], str, bytes]

Query = Mapping[str, Union[str, int, None]]


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays (and anything with ``tolist``/``item``) as plain JSON values."""
    for name in ("tolist", "item"):
        convert = getattr(value, name, None)
        if callable(convert):
            return convert()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class Transport:
    """Requests to one server, with one credential."""

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        *,
        timeout: float = 60.0,
        client_id: str = "modeltrail-python",
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"the server URL must be http(s)://host[:port], not {url!r}")
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.client_id = client_id
        self._ssl = ssl_context

    def __repr__(self) -> str:
        return f"Transport(url={self.url!r}, authenticated={self._token is not None})"

    @property
    def authenticated(self) -> bool:
        return self._token is not None

    def set_token(self, token: Optional[str]) -> None:
        self._token = token

    def endpoint(self, path: str, query: Optional[Query] = None) -> str:
        """The full URL of ``path`` (``/api/v1/...``) with ``query`` (None values left out)."""
        url = self.url + path
        if query:
            pairs = [(k, str(v)) for k, v in query.items() if v is not None]
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Query] = None,
        json_body: Any = None,
        body: Union[bytes, IO[bytes], None] = None,
        content_type: Optional[str] = None,
        content_length: Optional[int] = None,
        auth: bool = True,
        text: bool = False,
    ) -> Any:
        """Sends a request; returns the answer's JSON (or its text with ``text``). An error
        answer raises the fitting :class:`~modeltrail.errors.ApiError`."""
        headers: Dict[str, str] = {
            "User-Agent": USER_AGENT,
            "X-Client-Id": self.client_id,
            "Accept": "text/plain" if text else "application/json",
        }
        data: Union[bytes, IO[bytes], None] = None
        if json_body is not None:
            data = json.dumps(json_body, allow_nan=False, default=_json_default).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif body is not None:
            data = body
            headers["Content-Type"] = content_type or "application/octet-stream"
            if content_length is not None:
                headers["Content-Length"] = str(content_length)
        if auth:
            if self._token is None:
                raise TransportError("not logged in: give a token or use Client.login")
            headers["Authorization"] = f"Bearer {self._token}"
        url = self.endpoint(path, query)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as r:
                raw = r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            raise self._error(e.code, raw) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise TransportError(f"cannot reach the server at {self.url}: {reason}") from None
        if text:
            return raw.decode("utf-8")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise TransportError(
                f"{method} {path}: the server's answer ({status}) is not JSON"
            ) from None

    @staticmethod
    def _error(status: int, raw: bytes) -> ApiError:
        try:
            answer = json.loads(raw)
            error = answer["error"]
            code = str(error.get("code", "error"))
            message = str(error.get("message", ""))
            field = error.get("field")
            details = error.get("details")
        except (ValueError, KeyError, TypeError, AttributeError):
            code, message, field, details = "http_error", raw[:200].decode("utf-8", "replace"), None, None
        return error_from_answer(status, code, message, field, details)

    def upload_file(
        self,
        path: str,
        file_path: Union[str, "os.PathLike[str]"],
        *,
        query: Optional[Query] = None,
        content_type: str = "application/octet-stream",
    ) -> Any:
        """POSTs a file from disk as the body, streamed (never read whole into memory)."""
        size = os.path.getsize(file_path)
        with open(file_path, "rb") as f:
            return self.request(
                "POST",
                path,
                query=query,
                body=f,
                content_type=content_type,
                content_length=size,
            )

    def post_multipart(self, path: str, parts: Sequence[Part]) -> Any:
        """POSTs a ``multipart/form-data`` form of ``parts``."""
        boundary = f"modeltrail-{uuid.uuid4().hex}"
        chunks: List[bytes] = []
        for name, filename, media_type, content in parts:
            disposition = f'form-data; name="{name}"'
            if filename is not None:
                safe = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
                disposition += f'; filename="{safe}"'
            chunks.append(
                f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
                f"Content-Type: {media_type}\r\n\r\n".encode("utf-8")
            )
            chunks.append(content)
            chunks.append(b"\r\n")
        chunks.append(f"--{boundary}--\r\n".encode("utf-8"))
        body = b"".join(chunks)
        return self.request(
            "POST",
            path,
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
