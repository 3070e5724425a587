"""Decision records through the Python SDK against the real server (SQLite and PostgreSQL): the
background logger (bounded queue, batches, flush, close at exit), proofs by request id verified
client-side (and a tampered proof refused), a refused batch kept with its records, and a
signed review from the queue."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import pytest

from modeltrail import (
    Client,
    DecisionQueueFull,
    InvalidRequestError,
    ProofError,
    decision_record,
    input_digest,
)
from sdk_helpers import TamperingProxy, flip_first_proof_hash


@pytest.fixture(scope="module")
def serving(server):
    """A deployed model version and a service account serving it; a QA reviewer."""
    dev_password = server.person("dec-dev", "developer")
    qa_password = server.person("dec-qa", "qa")
    token = server.service_token("dec-serving", "developer")
    dev = Client.login(server.url, "dec-dev", dev_password)
    dev.create_record("model", {
        "name": "tablet-anomaly", "owner": "dec-dev",
        "intended_use": "Flags anomalous tablet batches for QA review.",
        "context_of_use": "Advisory.", "gamp_category": 5,
        "risk": {"model_influence": "low", "decision_consequence": "low"}}, id="dec-m")
    dev.create_record("model_version", {
        "model": "dec-m", "version": "1",
        "artifacts": [{"path": "model.pkl", "sha256": "c" * 64}]}, id="dec-mv")
    dev.deploy("dec-mv", environment="staging", target="line-3",
               decisions={"confidence_threshold": 0.6})
    return {"token": token, "qa": Client.login(server.url, "dec-qa", qa_password),
            "qa_password": qa_password}


def test_the_digest_is_the_servers(server, serving):
    value = {"b": [1.0, 2.5], "a": "x"}
    assert input_digest(value) == hashlib.sha256(b'{"a":"x","b":[1,2.5]}').hexdigest()
    record = decision_record(request_id="r", model_version="m", environment="staging",
                             output=1, confidence=0.5, input=value)
    assert record["input_digest"] == input_digest(value) and "input" not in record


def test_logger_sends_in_batches_and_each_decision_proves_included(server, serving):
    service = Client(server.url, token=serving["token"])
    with service.decision_logger(batch_size=250, max_queue=1000, flush_interval=0.2) as logger:
        for i in range(1000):
            logger.log(request_id=f"py-{i}", model_version="dec-mv", environment="staging",
                       input={"i": i, "weight_mg": 250 + i % 7}, output={"label": "pass"},
                       confidence=0.3 if i % 4 == 0 else 0.9,
                       attributions={"weight_mg": 0.2})
        logger.flush(timeout=120)
        assert logger.sent == 1000 and not logger.failures
        assert len(logger.receipts) >= 4
        first = logger.receipts[0]
        assert first["last_seq"] - first["first_seq"] + 1 == first["count"]
    reviewer = serving["qa"]
    proof = reviewer.decision_proof("py-500")
    assert proof.content_checked and proof.tree_size > proof.seq
    decision = reviewer.decision("py-500")
    assert decision["data"]["input_digest"] == input_digest({"i": 500, "weight_mg": 250 + 500 % 7})
    assert decision["served_by"]["id"] == "dec-serving"
    queue = list(reviewer.review_queue(model_version="dec-mv"))
    assert len(queue) == 250
    assert all(d["data"]["confidence"] < 0.6 for d in queue)


def test_a_tampered_proof_is_refused(server, serving):
    reviewer = Client.login(server.url, "dec-qa", serving["qa_password"])
    reviewer.decision_proof("py-1")
    proxy = TamperingProxy(server.url, lambda method, path, status, body:
                           flip_first_proof_hash(body) if path.endswith("/proof") else body)
    try:
        lied = Client(proxy.url, token=reviewer._http._token,
                      public_key=reviewer.public_key())
        with pytest.raises(ProofError):
            lied.decision_proof("py-2")
    finally:
        proxy.stop()


def test_a_refused_batch_is_kept_with_its_records(server, serving):
    service = Client(server.url, token=serving["token"])
    good = decision_record(request_id="bad-1", model_version="dec-mv", environment="staging",
                           input={"x": 1}, output=1, confidence=0.9)
    bad = dict(good, request_id="bad-2", environment="production")
    with pytest.raises(InvalidRequestError) as refused:
        service.record_decisions([good, bad])
    assert "line 2" in str(refused.value)
    errors = []
    with service.decision_logger(batch_size=10, flush_interval=0.1, on_error=errors.append) as logger:
        logger.put(good)
        logger.put(bad)
        logger.flush(timeout=60)
    assert logger.sent == 0 and len(logger.failures) == 1 and errors
    assert [r["request_id"] for r in logger.failures[0].records] == ["bad-1", "bad-2"]
    with pytest.raises(Exception):
        service.decision("bad-1")


def test_a_full_queue_refuses_without_waiting(server, serving):
    service = Client(server.url, token=serving["token"])
    logger = service.decision_logger(batch_size=1, max_queue=1, flush_interval=5)
    record = decision_record(request_id="q-0", model_version="dec-mv", environment="staging",
                             input_digest_hex="0" * 64, output=1, confidence=0.9)
    with pytest.raises(DecisionQueueFull):
        for i in range(200):
            logger.put(dict(record, request_id=f"q-{i}"), block=False)
    logger.close()


def test_records_queued_at_exit_are_flushed(server, serving, tmp_path):
    script = tmp_path / "serve.py"
    script.write_text(textwrap.dedent(f"""
        from modeltrail import Client
        client = Client({server.url!r}, token={serving['token']!r})
        logger = client.decision_logger(batch_size=100, flush_interval=30)
        for i in range(30):
            logger.log(request_id=f"exit-{{i}}", model_version="dec-mv",
                       environment="staging", input={{"i": i}}, output=0, confidence=0.99)
        # no flush, no close: the interpreter's exit sends them
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert serving["qa"].decision("exit-29")["state"] == "decided"


def test_a_reviewer_signs_from_the_queue(server, serving):
    reviewer = serving["qa"]
    first = next(iter(reviewer.review_queue(model_version="dec-mv")))
    answer = reviewer.review_decision(first["request_id"], "override",
                                      "Hardness out of range on re-test.",
                                      password=serving["qa_password"],
                                      output={"label": "reject"})
    assert answer["state"] == "overridden"
    assert answer["review"]["name"] == "Dec-Qa" and answer["review"]["meaning"] == "reviewed"
    again = reviewer.decision(first["request_id"])
    assert again["review"]["reason"] == "Hardness out of range on re-test."
