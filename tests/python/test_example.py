"""The example (`examples/train_and_release.py`) run end to end against the real server, as a
new user would run it: with a QA user it is released through the gate; without one the gate
lists what QA still has to approve. Then `modeltrail verify` checks the whole log offline."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modeltrail import Client

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_and_release.py"


@pytest.fixture(scope="module")
def users(server):
    return {"dev": server.person("ex-dev", "developer"), "qa": server.person("ex-qa", "qa")}


def run_example(server, users, tmp_path, suffix, with_qa):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELTRAIL_"))}
    env.update(MODELTRAIL_URL=server.url, MODELTRAIL_USER="ex-dev",
               MODELTRAIL_PASSWORD=users["dev"])
    if with_qa:
        env.update(MODELTRAIL_QA_USER="ex-qa", MODELTRAIL_QA_PASSWORD=users["qa"])
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--suffix", suffix, "--workdir", str(tmp_path / suffix),
         "--pin-file", str(tmp_path / "pin.json")],
        env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_the_example_is_released_through_the_gate(server, users, tmp_path):
    out = run_example(server, users, tmp_path, "with-qa", with_qa=True)
    assert out.rstrip().splitlines()[-1] == "RELEASED", out
    assert "UNMET" not in out, out
    client = Client.login(server.url, "ex-qa", users["qa"])
    name = "breast-cancer-with-qa"
    readiness = client.release_readiness(f"mlflow:{name}:v1")
    assert readiness.status == "released" and readiness.ready, readiness
    version = client.get_record("model_version", f"mlflow:{name}:v1")
    assert version.data["lineage"]["dataset_versions"] == ["bc-train-with-qa"]
    assert client.get_record("validation_result", "bc-vr-with-qa").data["passed"] is True
    assert client.get_record("fairness_assessment", "bc-fa-with-qa").data["passed"] is True
    assert client.get_record("explanation", "bc-ex-with-qa").data["global_importance"]
    deployments = [e for e in client.iter_events(action="record.create", record_type="deployment")
                   if e.payload.get("model_version") == f"mlflow:{name}:v1"]
    assert [d.payload["environment"] for d in deployments] == ["production"]
    assert client.verify_inclusion(deployments[0]).content_checked


def test_without_qa_the_gate_names_what_is_missing(server, users, tmp_path):
    out = run_example(server, users, tmp_path, "no-qa", with_qa=False)
    assert out.rstrip().endswith("NOT RELEASED (see the unmet conditions above)"), out
    for code in ("intended_use_approved", "datasets_ready", "qa_release_signature",
                 "monitoring_plan_approved"):
        assert f"[UNMET] {code}" in out, out


def test_the_log_verifies_offline_after_the_example(server, users):
    server.stop()
    result = server.verify()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK"), result.stdout
