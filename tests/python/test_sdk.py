"""The Python SDK against the real server (SQLite and PostgreSQL): login and tokens, the records'
round trip, signatures (asked for on a terminal), datasets hashed locally, monitoring from pandas
and numpy, the release gate, and client-side verification: what is written and read is proven
included, the pin follows the log's growth, and every way the server could lie (an altered
event, a wrong leaf, a checkpoint signed by another key, a forked log, a damaged proof) raises."""

from __future__ import annotations

import getpass
import hashlib
import io
import json
import sys

import numpy as np
import pandas as pd
import pytest

from modeltrail import (
    AuthenticationError,
    CheckpointError,
    Client,
    ConflictError,
    ConsistencyError,
    Event,
    InvalidRequestError,
    NotFoundError,
    PasswordRequiredError,
    PermissionDeniedError,
    ProofError,
    Record,
    ReleaseRefusedError,
)
from modeltrail import merkle
from sdk_helpers import NoteSigner, TamperingProxy, flip_first_proof_hash

WINDOW = ("2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z")


@pytest.fixture(scope="module")
def people(server):
    """A developer and a QA person (passwords), a service account's token."""
    return {
        "dev": server.person("sdk-dev", "developer"),
        "qa": server.person("sdk-qa", "qa"),
        "victim": server.person("sdk-locked-out", "developer"),
        "token": server.service_token("sdk-pipeline", "developer"),
    }


@pytest.fixture(scope="module")
def dev(server, people):
    return Client.login(server.url, "sdk-dev", people["dev"])


@pytest.fixture(scope="module")
def qa(server, people):
    return Client.login(server.url, "sdk-qa", people["qa"])


def model_data(name="tablet-anomaly", influence="low", consequence="low"):
    return {"name": name, "owner": "sdk-dev",
            "intended_use": "Flags anomalous tablet batches for QA review.",
            "context_of_use": "Advisory; QA reviews every flagged batch.", "gamp_category": 5,
            "risk": {"model_influence": influence, "decision_consequence": consequence}}


# -- login and tokens ---------------------------------------------------------------------------


def test_login_token_and_wrong_password(server, people, dev):
    me = dev.me(refresh=True)
    assert me["user"] == "sdk-dev" and me["role"] == "developer" and me["auth"] == "session"
    assert dev.pinned_checkpoint is not None, "the login's receipt was verified and pinned"

    service = Client(server.url, token=people["token"])
    assert service.me()["user"] == "sdk-pipeline"
    assert people["token"] not in repr(service) and people["token"] not in repr(service._http)

    with pytest.raises(AuthenticationError) as refused:
        Client.login(server.url, "sdk-locked-out", "not-the-password-123")
    assert refused.value.status == 401 and refused.value.code == "invalid_credentials"
    assert "not-the-password-123" not in str(refused.value) + repr(refused.value)

    with pytest.raises(AuthenticationError) as bad_token:
        Client(server.url, token="mts_not-a-token").me()
    assert bad_token.value.code == "invalid_token"
    assert "mts_not-a-token" not in str(bad_token.value)


def test_a_first_login_changes_the_password_before_anything_is_proven(server):
    status, _ = server.call("POST", "/api/v1/users", server.admin,
                            {"id": "sdk-new", "name": "New Person", "role": "qa",
                             "password": "first-sdk-new-Pw-123456"})
    assert status == 201
    fresh = Client.login(server.url, "sdk-new", "first-sdk-new-Pw-123456")
    assert fresh.must_change_password and fresh.pinned_checkpoint is None
    fresh.change_password("first-sdk-new-Pw-123456", "sdk-new-Correct-Horse-42")
    assert not fresh.must_change_password
    # Both receipts were proven after the change; nothing was asked before it was allowed.
    logins, _ = fresh.events(actor="sdk-new", action="auth.login")
    assert fresh.pinned_checkpoint.size > logins[0].seq
    denied, _ = fresh.events(action="access.denied", actor="sdk-new")
    assert denied == []


