"""What the SDK tests need to play the adversary: Ed25519 note signing (with a key of their own,
or the server's own key read from its data directory), RFC 6962 proofs made from leaves (to
test the verifiers offline), and a tampering HTTP proxy in front of the real server."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, List, Optional

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from modeltrail.checkpoint import key_id
from modeltrail.merkle import leaf_hash, node_hash, root_hash

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "testdata" / "rfc6962-vectors.json"


# -- signing notes ------------------------------------------------------------------------------


class NoteSigner:
    """An Ed25519 signer of C2SP notes under a key name."""

    def __init__(self, name: str, private: Optional[Ed25519PrivateKey] = None):
        self.name = name
        self.private = private or Ed25519PrivateKey.generate()
        self.public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(name, self.public)

    @classmethod
    def of_server(cls, data_dir: Path) -> "NoteSigner":
        """The server's own signing key, read from its data directory (as an insider could)."""
        text = (data_dir / "signing.key").read_text().strip()
        assert text.startswith("PRIVATE+KEY+")
        name, _, raw = text[len("PRIVATE+KEY+"):].split("+", 2)
        seed = base64.b64decode(raw)[1:]
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    def verifier_text(self) -> str:
        raw = bytes([1]) + self.public
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(raw).decode()}"

    def sign(self, text: str) -> str:
        signature = self.private.sign(text.encode())
        raw = self.key_id.to_bytes(4, "big") + signature
        return f"{text}\n\u2014 {self.name} {base64.b64encode(raw).decode()}\n"

    def checkpoint(self, size: int, root: bytes,
                   timestamp: str = "2026-01-01T00:00:00.000000Z",
                   origin: Optional[str] = None) -> str:
        body = (f"{origin or self.name}\n{size}\n{base64.b64encode(root).decode()}\n"
                f"timestamp {timestamp}\n")
        return self.sign(body)


# -- RFC 6962 proofs from leaves (section 2.1.1 and 2.1.2) ---------------------------------------


def _mth(hashes: List[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    if not hashes:
        return hashlib.sha256(b"").digest()
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def inclusion_proof(leaves: List[bytes], m: int) -> List[bytes]:
    hashes = [leaf_hash(x) for x in leaves]

    def path(m: int, d: List[bytes]) -> List[bytes]:
        if len(d) <= 1:
            return []
        k = 1 << ((len(d) - 1).bit_length() - 1)
        if m < k:
            return path(m, d[:k]) + [_mth(d[k:])]
        return path(m - k, d[k:]) + [_mth(d[:k])]

    return path(m, hashes)


def consistency_proof(leaves: List[bytes], m: int, n: int) -> List[bytes]:
    hashes = [leaf_hash(x) for x in leaves[:n]]

    def subproof(m: int, d: List[bytes], b: bool) -> List[bytes]:
        if m == len(d):
            return [] if b else [_mth(d)]
        k = 1 << ((len(d) - 1).bit_length() - 1)
        if m <= k:
            return subproof(m, d[:k], b) + [_mth(d[k:])]
        return subproof(m - k, d[k:], False) + [_mth(d[:k])]

    if m == 0 or m == n:
        return []
    return subproof(m, hashes, True)


def tree_root(leaves: List[bytes]) -> bytes:
    return root_hash(leaves)


# -- a tampering proxy ------------------------------------------------------------------------------

#: Given (method, path with query, status, body), returns the body to send on.
Alter = Callable[[str, str, int, bytes], bytes]


class TamperingProxy:
    """An HTTP proxy in front of the real server that passes everything through, except that
    `alter` may rewrite an answer's body. Stop it with `stop()`."""

    def __init__(self, upstream: str, alter: Alter):
        self.upstream = upstream.rstrip("/")
        self.alter = alter
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                request = urllib.request.Request(proxy.upstream + self.path, data=body,
                                                 method=self.command)
                for name, value in self.headers.items():
                    if name.lower() not in ("host", "content-length", "connection"):
                        request.add_header(name, value)
                try:
                    with urllib.request.urlopen(request, timeout=60) as r:
                        status, headers, payload = r.status, r.headers, r.read()
                except urllib.error.HTTPError as e:
                    status, headers, payload = e.code, e.headers, e.read()
                payload = proxy.alter(self.command, self.path, status, payload)
                self.send_response(status)
                self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _forward

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def flip_first_proof_hash(answer: bytes) -> bytes:
    """A proof answer with the first hash of `proof` changed in one bit."""
    value = json.loads(answer)
    if value.get("proof"):
        first = bytearray(bytes.fromhex(value["proof"][0]))
        first[0] ^= 1
        value["proof"][0] = first.hex()
    return json.dumps(value).encode()


def load_vectors() -> dict:
    return json.loads(VECTORS.read_text())
