"""The unmodified MLflow client (mlflow-skinny, pinned in requirements.txt) against a real
modeltrail server: a training script, the model registry, reads back, refusals, and then
modeltrail's own view of it all: the ledger's events by the user, the records the MLflow
entities became, and `modeltrail verify` on the log."""

import math
import os

import mlflow
import numpy as np
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

MODEL = "credit-risk"


@pytest.fixture(scope="module")
def dana(server):
    """A developer, and MLflow pointed at the server with her user id and password."""
    password = server.person("dana", "developer")
    # The registered model's modeltrail `model` record: intended use and risk come from people.
    session = server.login("dana", password)
    status, answer = server.call("POST", "/api/v1/records/model", session, {
        "id": "credit-risk-model",
        "data": {
            "name": MODEL, "owner": "dana", "intended_use": "Rank batches for review.",
            "context_of_use": "Advisory; QA decides.", "gamp_category": 5,
            "risk": {"model_influence": "low", "decision_consequence": "low"},
        },
    })
    assert status == 201, answer
    saved = {k: os.environ.get(k) for k in
             ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")}
    os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
    os.environ["MLFLOW_TRACKING_USERNAME"] = "dana"
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    yield {"password": password, "session": session, "state": {}}
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    return x, y


def test_training_script_logs_everything_and_reads_it_back(server, dana, tmp_path):
    x, y = data()
    experiment = mlflow.set_experiment("credit-scoring")
    assert mlflow.get_experiment_by_name("credit-scoring").experiment_id == experiment.experiment_id
    with mlflow.start_run(run_name="train-lr") as run:
        mlflow.log_params({"C": 1.0, "max_iter": 200, "solver": "lbfgs"})
        for step in range(5):
            mlflow.log_metrics({"loss": 1.0 / (step + 1), "accuracy": 0.5 + 0.1 * step}, step=step)
        mlflow.log_metric("undefined", float("nan"))
        mlflow.log_metric("unbounded", float("inf"))
        mlflow.set_tags({"team": "credit", "purpose": "python test"})
        notes = tmp_path / "notes.txt"
        notes.write_text("trained on synthetic data\n")
        mlflow.log_artifact(str(notes))
        mlflow.log_artifact(str(notes), artifact_path="docs/more")
        dataset = mlflow.data.from_numpy(x, targets=y, name="synthetic-train")
        mlflow.log_input(dataset, context="training")
        model = LogisticRegression(C=1.0, max_iter=200).fit(x, y)
        info = mlflow.sklearn.log_model(model, name="model", input_example=x[:2],
                                        serialization_format="cloudpickle")
    run_id = run.info.run_id
    dana["state"].update(run_id=run_id, model_uri=info.model_uri, model_id=info.model_id)

    client = MlflowClient()
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "train-lr"
    assert got.info.user_id == "dana"
    assert got.data.params == {"C": "1.0", "max_iter": "200", "solver": "lbfgs"}
    assert got.data.metrics["loss"] == pytest.approx(0.2)
    assert got.data.metrics["accuracy"] == pytest.approx(0.9)
    assert math.isnan(got.data.metrics["undefined"])
    assert got.data.metrics["unbounded"] == math.inf
    assert got.data.tags["team"] == "credit"
    assert [d.dataset.name for d in got.inputs.dataset_inputs] == ["synthetic-train"]

    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert [m.value for m in history] == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2])

    found = mlflow.search_runs(experiment_names=["credit-scoring"],
                               filter_string="metrics.accuracy > 0.8 and params.C = '1.0'")
    assert list(found["run_id"]) == [run_id]
    assert mlflow.search_runs(experiment_names=["credit-scoring"],
                              filter_string="metrics.accuracy > 0.95").empty
    assert len(mlflow.search_runs(experiment_names=["credit-scoring"],
                                  filter_string="tags.team = 'credit' and attributes.status = 'FINISHED'")) == 1
    by_name = client.search_runs([experiment.experiment_id],
                                 filter_string="attributes.run_name LIKE 'train-%'",
                                 order_by=["metrics.loss ASC"])
    assert [r.info.run_id for r in by_name] == [run_id]

    out = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes.txt",
                                              dst_path=str(tmp_path / "down"))
    assert open(out).read() == "trained on synthetic data\n"
    listed = sorted(a.path for a in client.list_artifacts(run_id))
    assert listed == ["docs", "notes.txt"]
    assert [a.path for a in client.list_artifacts(run_id, "docs/more")] == ["docs/more/notes.txt"]

    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert (loaded.predict(x) == model.predict(x)).all()


