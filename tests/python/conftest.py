"""A real modeltrail server (the release or debug binary) on a loopback port, over SQLite or
PostgreSQL, with users made through modeltrail's own REST API."""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "admin-password-for-python-tests"
PG_URL = os.environ.get("MODELTRAIL_TEST_PG", "postgres://postgres@127.0.0.1:5432/test")


def binary() -> Path:
    if os.environ.get("MODELTRAIL_BIN"):
        return Path(os.environ["MODELTRAIL_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    built = [p for p in (target / "release" / "modeltrail", target / "debug" / "modeltrail")
             if p.exists()]
    if built:
        return max(built, key=lambda p: p.stat().st_mtime)
    raise RuntimeError(f"no modeltrail binary under {target}: build it first (cargo build)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One running server and a small JSON client for modeltrail's own API."""

    def __init__(self, backend: str, tmp: Path):
        self.backend = backend
        self.data_dir = tmp / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = None
        self.schema = None
        if backend == "postgres":
            self.schema = f"py_{uuid.uuid4().hex[:12]}"
            subprocess.run(
                ["psql", PG_URL, "-q", "-c", f"CREATE SCHEMA {self.schema}"],
                check=True,
                capture_output=True,
            )
            self.database = f"{PG_URL}?options=-csearch_path%3D{self.schema}"
        self.log = open(tmp / "server.log", "wb")
        env = dict(os.environ, MODELTRAIL_ADMIN_PASSWORD=ADMIN_PASSWORD, RUST_LOG="warn")
        command = [str(binary()), "serve", "--data-dir", str(self.data_dir),
                   "--listen", f"127.0.0.1:{self.port}"]
        if self.database:
            command += ["--database", self.database]
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the server did not start: {(tmp / 'server.log').read_text()}")
                time.sleep(0.1)
        self.admin = self.login("admin", ADMIN_PASSWORD)

    def call(self, method: str, path: str, token: str | None = None, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def login(self, user: str, password: str) -> str:
        status, answer = self.call("POST", "/api/v1/auth/login", None,
                                   {"username": user, "password": password})
        assert status == 200, answer
        return answer["token"]

    def person(self, user: str, role: str) -> str:
        """A person with their own password (changed at the first login); returns it."""
        first = f"first-{user}-Pw-123456"
        status, answer = self.call("POST", "/api/v1/users", self.admin,
                                   {"id": user, "name": user.title(), "role": role,
                                    "password": first})
        assert status == 201, answer
        session = self.login(user, first)
        password = f"{user}-Correct-Horse-42"
        status, answer = self.call("POST", "/api/v1/auth/password", session,
                                   {"current_password": first, "new_password": password})
        assert status == 200, answer
        return password

    def service_token(self, user: str, role: str) -> str:
        status, answer = self.call("POST", "/api/v1/users", self.admin,
                                   {"id": user, "name": user, "role": role, "kind": "service"})
        assert status == 201, answer
        status, answer = self.call("POST", f"/api/v1/users/{user}/tokens", self.admin,
                                   {"label": "mlflow"})
        assert status in (200, 201), answer
        return answer["token"]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.log.close()

    def verify(self) -> subprocess.CompletedProcess:
        command = [str(binary()), "verify", str(self.data_dir)]
        if self.database:
            command += ["--database", self.database]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    def drop(self):
        if self.schema:
            subprocess.run(["psql", PG_URL, "-q", "-c", f"DROP SCHEMA {self.schema} CASCADE"],
                           capture_output=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    if request.param == "postgres" and shutil.which("psql") is None:
        raise RuntimeError("psql is needed to prepare the PostgreSQL schema")
    s = Server(request.param, tmp_path_factory.mktemp(request.param))
    yield s
    s.stop()
    s.drop()
