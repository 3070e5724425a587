"""Runs the part of MLflow's own `tests/tracking/test_rest_tracking.py` that needs no MLflow
server internals against modeltrail, and prints how many of its tests pass.

The test file is not kept in this repository: it is read from the installed MLflow version's
source distribution when that ships its tests, else taken from `--tests FILE` (a copy of the
file at the MLflow version in use). It is rewritten on the fly into a temporary directory:
imports that cannot be satisfied without MLflow's server (Flask handlers, the SQLAlchemy
store, MLflow's own test utilities) are dropped together with every test and module-level
statement that uses what they would have bound, and the `mlflow_client` fixture is replaced by
one that starts a fresh modeltrail server (the real binary) per test and signs in as a
developer with HTTP Basic."""

import argparse
import ast
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_PATH = "tests/tracking/test_rest_tracking.py"

CONFTEST = '''
import importlib.util
import os
import pytest
from mlflow import MlflowClient
import mlflow


# modeltrail's own test server helper (tests/python/conftest.py).
_spec = importlib.util.spec_from_file_location("modeltrail_server", {helper!r})
_helper = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helper)
Server = _helper.Server


@pytest.fixture
def mlflow_client(tmp_path):
    server = Server("sqlite", tmp_path)
    password = server.person("dev", "developer")
    saved = dict(os.environ)
    os.environ["MLFLOW_TRACKING_USERNAME"] = "dev"
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    mlflow.set_tracking_uri(server.url)
    try:
        yield MlflowClient(server.url)
    finally:
        mlflow.set_tracking_uri(None)
        os.environ.clear()
        os.environ.update(saved)
        server.stop()
'''


# Helpers of MLflow's test utilities that need no server, provided here: a POST to the server
# with the test's credentials.
SHIMS = '''
import os
import requests


def _send_rest_tracking_post_request(tracking_server_uri, path, json):
    auth = (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"])
    return requests.post(tracking_server_uri + path, json=json, auth=auth, timeout=30)
'''
SHIMMED = {"_send_rest_tracking_post_request"}


def from_sdist(version: str, work: Path) -> str | None:
    """The test file from MLflow's source distribution, if it ships it."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
         f"mlflow=={version}", "-d", str(work)],
        check=True,
    )
    for archive in work.glob("mlflow-*.tar.gz"):
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if member.name.endswith("/" + TEST_PATH):
                    handle = tar.extractfile(member)
                    if handle is not None:
                        return handle.read().decode()
    return None


def bound_names(node: ast.AST) -> set[str]:
    names = set()
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            names.add((alias.asname or alias.name).split(".")[0])
    return names


def importable(node: ast.AST) -> bool:
    try:
        exec(compile(ast.Module(body=[node], type_ignores=[]), "<import>", "exec"), {})
        return True
    except Exception:
        return False


def used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.value.id for n in ast.walk(node)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
    }


def rewrite(source: str) -> tuple[str, list[str], list[str]]:
    """The test module without what needs MLflow's server; the tests kept and dropped."""
    tree = ast.parse(source)
    dropped_names: set[str] = set()
    body = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not importable(node):
            dropped_names |= bound_names(node) - SHIMMED
            continue
        body.append(node)
    shim = ast.parse("from modeltrail_shims import " + ", ".join(sorted(SHIMMED))).body
    body = shim + body
    # Our fixture replaces theirs; fixtures built on theirs go too.
    replaced = {"mlflow_client", "cli_env"}
    kept, dropped, final = [], [], []
    for node in body:
        name = getattr(node, "name", None)
        if name in replaced:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = {a.arg for a in node.args.args}
            if used_names(node) & dropped_names or ("cli_env" in args):
                if name.startswith("test_"):
                    dropped.append(name)
                else:
                    dropped_names.add(name)
                continue
            if name.startswith("test_"):
                kept.append(name)
        elif isinstance(node, ast.ClassDef):
            if used_names(node) & dropped_names:
                dropped_names.add(node.name)
                continue
        elif used_names(node) & dropped_names:
            for target in ast.walk(node):
                if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                    dropped_names.add(target.id)
            continue
        final.append(node)
    tree.body = final
    return ast.unparse(tree), kept, dropped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests", help="a copy of test_rest_tracking.py at the MLflow version in use")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    version = importlib.metadata.version("mlflow-skinny")
    work = Path(tempfile.mkdtemp(prefix="mlflow-conformance-"))
    try:
        if args.tests:
            source = Path(args.tests).read_text()
            origin = args.tests
        else:
            source = from_sdist(version, work)
            origin = f"the mlflow {version} source distribution"
            if source is None:
                print(f"mlflow {version}'s source distribution does not ship {TEST_PATH}; "
                      "pass a copy of it at that version with --tests FILE", file=sys.stderr)
                return 2
        module, kept, dropped = rewrite(source)
        suite = work / "suite"
        suite.mkdir()
        (suite / "test_rest_tracking.py").write_text(module)
        (suite / "modeltrail_shims.py").write_text(SHIMS)
        (suite / "conftest.py").write_text(
            CONFTEST.format(helper=str(ROOT / "tests" / "python" / "conftest.py")))
        print(f"{TEST_PATH} from {origin}: {len(kept)} tests kept, {len(dropped)} dropped "
              f"(they need MLflow's server internals or its CLI test runner)")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
             "addopts=", str(suite), *args.pytest_args],
            cwd=work,
        )
        return result.returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
