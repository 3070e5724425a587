#!/usr/bin/env python3
"""The same MLflow client workload against modeltrail and against a real `mlflow server`
(SQLite backend, one worker), one after the other on loopback ports, measuring the server's
CPU time per call.

Both servers run on this machine with their own temporary directories. The workload is driven
by the real `mlflow` client (MlflowClient) in this process, identically for both: an
experiment, RUNS runs each with PARAMS log_param calls, METRICS log_metric calls (one key, one
per step), one log_batch holding METRICS more metric values, TAGS set_tag calls, one small
log_artifact and the end of the run; then for every run get_run and get_metric_history, two
search_runs, a registered model and one version per run of the first REGISTER runs.

What is measured, and how:
- calls: HTTP requests the server answered during the measured workload, counted by the server
  (modeltrail: its `modeltrail_http_requests_total` on /metrics; MLflow: the lines of uvicorn's
  access log, which `mlflow server` writes by default) and, as a cross-check, by the client
  (every request the `requests` transport adapter sends). The two must agree.
- server CPU: user + system time of the server process and every process below it, read from
  /proc/PID/stat (utime, stime, and cutime/cstime for children that already exited), summed
  over the tree; sampled after a warm-up (WARMUP full runs in an experiment of their own, so
  one-time costs such as MLflow's lazy imports are left out) and again after the workload.
- wall: the workload's elapsed time as the client saw it (client and server share the cores).
- durability (modeltrail): the log's tree size from /api/v1/checkpoint and the events appended
  during the workload; then the server is stopped and `modeltrail verify DATA_DIR` must pass.
  For MLflow the runs read back from its SQLite file after the server stopped are counted.

Prints a table and one JSON line (prefixed `BENCH_JSON `). Exit status 1 when a server fails a
call, the call counts disagree, or verify fails; the CPU ratio itself never fails the run.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADMIN_PASSWORD = "admin-password-for-the-mlflow-bench"
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Process-tree CPU time from /proc.

def _stat(pid: int):
    """(ppid, utime+stime, cutime+cstime) in clock ticks, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    parts = [p.decode(errors="replace") for p in raw.split(b"\0") if p]
    return " ".join(parts)[:90]