# -- records ------------------------------------------------------------------------------------


def test_records_round_trip(dev):
    created = dev.create_record("model", model_data(), id="sdk-m1", reason="new model")
    assert isinstance(created, Record)
    assert (created.kind, created.id, created.version, created.status) == ("model", "sdk-m1", 1, "active")
    assert created.data["risk"]["model_risk"] == "low", "the server fills in the risk"
    assert created.receipt is not None and created.receipt.seq == [created.seq]

    read = dev.get_record("model", "sdk-m1")
    assert read.data == created.data and read.leaf == created.leaf

    changed = dict(created.data, intended_use="Flags anomalous batches for QA review (v2).")
    updated = dev.update_record("model", "sdk-m1", changed, version=1, reason="clarified use")
    assert updated.version == 2 and updated.raw["changes"][0]["field"] == "/intended_use"
    with pytest.raises(ConflictError) as stale:
        dev.update_record("model", "sdk-m1", changed, version=1, reason="again")
    assert stale.value.code == "stale_version" and stale.value.status == 409

    assert dev.get_record("model", "sdk-m1", version=1).data["intended_use"] == created.data["intended_use"]
    versions = dev.versions("model", "sdk-m1")
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["reason"] == "clarified use"
    assert dev.diff("model", "sdk-m1", 1, 2)[0]["new"] == changed["intended_use"]
    assert "sdk-m1" in [r["id"] for r in dev.iter_records("model")]

    voided = dev.void_record("model", "sdk-m1", version=2, reason="superseded")
    assert voided.status == "voided" and voided.version == 3

    with pytest.raises(InvalidRequestError) as invalid:
        dev.create_record("model", dict(model_data(), gamp_category="five"), id="sdk-bad")
    assert invalid.value.code == "invalid" and invalid.value.field.startswith("data")
    with pytest.raises(NotFoundError):
        dev.get_record("model", "sdk-no-such")
    assert "model" in dev.record_types()


# -- signatures ---------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_signatures_with_password_prompt_and_refusals(server, people, dev, qa, monkeypatch):
    model = dev.create_record("model", model_data("sign-me"), id="sdk-m-sign")
    # No password and no terminal: a clear error, nothing sent.
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    with pytest.raises(PasswordRequiredError):
        qa.sign("model", model.id, 1, "approved")
    # Wrong password: refused by the server as an authentication failure.
    with pytest.raises(AuthenticationError) as wrong:
        qa.sign("model", model.id, 1, "approved", password="wrong-password-123")
    assert wrong.value.code == "wrong_password" and "wrong-password-123" not in str(wrong.value)
    # Interactive: the password is asked for, naming what is signed.
    asked = []
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": asked.append(prompt) or people["qa"])
    signed = qa.sign("model", model.id, 1, "approved", comment="intended use reviewed")
    assert asked and "model sdk-m-sign version 1" in asked[0] and "approved" in asked[0]
    signature = signed.signatures[0]
    assert signature["meaning"] == "approved" and signature["applies_to_this_version"] is True
    assert "Sdk-Qa" in signature["manifestation"] or "sdk-qa" in signature["manifestation"].lower()
    assert signed.receipt is not None and len(signed.receipt.seq) == 1
    # Segregation of duties: the author does not approve.
    with pytest.raises(PermissionDeniedError) as sod:
        dev.sign("model", model.id, 1, "approved", password=people["dev"])
    assert sod.value.code == "segregation_of_duties"
    # API tokens cannot sign.
    service = Client(server.url, token=people["token"])
    with pytest.raises(PermissionDeniedError) as token_sign:
        service.sign("model", model.id, 1, "reviewed", password="irrelevant-password")
    assert token_sign.value.code in ("session_required", "forbidden")


# -- datasets -----------------------------------------------------------------------------------