def test_registry_versions_aliases_and_the_release_gate(server, dana, tmp_path):
    state = dana["state"]
    version = mlflow.register_model(state["model_uri"], MODEL)
    assert version.version == "1"
    client = MlflowClient()
    client.set_registered_model_alias(MODEL, "champion", version.version)
    by_alias = client.get_model_version_by_alias(MODEL, "champion")
    assert by_alias.version == "1"
    assert by_alias.run_id == state["run_id"]
    x, _ = data()
    loaded = mlflow.sklearn.load_model(f"models:/{MODEL}@champion")
    assert loaded.predict(x[:5]).shape == (5,)
    assert client.get_registered_model(MODEL).aliases == {"champion": "1"}
    assert [v.version for v in client.search_model_versions(f"name = '{MODEL}'")] == ["1"]
    client.update_model_version(MODEL, "1", description="first candidate")
    assert client.get_model_version(MODEL, "1").description == "first candidate"
    staged = client.transition_model_version_stage(MODEL, "1", "Staging")
    assert staged.current_stage == "Staging"

    # Production is a release: the gate refuses a version with no validation or approvals.
    with pytest.raises(MlflowException) as refused:
        client.transition_model_version_stage(MODEL, "1", "Production")
    assert refused.value.error_code == "RESOURCE_CONFLICT"
    assert "release gate" in refused.value.message
    assert client.get_model_version(MODEL, "1").current_stage == "Staging"

    client.delete_registered_model_alias(MODEL, "champion")
    with pytest.raises(MlflowException) as missing:
        client.get_model_version_by_alias(MODEL, "champion")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_refusals_in_mlflow_form(server, dana):
    assert mlflow.get_experiment_by_name("no-such-experiment") is None
    client = MlflowClient()
    run_id = dana["state"]["run_id"]
    # Parameters are write-once.
    client.log_param(run_id, "C", "1.0")
    with pytest.raises(MlflowException) as changed:
        client.log_param(run_id, "C", "2.0")
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as missing:
        client.get_run("0" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as bad_filter:
        client.search_runs(["0"], filter_string="metrics.loss LIKE 'x'")
    assert bad_filter.value.error_code == "INVALID_PARAMETER_VALUE"
    # The client splits batches at MLflow's limits; the server holds them too, on the wire.
    too_many = requests.post(
        f"{server.url}/api/2.0/mlflow/runs/log-batch",
        auth=("dana", dana["password"]),
        json={"run_id": run_id, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
        timeout=30,
    )
    assert too_many.status_code == 400
    assert too_many.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    missing_run = requests.get(f"{server.url}/api/2.0/mlflow/runs/get",
                               params={"run_id": "nope"}, auth=("dana", dana["password"]),
                               timeout=30)
    assert missing_run.status_code == 404
    assert set(missing_run.json()) == {"error_code", "message"}
    nan = requests.get(f"{server.url}/api/2.0/mlflow/metrics/get-history",
                       params={"run_id": run_id, "metric_key": "undefined"},
                       auth=("dana", dana["password"]), timeout=30).json()
    assert nan["metrics"][0]["value"] == "NaN"
    # A deleted experiment is kept and can be restored.
    doomed = client.create_experiment("to-delete")
    client.delete_experiment(doomed)
    assert client.get_experiment(doomed).lifecycle_stage == "deleted"
    client.restore_experiment(doomed)
    assert client.get_experiment(doomed).lifecycle_stage == "active"

    os.environ["MLFLOW_TRACKING_PASSWORD"] = "not-the-password"
    try:
        with pytest.raises(MlflowException) as wrong:
            mlflow.search_experiments()
        assert wrong.value.error_code == "UNAUTHENTICATED"
    finally:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = dana["password"]


def test_roles_and_tokens(server, dana):
    viewer_password = server.person("vic", "viewer")
    token = server.service_token("ci-pipeline", "developer")
    os.environ["MLFLOW_TRACKING_USERNAME"] = "vic"
    os.environ["MLFLOW_TRACKING_PASSWORD"] = viewer_password
    try:
        assert mlflow.get_experiment_by_name("credit-scoring") is not None
        with pytest.raises(MlflowException) as denied:
            mlflow.create_experiment("viewer-may-not")
        assert denied.value.error_code == "PERMISSION_DENIED"
        os.environ.pop("MLFLOW_TRACKING_USERNAME")
        os.environ.pop("MLFLOW_TRACKING_PASSWORD")
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
        experiment = mlflow.create_experiment("from-ci")
        with mlflow.start_run(experiment_id=experiment):
            mlflow.log_metric("m", 1.0)
    finally:
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        os.environ["MLFLOW_TRACKING_USERNAME"] = "dana"
        os.environ["MLFLOW_TRACKING_PASSWORD"] = dana["password"]


def test_the_ledger_holds_it_all_and_verifies(server, dana):
    run_id = dana["state"]["run_id"]
    admin = server.admin

    def events(**query):
        path = "/api/v1/events?limit=1000&" + "&".join(f"{k}={v}" for k, v in query.items())
        status, answer = server.call("GET", path, admin)
        assert status == 200, answer
        return answer["events"]

    logged = events(action="mlflow.run.log", actor="dana")
    assert logged and all(e["actor"]["auth"] == "password" for e in logged)
    assert any(e["payload"]["run_id"] == run_id for e in logged)
    assert events(action="mlflow.run.create", actor="ci-pipeline")
    assert events(action="access.denied", actor="vic")
    assert events(action="auth.login_failed")
    puts = events(action="mlflow.artifact.put", actor="dana")
    assert any(e["payload"]["path"].endswith("/model.pkl") for e in puts)

    status, record = server.call("GET", f"/api/v1/records/training_run/mlflow-run-{run_id}", admin)
    assert status == 200, record
    data = record["data"]
    assert data["status"] == "finished" and data["mlflow_run_id"] == run_id
    assert {p["key"] for p in data["parameters"]} == {"C", "max_iter", "solver"}
    assert len([m for m in data["metrics"] if m["key"] == "loss"]) == 5
    assert record["changed"]["by"] == "dana"

    status, version = server.call("GET", "/api/v1/records/model_version/mlflow:credit-risk:v1", admin)
    assert status == 200, version
    assert version["data"]["model"] == "credit-risk-model"
    assert version["data"]["lineage"]["training_run"] == f"mlflow-run-{run_id}"
    paths = {a["path"]: a["sha256"] for a in version["data"]["artifacts"]}
    assert "model.pkl" in paths and len(paths["model.pkl"]) == 64
    status, readiness = server.call(
        "GET", "/api/v1/model-versions/mlflow:credit-risk:v1/release-readiness", admin)
    assert status == 200 and readiness["ready"] is False

    server.stop()
    result = server.verify()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK"), result.stdout