def tree_cpu(root: int):
    """CPU seconds of `root` and all its descendants (live ones plus the exited children they
    have waited for), and the per-process figures."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = _stat(int(entry))
            if s:
                table[int(entry)] = s
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, per = 0, {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid not in table:
            continue
        _, own, reaped = table[pid]
        total += own + reaped
        per[pid] = (own + reaped) / TICK
        todo.extend(children.get(pid, []))
    return total / TICK, per


# ---------------------------------------------------------------------------------------------
# Small helpers.

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, token: str | None = None, body=None, raw: bool = False):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = response.read()
            return response.status, payload.decode() if raw else json.loads(payload or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def wait_until_up(url: str, process: subprocess.Popen, log: Path, seconds: float):
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                raise SystemExit(f"server did not start ({url}):\n{log.read_text()[-4000:]}")
            time.sleep(0.2)


def stop(process: subprocess.Popen):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ClientCounter:
    """Counts every HTTP request the `requests` library sends (the MLflow client's transport),
    at the transport adapter: one count per request on the wire, retries made by the adapter's
    urllib3 below it excepted (the server-side count would show those)."""

    def __init__(self):
        import requests.adapters

        self.count = 0
        self.by_path = {}
        self.refused = []  # (method path, status) of every answer but 2xx, warm-up included
        original = requests.adapters.HTTPAdapter.send
        counter = self

        def send(adapter, request, *args, **kwargs):
            counter.count += 1
            path = request.path_url.split("?")[0]
            key = f"{request.method} {path}"
            counter.by_path[key] = counter.by_path.get(key, 0) + 1
            response = original(adapter, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                counter.refused.append((key, response.status_code))
            return response

        requests.adapters.HTTPAdapter.send = send

    def reset(self):
        self.count = 0
        self.by_path = {}

    def take_refused(self):
        refused, self.refused = self.refused, []
        return refused


# ---------------------------------------------------------------------------------------------
# The workload.

def one_run(client, experiment_id: str, name: str, args, artifact: Path):
    run = client.create_run(experiment_id, run_name=name)
    run_id = run.info.run_id
    for i in range(args.params):
        client.log_param(run_id, f"param_{i}", f"value-{i}")
    for step in range(args.metrics):
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    batch = [Metric("accuracy", 0.5 + 0.5 * step / max(args.metrics, 1), now, step)
             for step in range(args.metrics)]
    client.log_batch(run_id, metrics=batch)
    for i in range(args.tags):
        client.set_tag(run_id, f"tag_{i}", f"t{i}")
    client.log_artifact(run_id, str(artifact))
    client.set_terminated(run_id)
    return run_id


def workload(client, args, artifact: Path, prefix: str):
    """The measured workload; returns what it checked."""
    experiment_id = client.create_experiment(f"{prefix}-bench")
    run_ids = [one_run(client, experiment_id, f"run-{i:04d}", args, artifact)
               for i in range(args.runs)]
    for run_id in run_ids:
        got = client.get_run(run_id)
        assert got.info.status == "FINISHED", got.info
        assert len(got.data.params) == args.params and len(got.data.tags) >= args.tags
        history = client.get_metric_history(run_id, "loss")
        assert len(history) == args.metrics, len(history)
    found = client.search_runs([experiment_id], filter_string="metrics.loss < 0.5",
                               max_results=1000)
    assert len(found) == (args.runs if args.metrics > 1 else 0), len(found)
    ordered = client.search_runs([experiment_id], filter_string="params.param_0 = 'value-0'",
                                 order_by=["attributes.start_time DESC"], max_results=1000)
    assert len(ordered) == (args.runs if args.params else 0), len(ordered)
    model = f"{prefix}-model"
    client.create_registered_model(model)
    versions = 0
    for run_id in run_ids[:args.register]:
        run = client.get_run(run_id)
        client.create_model_version(model, source=run.info.artifact_uri, run_id=run_id)
        versions += 1
    assert len(client.search_model_versions(f"name = '{model}'")) == versions
    return {"experiment_id": experiment_id, "runs": len(run_ids), "versions": versions}


def drive(name: str, url: str, args, counter: ClientCounter, artifact: Path,
          server_pid: int, server_calls, snapshot=lambda: None):
    """Warm up, sample, run the workload, sample again."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    warm = client.create_experiment("warm-up")
    for i in range(args.warmup):
        one_run(client, warm, f"warm-{i}", args, artifact)
    client.search_experiments(max_results=1)
    time.sleep(0.5)  # let the warm-up's last writes settle before sampling
    before = snapshot()
    calls_before = server_calls()
    cpu_before, per_before = tree_cpu(server_pid)
    counter.reset()
    start = time.perf_counter()
    checked = workload(client, args, artifact, name)
    wall = time.perf_counter() - start
    cpu_after, per_process = tree_cpu(server_pid)
    client_calls = counter.count
    calls = server_calls() - calls_before
    return {
        "before": before,
        "refused": counter.take_refused(),
        "calls": calls,
        "client_calls": client_calls,
        "by_path": dict(sorted(counter.by_path.items())),
        "wall_s": wall,
        "cpu_s": cpu_after - cpu_before,
        "cpu_ms_per_call": 1000 * (cpu_after - cpu_before) / max(calls, 1),
        # CPU seconds in the measured window, by process of the server's tree.
        "processes": {f"{pid} {_cmdline(pid)}": round(s - per_before.get(pid, 0.0), 2)
                      for pid, s in per_process.items()},
        "checked": checked,
    }


# ---------------------------------------------------------------------------------------------
# The two servers.

def bench_modeltrail(args, tmp: Path, counter: ClientCounter, artifact: Path):
    data_dir = tmp / "modeltrail-data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / "modeltrail.log"
    env = dict(os.environ, MODELTRAIL_ADMIN_PASSWORD=ADMIN_PASSWORD, RUST_LOG="warn")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(args.modeltrail), "serve", "--data-dir", str(data_dir), "--listen",
             f"127.0.0.1:{port}"], env=env, stdout=out, stderr=out)
    try:
        wait_until_up(f"{url}/healthz", process, log, 60)
        status, answer = http("POST", f"{url}/api/v1/auth/login", None,
                              {"username": "admin", "password": ADMIN_PASSWORD})
        assert status == 200, answer
        admin = answer["token"]
        status, answer = http("POST", f"{url}/api/v1/users", admin,
                              {"id": "bench", "name": "bench", "role": "developer",
                               "kind": "service"})
        assert status == 201, answer
        status, answer = http("POST", f"{url}/api/v1/users/bench/tokens", admin,
                              {"label": "mlflow-bench"})
        assert status in (200, 201), answer
        os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
        os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
        os.environ["MLFLOW_TRACKING_TOKEN"] = answer["token"]

        def metrics():
            status, text = http("GET", f"{url}/metrics", admin, raw=True)
            assert status == 200, text
            return text

        def served():
            # Every request counted by the server, but the bench's own reads of /metrics and
            # the checkpoint.
            n = 0
            for line in metrics().splitlines():
                if line.startswith("modeltrail_http_requests_total{") and \
                        'route="/metrics"' not in line and \
                        'route="/api/v1/checkpoint"' not in line:
                    n += int(line.rsplit(" ", 1)[1])
            return n

        def appended():
            for line in metrics().splitlines():
                if line.startswith("modeltrail_appended_events_total"):
                    return int(line.rsplit(" ", 1)[1])
            raise AssertionError("no modeltrail_appended_events_total on /metrics")

        def tree_size():
            # A signed note: origin, tree size, root hash, time, then the signature.
            status, text = http("GET", f"{url}/api/v1/checkpoint", raw=True)
            assert status == 200, text
            return int(text.splitlines()[1])

        result = drive("modeltrail", url, args, counter, artifact, process.pid, served,
                       lambda: (tree_size(), appended()))
        result["tree_size_before"], appended_before = result["before"]
        result["events_appended"] = appended() - appended_before
        result["tree_size"] = tree_size()
        # The events of the measured workload, by action (read after it, outside the window).
        actions, at = {}, result["tree_size_before"]
        while at is not None and at < result["tree_size"]:
            status, page = http("GET", f"{url}/api/v1/events?from={at}&limit=1000", admin)
            assert status == 200, page
            for event in page["events"]:
                if event.get("seq", at) < result["tree_size"]:
                    actions[event["action"]] = actions.get(event["action"], 0) + 1
            at = page["next"]
        result["actions"] = dict(sorted(actions.items()))
    finally:
        os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        stop(process)
    verify = subprocess.run([str(args.modeltrail), "verify", str(data_dir)],
                            capture_output=True, text=True, timeout=600)
    result["verify_exit"] = verify.returncode
    result["verify"] = (verify.stdout + verify.stderr).strip()
    result["log"] = str(log)
    return result