def _csv(first, rows, shift=0.0):
    lines = ["id,age,site,outcome"]
    for i in range(first, first + rows):
        lines.append(f"{i},{20 + (i * 7) % 60 + shift},{['Basel', 'Lyon', 'Cork'][i % 3]},{i % 2}")
    return ("\n".join(lines) + "\n").encode()


def test_dataset_registration_hashes_files_locally(dev, tmp_path):
    folder = tmp_path / "batches"
    (folder / "parts").mkdir(parents=True)
    (folder / "parts" / "a.csv").write_bytes(_csv(0, 700))
    (folder / "parts" / "b.csv").write_bytes(_csv(700, 500))
    record = dev.register_dataset(
        [folder], name="batches", version="2026-06", source="MES export", id="sdk-ds1",
        quality_checks=[{"name": "enough rows", "criterion": "rows >= 1000"},
                        {"name": "age complete", "criterion": "missing_rate(age) <= 0.01"}],
        fields={"collection_procedure": "SOP-DS-001"})
    files = sorted((folder / "parts").iterdir())
    expected_manifest = [{"path": f"parts/{f.name}", "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
                          "size_bytes": f.stat().st_size} for f in files]
    data = record.data
    assert data["manifest"] == expected_manifest
    canonical = "".join(f"{m['sha256']}  {m['path']}\n" for m in expected_manifest)
    assert data["content_digest"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert data["format"] == "csv" and data["collection_procedure"] == "SOP-DS-001"
    # Both files uploaded: the server profiled 1200 rows and evaluated the checks.
    assert record.version == 3 and data["profile"]["rows"] == 1200
    assert [c["passed"] for c in data["quality_checks"]] == [True, True]
    assert [s["sha256"] for s in data["profile"]["source"]] == [m["sha256"] for m in expected_manifest]

    # A file that is not the one declared is refused by its digest.
    other = tmp_path / "other.csv"
    other.write_bytes(_csv(0, 10))
    dev.create_record("dataset_version", {"name": "x", "version": "1", "source": "MES",
                                          "content_digest": "a" * 64}, id="sdk-ds-wrong")
    with pytest.raises(InvalidRequestError):
        dev.upload_dataset_file("sdk-ds-wrong", other)


# -- monitoring ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def monitored(dev, qa, people, tmp_path_factory):
    """A model version with an approved monitoring plan over a profiled reference dataset."""
    folder = tmp_path_factory.mktemp("reference")
    (folder / "reference.csv").write_bytes(_csv(0, 600))
    dev.create_record("model", model_data("monitored"), id="sdk-mon-m")
    dev.create_record("model_version", {"model": "sdk-mon-m", "version": "1",
                                        "artifacts": [{"path": "model.pkl", "sha256": "c" * 64}]},
                      id="sdk-mon-mv")
    dev.register_dataset([folder / "reference.csv"], name="reference", version="1",
                         source="MES export", id="sdk-mon-ref")
    plan = dev.create_record("monitoring_plan", {
        "model_version": "sdk-mon-mv", "reference_dataset": "sdk-mon-ref",
        "features": [{"name": "age", "type": "numerical"}, {"name": "site", "type": "categorical"}],
        "drift": {"drift_share": 0.5},
        "performance_metrics": [{"metric": "accuracy", "op": ">=", "threshold": 0.8}],
        "minimum_batch_rows": 50,
        "action_plan": "QA investigates within 5 working days.", "notify": ["sdk-qa"]},
        id="sdk-mon-plan")
    qa.sign("monitoring_plan", plan.id, plan.version, "approved", password=people["qa"])
    return "sdk-mon-plan"


def _batch(rows, shift):
    ages = np.array([20.0 + (i * 11) % 60 + shift for i in range(rows)])
    sites = np.array([["Basel", "Lyon", "Cork"][i % 3] for i in range(rows)])
    return ages, sites


def test_monitoring_upload_from_pandas_numpy_and_a_file(dev, monitored, tmp_path):
    ages, sites = _batch(300, 0.0)
    labels = np.array([i % 2 for i in range(300)])
    frame = pd.DataFrame({"age": ages, "site": sites, "unused": np.zeros(300)})
    from_pandas = dev.upload_monitoring_batch(
        monitored, frame, features=["age", "site"], window=WINDOW,
        predictions=pd.Series(labels), labels=labels, id="sdk-batch-pandas")
    from_numpy = dev.upload_monitoring_batch(
        monitored, {"age": ages, "site": sites}, window=WINDOW,
        predictions=labels.tolist(), labels=list(labels), id="sdk-batch-numpy")
    assert from_pandas.kind == "monitoring_batch"
    # The same data gives the same figures, whichever form it came in.
    assert from_pandas.data["drift"] == from_numpy.data["drift"]
    assert from_pandas.data["performance"] == from_numpy.data["performance"]
    assert from_pandas.data["rows"] == 300
    # The same window as a CSV file: read by column name, the same figures again.
    csv = tmp_path / "window.csv"
    frame.assign(prediction=labels, label=labels).to_csv(csv, index=False)
    from_file = dev.upload_monitoring_file(monitored, csv, window=WINDOW, predictions="prediction",
                                           labels="label", id="sdk-batch-file")
    assert from_file.data["drift"] == from_pandas.data["drift"]
    assert from_file.data["performance"] == from_pandas.data["performance"]
    assert from_file.data["source"]["sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()

    # A drifted batch with NaN and infinities: the breach raises an exception and a change
    # request in the same transaction, and the receipt's every event is proven.
    ages, sites = _batch(300, 45.0)
    ages[:3] = [np.nan, np.inf, -np.inf]
    drifted = dev.upload_monitoring_batch(monitored, pd.DataFrame({"age": ages, "site": sites}),
                                          window=WINDOW, id="sdk-batch-drift")
    assert drifted.data["breach"] is True and drifted.data["exception"]
    assert len(drifted.receipt.seq) == 3, drifted.receipt
    proven = dev.verify_receipt(drifted.receipt)
    assert [p.seq for p in proven] == drifted.receipt.seq
    age = next(f for f in drifted.data["drift"]["features"] if f["feature"] == "age")
    assert age["dropped"] == {"missing": 1, "positive_infinity": 1, "negative_infinity": 1}

    # The exception the breach raised moves through its workflow; an illegal step is refused.
    exception = dev.get_record("exception", drifted.data["exception"])
    assert exception.workflow_state == "open"
    with pytest.raises(ConflictError) as illegal:
        dev.transition("exception", exception.id, "closed", version=exception.version,
                       reason="nothing to see")
    assert illegal.value.code == "illegal_transition"
    stepped = dev.transition("exception", exception.id, "investigating",
                             version=exception.version, reason="drift of age confirmed")
    assert stepped.workflow_state == "investigating"
    assert dev.workflow("exception", exception.id)["state"] == "investigating"


# -- the release gate and workflows -------------------------------------------------------------


def test_release_gate_refuses_production_naming_what_is_missing(dev):
    dev.create_record("model", model_data("gated", "medium", "medium"), id="sdk-gate-m")
    dev.create_record("model_version", {"model": "sdk-gate-m", "version": "1",
                                        "artifacts": [{"path": "model.pkl", "sha256": "d" * 64}]},
                      id="sdk-gate-mv")
    ready = dev.release_readiness("sdk-gate-mv")
    assert ready.status == "draft" and ready.ready is False
    assert "intended_use_approved" in [c["code"] for c in ready.unmet]
    with pytest.raises(ReleaseRefusedError) as refused:
        dev.deploy("sdk-gate-mv", environment="production", target="site-basel")
    codes = [c["code"] for c in refused.value.unmet]
    assert "qa_release_signature" in codes and "intended_use_approved" in codes
    staged = dev.deploy("sdk-gate-mv", environment="staging", target="qa-cluster")
    assert staged.kind == "deployment" and staged.data["environment"] == "staging"



# -- verification -------------------------------------------------------------------------------


def test_verify_inclusion_of_written_and_read_events(dev, qa):
    written = dev.create_record("model", model_data("proven"), id="sdk-proven")
    developer_view = dev.verify_inclusion(written)
    assert developer_view.seq == written.seq and developer_view.leaf == written.leaf
    assert developer_view.content_checked is False, "a developer cannot read the log's events"
    merkle.verify_inclusion(bytes.fromhex(written.leaf), written.seq, developer_view.tree_size,
                            [bytes.fromhex(h) for h in developer_view.proof],
                            bytes.fromhex(developer_view.root))

    read = qa.get_record("model", "sdk-proven")
    qa_view = qa.verify_inclusion(read)
    assert qa_view.content_checked is True, "QA reads the event back and hashes it"

    events, _ = qa.events(record_id="sdk-proven")
    assert events and events[0].record["id"] == "sdk-proven"
    for event in events:
        assert qa.verify_inclusion(event).content_checked
    version = qa.versions("model", "sdk-proven")[0]
    assert qa.verify_inclusion(version).seq == written.seq
    # every event of the log so far, through the iterator
    seen = 0
    for event in qa.iter_events(limit=200):
        assert event.leaf_hash().hex() == event.claimed_leaf
        seen += 1
    assert seen >= events[0].seq + 1


def test_the_pin_follows_the_log_as_it_grows(server, people, tmp_path):
    pin = tmp_path / "pin.json"
    first = Client.login(server.url, "sdk-dev", people["dev"], pin_file=pin)
    size = first.checkpoint().size
    for i in range(5):
        first.create_record("model", model_data(f"growth-{i}"), id=f"sdk-growth-{size}-{i}")
    assert first.pinned_checkpoint.size >= size + 5
    # A later run starts from the pinned checkpoint and proves the log only grew since.
    later = Client.login(server.url, "sdk-dev", people["dev"], pin_file=pin)
    assert later.pinned_checkpoint.size > size
    latest = later.checkpoint()
    assert latest.size >= first.pinned_checkpoint.size
    assert json.loads(pin.read_text())["checkpoint"] == latest.text


def test_an_altered_event_or_a_wrong_leaf_is_refused(dev, qa):
    written = dev.create_record("model", model_data("tamper"), id="sdk-tamper")
    event = qa.event(written.seq)
    assert qa.verify_inclusion(event).content_checked

    # The event's content altered: it no longer hashes to the leaf the server gave with it.
    altered = Event.from_json(dict(event.to_json(), payload=dict(event.payload, name="other"),
                                   leaf=event.claimed_leaf))
    with pytest.raises(ProofError, match="altered"):
        qa.verify_inclusion(altered)
    # ... nor, without a leaf to compare with, is it in the log.
    unclaimed = Event.from_json(dict(event.to_json(), payload=dict(event.payload, name="other")))
    with pytest.raises(ProofError, match="root"):
        qa.verify_inclusion(unclaimed)
    # A record shown with a leaf that is not the one at its sequence number.
    wrong_leaf = Record.from_json(dict(written.raw, leaf=hashlib.sha256(b"x").hexdigest()))
    with pytest.raises(ProofError):
        dev.verify_inclusion(wrong_leaf)
    # A record shown with content other than what its event holds (QA reads the event back).
    wrong_data = Record.from_json(dict(written.raw, data=dict(written.data, owner="mallory")))
    with pytest.raises(ProofError, match="content"):
        qa.verify_inclusion(wrong_data)
    # A record at another sequence number.
    moved = Record.from_json(dict(written.raw, seq=written.seq - 1))
    with pytest.raises(ProofError):
        dev.verify_inclusion(moved)


def test_a_checkpoint_signed_by_another_key_is_refused(server, people, dev):
    real = dev.public_key()
    impostor = NoteSigner(real.name)
    # A client that pinned another key refuses the server's checkpoints.
    client = Client(server.url, public_key=impostor.verifier_text())
    with pytest.raises(CheckpointError, match="no signature by the log's key"):
        client.checkpoint()
    with pytest.raises(CheckpointError):
        Client.login(server.url, "sdk-dev", people["dev"], public_key=impostor.verifier_text())
    # A receipt whose checkpoint another key signed, under the log's name.
    latest = dev.checkpoint()
    forged = impostor.checkpoint(latest.size, latest.root, latest.timestamp)
    with pytest.raises(CheckpointError):
        dev.verify_receipt({"seq": [], "leaf": [], "tree_size": latest.size, "checkpoint": forged})
    # The server itself serves a key other than the pinned one.
    with pytest.raises(CheckpointError, match="not the pinned one"):
        dev._trust.trust_key(impostor.verifier_text())


def test_a_pinned_checkpoint_the_log_does_not_extend_is_refused(server, people, dev, tmp_path):
    # An insider with the server's key signs a checkpoint of another history (a fork) and a
    # client pins it: the server's next checkpoint cannot be proven consistent with it.
    signer = NoteSigner.of_server(server.data_dir)
    assert signer.verifier_text() == dev.public_key().to_text()
    latest = dev.checkpoint()
    for forged_size, label in ((latest.size, "same size"), (max(1, latest.size - 3), "older")):
        fork = signer.checkpoint(forged_size, hashlib.sha256(label.encode()).digest())
        pin = tmp_path / f"pin-{forged_size}.json"
        pin.write_text(json.dumps({"server": server.url, "public_key": signer.verifier_text(),
                                   "checkpoint": fork}))
        client = Client(server.url, pin_file=pin)
        client._http.set_token(dev._http._token)
        dev.create_record("model", model_data(f"fork-{label}"), id=f"sdk-fork-{forged_size}")
        with pytest.raises(ConsistencyError):
            client.checkpoint()
        assert client.pinned_checkpoint.text == fork, "the pin did not move"


def test_a_proxy_that_alters_proofs_or_records_is_caught(server, people):
    def damage(method, path, status, body):
        if status == 200 and path.startswith(("/api/v1/proofs/consistency", "/api/v1/proofs/inclusion")):
            return flip_first_proof_hash(body)
        return body

    proxy = TamperingProxy(server.url, damage)
    try:
        honest = Client.login(server.url, "sdk-dev", people["dev"])
        record = honest.create_record("model", model_data("behind-proxy"), id="sdk-proxy-m")
        # Through the proxy, every proof is damaged: writes and reads are refused as unproven.
        client = Client(proxy.url, public_key=honest.public_key())
        client._http.set_token(honest._http._token)
        client._trust.advance(client._trust.open(honest.pinned_checkpoint.text), lambda a, b: [])
        honest.create_record("model", model_data("grow"), id="sdk-proxy-grow")
        with pytest.raises(ProofError):
            client.get_record("model", record.id)
        with pytest.raises(ProofError, match="could not prove"):
            client.create_record("model", model_data("through-proxy"), id="sdk-proxy-write")
    finally:
        proxy.stop()

    # A proxy that changes a record's content on the way: QA reads the event back and notices.
    def rewrite(method, path, status, body):
        if status == 200 and path.startswith("/api/v1/records/model/sdk-proxy-m"):
            value = json.loads(body)
            value["data"]["intended_use"] = "Decides batch release on its own."
            return json.dumps(value).encode()
        return body

    proxy = TamperingProxy(server.url, rewrite)
    try:
        qa = Client.login(proxy.url, "sdk-qa", people["qa"])
        with pytest.raises(ProofError, match="content"):
            qa.get_record("model", "sdk-proxy-m")
    finally:
        proxy.stop()
