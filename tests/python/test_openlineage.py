"""The real openlineage-python client's HTTP transport against the real server, on SQLite and
PostgreSQL: RunEvents from a pipeline (plain and gzip-compressed) become lineage linked to the
training run and dataset version that name them; a wrong API key is refused."""

import uuid
from datetime import datetime, timezone

import pytest
import requests
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import schema_dataset
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

PRODUCER = "https://example.org/pipelines/potency"


def client(url: str, token: str, compression=None) -> OpenLineageClient:
    config = HttpConfig(
        url=url,
        endpoint="api/v1/lineage",
        auth=ApiKeyTokenProvider({"apiKey": token}),
        compression=compression,
        retry={"total": 0},
    )
    return OpenLineageClient(transport=HttpTransport(config))


def event(state: RunState, run_id: str, outputs=None) -> RunEvent:
    schema = schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name="potency", type="double")]
    )
    return RunEvent(
        eventType=state,
        eventTime=datetime.now(timezone.utc).isoformat(),
        run=Run(runId=run_id),
        job=Job(namespace="assay-ml", name="train_potency_model"),
        producer=PRODUCER,
        inputs=[InputDataset(namespace="s3://gxp-lake", name="assay/2026-11.csv",
                             facets={"schema": schema})],
        outputs=outputs or [],
    )


def test_pipeline_run_events_become_linked_lineage(server):
    token = server.service_token(f"pipeline-{uuid.uuid4().hex[:6]}", "developer")
    run_id = str(uuid.uuid4())
    record = {"id": f"dv-{run_id[:8]}",
              "data": {"name": "assay", "version": "2026-11", "content_digest": "c" * 64,
                       "source": "LIMS export",
                       "openlineage": {"namespace": "s3://gxp-lake", "name": "assay/2026-11.csv"}}}
    status, answer = server.call("POST", "/api/v1/records/dataset_version", token, record)
    assert status == 201, answer
    status, answer = server.call("POST", "/api/v1/records/training_run", token,
                                 {"id": f"tr-{run_id[:8]}",
                                  "data": {"name": "potency", "openlineage_run_id": run_id}})
    assert status == 201, answer

    client(server.url, token).emit(event(RunState.START, run_id))
    client(server.url, token, HttpCompression.GZIP).emit(
        event(RunState.COMPLETE, run_id,
              outputs=[OutputDataset(namespace="models", name="potency-model/3")]))

    status, run = server.call("GET", f"/api/v1/lineage/runs/{run_id}", token)
    assert status == 200, run
    assert run["state"] == "COMPLETE"
    assert [e["event_type"] for e in run["events"]] == ["START", "COMPLETE"]
    assert run["job"] == {"namespace": "assay-ml", "name": "train_potency_model"}
    assert f"dv-{run_id[:8]}" in run["inputs"][0]["dataset_versions"]
    assert run["outputs"][0]["name"] == "potency-model/3"
    assert run["training_runs"] == [f"tr-{run_id[:8]}"]

    # Each RunEvent is one event of the log, by the pipeline's service account, as sent.
    seq = run["events"][1]["seq"]
    status, page = server.call("GET", f"/api/v1/events?from={seq}&limit=1", server.admin)
    assert status == 200, page
    logged = page["events"][0]
    assert logged["action"] == "lineage.run_event"
    assert logged["payload"]["inputs"][0]["facets"]["schema"]["fields"][0]["name"] == "potency"
    assert logged["payload"]["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/")


def test_a_wrong_api_key_is_refused(server):
    with pytest.raises(requests.HTTPError) as refused:
        client(server.url, "mt_not-a-real-token").emit(event(RunState.START, str(uuid.uuid4())))
    assert refused.value.response.status_code == 401