def bench_mlflow(args, tmp: Path, counter: ClientCounter, artifact: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp / "mlflow.log"
    access = tmp / "mlflow-access.log"  # uvicorn's access log goes to stdout
    db = tmp / "mlflow.db"
    command = [args.mlflow, "server", "--backend-store-uri", f"sqlite:///{db}",
               "--artifacts-destination", str(tmp / "mlflow-artifacts"),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    # MLflow 3 starts a job runner beside the web server (a supervisor and eight huey consumers
    # for GenAI jobs: scorers, trace rollups) that this workload never uses; its polling would
    # be charged to MLflow. Off unless --mlflow-jobs.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "true" if args.mlflow_jobs else "false"
    with open(access, "wb") as out, open(log, "wb") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err, cwd=tmp,
                                   start_new_session=True)
    try:
        wait_until_up(f"{url}/health", process, log, 300)

        def served():
            # One access-log line per answered request: '... "POST /api/2.0/... HTTP/1.1" 200'
            return sum(1 for line in access.read_text(errors="replace").splitlines()
                       if " HTTP/1." in line)

        result = drive("mlflow", url, args, counter, artifact, process.pid, served)
    finally:
        stop(process)
    with sqlite3.connect(db) as con:
        result["runs_in_db"] = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        result["metrics_in_db"] = con.execute("SELECT count(*) FROM metrics").fetchone()[0]
    result["log"] = str(log)
    return result


def main():
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=int(env("BENCH_RUNS", "50")))
    parser.add_argument("--params", type=int, default=int(env("BENCH_PARAMS", "10")))
    parser.add_argument("--metrics", type=int, default=int(env("BENCH_METRICS", "50")),
                        help="log_metric calls per run (and as many values in its log_batch)")
    parser.add_argument("--tags", type=int, default=int(env("BENCH_TAGS", "5")))
    parser.add_argument("--register", type=int, default=int(env("BENCH_REGISTER", "5")),
                        help="model versions registered (from the first runs)")
    parser.add_argument("--warmup", type=int, default=int(env("BENCH_WARMUP", "1")),
                        help="full runs before measuring")
    parser.add_argument("--only", choices=["modeltrail", "mlflow"], default=env("BENCH_ONLY"))
    parser.add_argument("--mlflow-jobs", action="store_true",
                        default=env("BENCH_MLFLOW_JOBS", "") not in ("", "0", "false"),
                        help="leave MLflow's job runner on (its default; off for the bench)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    target = Path(env("CARGO_TARGET_DIR", str(ROOT / "target")))
    parser.add_argument("--modeltrail", type=Path,
                        default=Path(env("MODELTRAIL_BIN", str(target / "release" / "modeltrail"))))
    parser.add_argument("--mlflow", default=str(Path(sys.executable).parent / "mlflow"))
    args = parser.parse_args()

    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    counter = ClientCounter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-mlflow-"))
    artifact = tmp / "notes.txt"
    artifact.write_text("a small artifact for the benchmark\n" * 16)
    # No retries, so the client's count is the server's; no run URLs printed.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # No usage telemetry from the client or the MLflow server (no outside network, no noise).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    results = {}
    failed = []
    try:
        if args.only in (None, "modeltrail"):
            print(f"== modeltrail ({args.modeltrail})", flush=True)
            results["modeltrail"] = bench_modeltrail(args, tmp, counter, artifact)
        if args.only in (None, "mlflow"):
            print(f"== mlflow server {mlflow.__version__} (SQLite, 1 worker)", flush=True)
            results["mlflow"] = bench_mlflow(args, tmp, counter, artifact)
    except BaseException:
        print(f"kept {tmp} for inspection", file=sys.stderr)
        raise

    for name, r in results.items():
        if r["calls"] != r["client_calls"]:
            failed.append(f"{name}: the server counted {r['calls']} calls, the client "
                          f"{r['client_calls']}")
        # The MLflow client asks /api/3.0/mlflow/server-info before an artifact upload (for
        # multipart and presigned-upload support) and takes a refusal as "neither": modeltrail
        # has no such route and answers 404, which the client handles. Reported, not failed.
        refused = [(k, s) for k, s in r["refused"]
                   if (k, s) != ("GET /api/3.0/mlflow/server-info", 404)]
        tolerated = len(r["refused"]) - len(refused)
        if tolerated:
            print(f"note: {name} answered GET /api/3.0/mlflow/server-info with 404 {tolerated} "
                  f"times (warm-up included); the client carries on without it")
        if refused:
            failed.append(f"{name}: answers other than 2xx: {refused[:10]}")
    mt = results.get("modeltrail")
    if mt and (mt["verify_exit"] != 0 or not mt["verify"].startswith("OK")):
        failed.append(f"modeltrail verify failed: {mt['verify']}")

    print()
    print(f"workload: {args.runs} runs x ({args.params} log_param, {args.metrics} log_metric, "
          f"1 log_batch of {args.metrics} metrics, {args.tags} set_tag, 1 log_artifact, end), "
          f"get_run + get_metric_history per run, 2 search_runs, "
          f"{min(args.register, args.runs)} model versions")
    print(f"{'server':<12}{'calls':>8}{'wall s':>10}{'calls/s':>10}{'CPU s':>10}"
          f"{'CPU ms/call':>13}")
    for name, r in results.items():
        print(f"{name:<12}{r['calls']:>8}{r['wall_s']:>10.2f}{r['calls'] / r['wall_s']:>10.0f}"
              f"{r['cpu_s']:>10.2f}{r['cpu_ms_per_call']:>13.3f}")
    summary = {"mlflow_version": mlflow.__version__, "runs": args.runs, "params": args.params,
               "metrics": args.metrics, "tags": args.tags, "register": args.register,
               "warmup": args.warmup}
    for name, r in results.items():
        summary[name] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                         if k in ("calls", "client_calls", "wall_s", "cpu_s", "cpu_ms_per_call",
                                  "events_appended", "tree_size", "verify_exit", "runs_in_db")}
    if mt and "mlflow" in results:
        ml = results["mlflow"]
        ratio = ml["cpu_ms_per_call"] / mt["cpu_ms_per_call"] if mt["cpu_ms_per_call"] else None
        summary["cpu_per_call_ratio"] = round(ratio, 1) if ratio else None
        summary["target_met"] = bool(ratio and ratio >= 20)
        # The same workload's whole CPU, regardless of how many calls each server was asked.
        summary["cpu_total_ratio"] = round(ml["cpu_s"] / mt["cpu_s"], 1) if mt["cpu_s"] else None
        print(f"MLflow / modeltrail server CPU per call: {ratio:.1f}x "
              f"(target >= 20x: {'met' if ratio and ratio >= 20 else 'NOT met'}); "
              f"CPU total {ml['cpu_s']:.2f} s / {mt['cpu_s']:.2f} s")
    if mt:
        print(f"modeltrail ledger: {mt['events_appended']} events appended for {mt['calls']} "
              f"calls; tree size {mt['tree_size']} ({mt['tree_size_before']} before the workload); "
              f"verify: {mt['verify'].splitlines()[0] if mt['verify'] else '?'} "
              f"(exit {mt['verify_exit']})")
    if mt:
        reads = sum(n for k, n in mt["by_path"].items() if k.startswith("GET "))
        print(f"  {mt['calls'] - reads} write calls, {reads} reads (GET); events by action: "
              f"{json.dumps(mt['actions'])}")
    if "mlflow" in results:
        ml = results["mlflow"]
        print(f"mlflow database after stop: {ml['runs_in_db']} runs, {ml['metrics_in_db']} "
              f"metric rows")
    for name, r in results.items():
        print(f"{name} server processes, CPU s in the window:")
        for process, seconds in r["processes"].items():
            print(f"  {seconds:8.2f}  {process}")
    if os.environ.get("BENCH_VERBOSE"):
        for name, r in results.items():
            print(f"{name} calls by path: {json.dumps(r['by_path'], indent=1)}")
    print("BENCH_JSON " + json.dumps(summary, sort_keys=True))
    for f in failed:
        print(f"FAILED: {f}", file=sys.stderr)
    if failed or args.keep:
        print(f"kept {tmp} for inspection", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
