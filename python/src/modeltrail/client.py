"""The :class:`Client`: one server, one credential, and the pinned view of its log.

It owns the calls of the REST API (records and their versions, signatures, datasets,
validation results, fairness assessments, explanations, monitoring batches, workflow steps,
release readiness and deployments, the log) and the client-side verification around them:

* every answer to a change carries a receipt (its events' sequence numbers and leaf hashes and
  the signed checkpoint that includes them); with ``verify=True`` (the default) the client
  checks the checkpoint's signature with the log's key, proves it consistent with the pinned
  checkpoint, moves the pin, and proves each new leaf included;
* every record read is proven included in a checkpoint consistent with the pin;
* :meth:`Client.verify_inclusion` does that on demand for an event, a record or a version, and
  for a full event recomputes its leaf from its canonical bytes.

When the server cannot prove something, a :class:`~modeltrail.errors.VerificationError` says
what; the write it concerns may already be in the log, and the error says which.
"""

from __future__ import annotations

import getpass
import os
import ssl
import sys
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import datasets as _datasets
from .canonical import canonical_json
from .checkpoint import Checkpoint, VerifierKey
from .errors import (
    ApiError,
    PasswordRequiredError,
    ProofError,
    VerificationError,
)
from .merkle import from_hex
from .monitoring import Columns, to_json_column, to_json_columns
from .records import Event, InclusionProof, Readiness, Receipt, Record
from .transport import Transport
from .verifier import LogVerifier

if TYPE_CHECKING:
    from .decisions import DecisionLogger

__all__ = ["Client", "MEANINGS"]

#: The meanings of an electronic signature (21 CFR 11.50).
MEANINGS = ("authored", "reviewed", "approved", "verified", "responsible")

#: Roles that may read the log's events (and so check a record's content against its leaf).
_LOG_READERS = ("qa", "auditor", "admin")

PathLike = Union[str, "os.PathLike[str]"]


def _q(segment: str) -> str:
    """A path segment, percent-encoded."""
    from urllib.parse import quote

    return quote(str(segment), safe="")


class Client:
    """A modeltrail server, as one user (a session token from :meth:`login`, or an API token).

    Args:
        url: the server, e.g. ``http://127.0.0.1:8080``.
        token: a session token or an API token (service accounts).
        public_key: the log's verifier key, when known from elsewhere (the server's
            ``verifier.key``); otherwise trusted on first use and pinned.
        pin_file: a file to keep the log key and the last verified checkpoint between runs;
            the next client proves the log only grew since.
        verify: check receipts of changes and record reads against the pinned log (default);
            :meth:`verify_inclusion` and :meth:`checkpoint` always verify.
        timeout: seconds per request.
        client_id: recorded in each event's ``client.client_id`` (the device check of
            21 CFR 11.10(h)).
        ssl_context: for https with a private CA.
    """

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        *,
        public_key: Union[str, VerifierKey, None] = None,
        pin_file: Optional[PathLike] = None,
        verify: bool = True,
        timeout: float = 60.0,
        client_id: str = "modeltrail-python",
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self._http = Transport(
            url, token, timeout=timeout, client_id=client_id, ssl_context=ssl_context
        )
        self.url = self._http.url
        self.verify = verify
        self._trust = LogVerifier(public_key=public_key, pin_file=pin_file, server=self.url)
        self._me: Optional[Dict[str, Any]] = None
        # Receipts to verify once the server allows it (after a required password change).
        self._pending: List[Any] = []

    def __repr__(self) -> str:
        who = self._me.get("user") if self._me else None
        return f"Client(url={self.url!r}, user={who!r}, verify={self.verify})"

    # -- authentication --------------------------------------------------------------------

    @classmethod
    def login(
        cls,
        url: str,
        username: str,
        password: Optional[str] = None,
        **options: Any,
    ) -> "Client":
        """Logs in with a user id and password and returns a client with the session.

        Without ``password`` it is asked for on the terminal (no echo). ``options`` are those
        of :class:`Client`. A wrong password raises
        :class:`~modeltrail.errors.AuthenticationError` (and counts toward the lockout).
        """
        client = cls(url, None, **options)
        if password is None:
            password = _ask_password(f"modeltrail password for {username} at {client.url}: ")
        answer = client._http.request(
            "POST",
            "/api/v1/auth/login",
            json_body={"username": username, "password": password},
            auth=False,
        )
        client._http.set_token(str(answer["token"]))
        client._me = {
            "user": answer.get("user", username),
            "name": answer.get("name"),
            "role": answer.get("role"),
            "must_change_password": answer.get("must_change_password", False),
            "password_expired": answer.get("password_expired", False),
        }
        if client.must_change_password:
            # Nothing but the password change is allowed yet (proofs included): the login's
            # receipt is verified with the change's.
            client._pending.append(answer.get("receipt"))
        else:
            client._after_write(answer.get("receipt"), "the login")
        return client

    @property
    def must_change_password(self) -> bool:
        """Whether the server demands a new password before anything else."""
        return bool(self._me and self._me.get("must_change_password"))

    def me(self, refresh: bool = False) -> Dict[str, Any]:
        """The caller's own account: ``user``, ``name``, ``role``, how they authenticated."""
        if self._me is None or refresh:
            answer = self._get("/api/v1/auth/me")
            merged = dict(answer.get("user") or {}) if isinstance(answer.get("user"), dict) else {}
            merged.update({k: v for k, v in answer.items() if k != "user"})
            user = answer.get("user")
            merged["user"] = user.get("id") if isinstance(user, dict) else user
            self._me = merged
        return dict(self._me)

    @property
    def username(self) -> str:
        """The caller's user id."""
        return str(self.me()["user"])

    def change_password(self, current_password: str, new_password: str) -> None:
        """Changes the caller's password (needed after the first login)."""
        answer = self._http.request(
            "POST",
            "/api/v1/auth/password",
            json_body={"current_password": current_password, "new_password": new_password},
        )
        if self._me is not None:
            self._me["must_change_password"] = False
        pending, self._pending = self._pending, []
        for receipt in pending:
            self._after_write(receipt, "the login")
        self._after_write((answer or {}).get("receipt"), "the password change")

    def logout(self) -> None:
        """Ends the session (an API token stays valid)."""
        answer = self._http.request("POST", "/api/v1/auth/logout")
        self._after_write((answer or {}).get("receipt"), "the logout")
        self._http.set_token(None)

    # -- users (administrators) ------------------------------------------------------------

    def create_user(
        self,
        id: str,
        name: str,
        role: str,
        *,
        password: Optional[str] = None,
        service: bool = False,
    ) -> Dict[str, Any]:
        """Creates a person (who changes ``password`` at the first login) or a service
        account; the server's answer (with ``temporary_password`` when it made one)."""
        body: Dict[str, Any] = {"id": id, "name": name, "role": role}
        if service:
            body["kind"] = "service"
        if password is not None:
            body["password"] = password
        return dict(self._post("/api/v1/users", body))

    def issue_token(self, user: str, label: str) -> str:
        """Issues an API token for a service account; the token (shown once)."""
        answer = self._post(f"/api/v1/users/{_q(user)}/tokens", {"label": label})
        return str(answer["token"])

    # -- records ---------------------------------------------------------------------------

    def record_types(self) -> List[str]:
        """The record types the server keeps."""
        return list(self._get("/api/v1/record-types")["types"])

    def schema(self, kind: str) -> Dict[str, Any]:
        """The JSON Schema of a record type's ``data``."""
        return dict(self._get(f"/api/v1/record-types/{_q(kind)}"))

    def create_record(
        self,
        kind: str,
        data: Mapping[str, Any],
        *,
        id: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> Record:
        """Creates version 1 of a record (``data`` must meet the type's schema; fields the
        server computes are refused)."""
        body: Dict[str, Any] = {"data": dict(data)}
        if id is not None:
            body["id"] = id
        if reason is not None:
            body["reason"] = reason
        return self._record_answer(self._post(f"/api/v1/records/{_q(kind)}", body))

    def get_record(self, kind: str, id: str, version: Optional[int] = None) -> Record:
        """A record at its latest version, or at ``version``; proven included in the log."""
        path = f"/api/v1/records/{_q(kind)}/{_q(id)}"
        if version is not None:
            path += f"/versions/{int(version)}"
        record = Record.from_json(self._get(path))
        if self.verify:
            self.verify_inclusion(record)
        return record

    def update_record(
        self,
        kind: str,
        id: str,
        data: Mapping[str, Any],
        *,
        version: int,
        reason: str,
    ) -> Record:
        """A new version made from ``version`` (the latest; a stale one is a
        :class:`~modeltrail.errors.ConflictError`), with the reason for the change."""
        body = {"data": dict(data), "version": int(version), "reason": reason}
        answer = self._http.request(
            "PUT", f"/api/v1/records/{_q(kind)}/{_q(id)}", json_body=body
        )
        return self._record_answer(answer)

    def void_record(self, kind: str, id: str, *, version: int, reason: str) -> Record:
        """Voids a record: a new version with the same content, marked void."""
        answer = self._post(
            f"/api/v1/records/{_q(kind)}/{_q(id)}/void",
            {"version": int(version), "reason": reason},
        )
        return self._record_answer(answer)

    def versions(self, kind: str, id: str) -> List[Dict[str, Any]]:
        """Every version, oldest first: who, when, why, ``seq`` and ``leaf``, the field-level
        ``changes`` from the one before, and the signatures on it."""
        answer = self._get(f"/api/v1/records/{_q(kind)}/{_q(id)}/versions")
        return list(answer["versions"])

    def diff(self, kind: str, id: str, from_version: int, to_version: int) -> List[Dict[str, Any]]:
        """The field-level changes between two versions."""
        answer = self._get(
            f"/api/v1/records/{_q(kind)}/{_q(id)}/diff",
            query={"from": from_version, "to": to_version},
        )
        return list(answer["changes"])

    def list_records(
        self, kind: str, *, after: Optional[str] = None, limit: Optional[int] = None
    ) -> List[Dict[str, Any]]:
        """One page of records of a type, in id order (``after`` the id given)."""
        answer = self._get(
            f"/api/v1/records/{_q(kind)}", query={"after": after, "limit": limit}
        )
        return list(answer["records"])

    def iter_records(self, kind: str, page: int = 200) -> Iterator[Dict[str, Any]]:
        """Every record of a type, page by page."""
        after: Optional[str] = None
        while True:
            records = self.list_records(kind, after=after, limit=page)
            yield from records
            if len(records) < page:
                return
            after = str(records[-1]["id"])

    # -- signatures ------------------------------------------------------------------------

    def sign(
        self,
        kind: str,
        id: str,
        version: int,
        meaning: str,
        password: Optional[str] = None,
        *,
        comment: Optional[str] = None,
    ) -> Record:
        """Signs ``version`` (the latest) of a record with ``meaning`` (authored, reviewed,
        approved, verified, responsible), re-authenticating with the password.

        Without ``password`` it is asked for on the terminal, naming what is being signed;
        with no terminal, :class:`~modeltrail.errors.PasswordRequiredError`. A wrong password
        is an :class:`~modeltrail.errors.AuthenticationError`. Needs a login session (API
        tokens cannot sign).
        """
        if meaning not in MEANINGS:
            raise ValueError(f"meaning {meaning!r} is not one of {', '.join(MEANINGS)}")
        user = self.username
        if password is None:
            password = _ask_password(
                f"Signing {kind} {id} version {version} as '{meaning}' (21 CFR Part 11 "
                f"electronic signature).\nPassword for {user}: "
            )
        body: Dict[str, Any] = {"meaning": meaning, "username": user, "password": password}
        if comment is not None:
            body["comment"] = comment
        answer = self._post(
            f"/api/v1/records/{_q(kind)}/{_q(id)}/versions/{int(version)}/signatures", body
        )
        return self._record_answer(answer, what=f"the signature on {kind} {id}")

    # -- datasets --------------------------------------------------------------------------

    def register_dataset(
        self,
        paths: Union[PathLike, Sequence[PathLike]],
        *,
        name: str,
        version: str,
        source: str,
        id: Optional[str] = None,
        upload: bool = True,
        quality_checks: Optional[Sequence[Mapping[str, Any]]] = None,
        fields: Optional[Mapping[str, Any]] = None,
        reason: Optional[str] = None,
    ) -> Record:
        """Registers a dataset version from files on disk, hashed here.

        Each file is streamed through SHA-256; the manifest (path, sha256, size) and its
        ``content_digest`` are computed as ``modeltrail dataset register`` does (see
        :mod:`modeltrail.datasets`) and recorded as a ``dataset_version``, with
        ``quality_checks`` (criteria such as ``rows >= 1000``) and any other schema ``fields``
        (``description``, ``collection_procedure``, ``splits``, ``suitability_statement``...).
        With ``upload`` each CSV and Parquet file is then sent for the server to check
        against the manifest and profile; the readiness checks are evaluated on the profile.
        Returns the record's latest version.
        """
        given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        files = _datasets.hash_files(_datasets.find_files(given))
        data: Dict[str, Any] = {
            "name": name,
            "version": version,
            "source": source,
            "content_digest": _datasets.content_digest(files),
            "manifest": [f.manifest_entry() for f in files],
        }
        form = _datasets.dataset_format(files)
        if form is not None:
            data["format"] = form
        if quality_checks is not None:
            data["quality_checks"] = [dict(c) for c in quality_checks]
        if fields:
            data.update(fields)
        record = self.create_record("dataset_version", data, id=id, reason=reason)
        if upload:
            for file in files:
                if _datasets.upload_content_type(file.path) is not None:
                    record = self.upload_dataset_file(record.id, file.disk_path, path=file.path)
        return record

    def upload_dataset_file(
        self,
        id: str,
        file: PathLike,
        *,
        path: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> Record:
        """Uploads one CSV or Parquet file of a dataset version (``path`` is its manifest
        path; the file name if not given), streamed from disk. The server checks it against
        the declared digest, profiles all files uploaded so far and evaluates the readiness
        checks; the answer is the dataset version's next version."""
        manifest_path = path if path is not None else Path(file).name
        content_type = _datasets.upload_content_type(manifest_path) or "application/octet-stream"
        answer = self._http.upload_file(
            f"/api/v1/dataset-versions/{_q(id)}/data",
            file,
            query={"path": manifest_path, "reason": reason},
            content_type=content_type,
        )
        return self._record_answer(answer, what=f"the upload of {manifest_path}")

    # -- evidence the server computes -------------------------------------------------------

    def record_validation_result(
        self,
        data: Mapping[str, Any],
        *,
        id: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> Record:
        """Records an executed validation protocol: ``data`` names the (approved) ``protocol``,
        the ``model_version`` and the ``metrics``; the server evaluates each acceptance
        criterion and the test data's independence, and records ``passed``."""
        return self._record_answer(
            self._post("/api/v1/validation-results", _body(data, id, reason))
        )

    def record_fairness_assessment(
        self,
        data: Mapping[str, Any],
        *,
        labels: Any,
        predictions: Any,
        sensitive: Union[Mapping[str, Any], Any],
        id: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> Record:
        """Records a fairness assessment the server computes from the true ``labels``, the
        model's ``predictions`` and each ``sensitive`` attribute's value per row (a mapping or
        a DataFrame of the attributes named in ``data["sensitive_attributes"]``): per-group
        rates, the disparity figures as Fairlearn defines them, the criteria and the verdict.
        Lists, numpy arrays and pandas Series are accepted."""
        body = _body(data, id, reason)
        body["labels"] = to_json_column(labels, nan_as_null=True)
        body["predictions"] = to_json_column(predictions, nan_as_null=True)
        groups = to_json_columns(sensitive, nan_as_null=True)
        body["sensitive"] = {
            name: [None if v is None else str(v) for v in column] for name, column in groups.items()
        }
        return self._record_answer(self._post("/api/v1/fairness-assessments", body))

    def record_explanation(
        self,
        data: Mapping[str, Any],
        *,
        attributions: Any,
        base_values: Any,
        outputs: Any = None,
        local_rows: Optional[Sequence[int]] = None,
        id: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> Record:
        """Records an explanation: ``data`` names the ``model_version``, the ``method`` (shap,
        lime...) and the ``feature_names``; from the ``attributions`` matrix (one row per
        explained prediction; a list of lists or a 2-D numpy array) the server computes global
        importance, checks additivity against ``outputs`` when given, and keeps
        ``local_rows`` as local explanations."""
        body = _body(data, id, reason)
        matrix = attributions.tolist() if hasattr(attributions, "tolist") else attributions
        body["attributions"] = [[float(x) for x in row] for row in matrix]
        if hasattr(base_values, "tolist"):
            base_values = base_values.tolist()
        body["base_values"] = base_values
        if outputs is not None:
            body["outputs"] = [float(x) for x in to_json_column(outputs)]
        body["local_rows"] = [int(r) for r in (local_rows or [])]
        return self._record_answer(self._post("/api/v1/explanations", body))

    def upload_monitoring_batch(
        self,
        plan: str,
        columns: Columns,
        *,
        window: Tuple[str, str],
        predictions: Any = None,
        scores: Any = None,
        labels: Any = None,
        features: Optional[Sequence[str]] = None,
        model_version: Optional[str] = None,
        prediction_errors: Optional[int] = None,
        prediction_error_sample: Optional[Sequence[str]] = None,
        id: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> Record:
        """Uploads a window of production data for the monitoring ``plan`` (approved by QA):
        ``columns`` is a pandas DataFrame or a mapping of feature name to values (lists, numpy
        arrays, Series); ``features`` picks the columns to send (all by default). The server
        computes each feature's drift against the plan's reference, the dataset verdict,
        performance when ``labels`` are given, and anomalies; a breach raises an exception
        and a draft change request in the same transaction (see the answer's ``data`` and the
        receipt's several events). ``window`` is (start, end), RFC 3339 times;
        ``prediction_errors`` the number of errors the serving system reported in it (with up
        to 20 of them in ``prediction_error_sample``)."""
        data = _batch_data(plan, window, model_version, prediction_errors, prediction_error_sample)
        body = _body(data, id, reason)
        body["columns"] = to_json_columns(columns, names=features)
        if predictions is not None:
            body["predictions"] = to_json_column(predictions, nan_as_null=True)
        if scores is not None:
            body["scores"] = [float(x) for x in to_json_column(scores)]
        if labels is not None:
            body["labels"] = to_json_column(labels, nan_as_null=True)
        return self._record_answer(self._post("/api/v1/monitoring-batches", body))

    def upload_monitoring_file(
        self,
        plan: str,
        file: PathLike,
        *,
        window: Tuple[str, str],
        predictions: Optional[str] = None,
        scores: Optional[str] = None,
        labels: Optional[str] = None,
        model_version: Optional[str] = None,
        prediction_errors: Optional[int] = None,
        prediction_error_sample: Optional[Sequence[str]] = None,
        id: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> Record:
        """As :meth:`upload_monitoring_batch`, from a CSV or Parquet file: the plan's features
        are read from the columns of their names; ``predictions``, ``scores`` and ``labels``
        name the file's columns holding those. The server keeps the file and records its name,
        SHA-256 and size in ``data.source``."""
        data = _batch_data(plan, window, model_version, prediction_errors, prediction_error_sample)
        record: Dict[str, Any] = _body(data, id, reason)
        named = {k: v for k, v in (("predictions", predictions), ("scores", scores),
                                   ("labels", labels)) if v is not None}
        if named:
            record["columns"] = named
        content = Path(file).read_bytes()
        media = _datasets.upload_content_type(Path(file).name) or "application/octet-stream"
        answer = self._http.post_multipart(
            "/api/v1/monitoring-batches/file",
            [
                ("record", None, "application/json", _json_bytes(record)),
                ("file", Path(file).name, media, content),
            ],
        )
        return self._record_answer(answer)

    # -- workflows, release, deployment -----------------------------------------------------

    def transition(self, kind: str, id: str, to: str, *, version: int, reason: str) -> Record:
        """Moves a change request, exception or CAPA to state ``to`` (from its ``version``,
        the latest). An illegal step or one whose needs are missing is a
        :class:`~modeltrail.errors.ConflictError` whose ``unmet`` names each."""
        answer = self._post(
            f"/api/v1/records/{_q(kind)}/{_q(id)}/transitions",
            {"to": to, "version": int(version), "reason": reason},
        )
        return self._record_answer(answer, what=f"the step of {kind} {id} to {to}")

    def workflow(self, kind: str, id: str) -> Dict[str, Any]:
        """Where a workflow record stands: its state, the steps taken, what each next step
        needs."""
        return dict(self._get(f"/api/v1/records/{_q(kind)}/{_q(id)}/workflow"))

    def release_readiness(self, model_version: str) -> Readiness:
        """The model version's lifecycle status and every release-gate condition, met or
        not."""
        answer = self._get(f"/api/v1/model-versions/{_q(model_version)}/release-readiness")
        return Readiness.from_json(model_version, answer)

    def deploy(
        self,
        model_version: str,
        *,
        environment: str,
        target: str,
        change_request: Optional[str] = None,
        artifact_sha256: Optional[str] = None,
        notes: Optional[str] = None,
        reason: Optional[str] = None,
        decisions: Optional[Mapping[str, Any]] = None,
    ) -> Record:
        """Records a deployment (``decisions``: the deployment's defaults for decision
        records: ``confidence_threshold``, ``max_override_rate``, ``min_reviews``). To ``production`` only through the release gate: otherwise
        :class:`~modeltrail.errors.ReleaseRefusedError`, whose ``unmet`` lists every missing
        condition (nothing is written)."""
        body: Dict[str, Any] = {"environment": environment, "target": target}
        for key, value in (
            ("change_request", change_request),
            ("artifact_sha256", artifact_sha256),
            ("notes", notes),
            ("reason", reason),
        ):
            if value is not None:
                body[key] = value
        if decisions is not None:
            body["decisions"] = dict(decisions)
        answer = self._post(f"/api/v1/model-versions/{_q(model_version)}/deployments", body)
        return self._record_answer(answer)

    # -- decision records ------------------------------------------------------------------

    def record_decisions(self, records: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        """Sends up to 10,000 decision records as one batch (a service account's token).
        The server takes the batch whole or refuses it whole (an
        :class:`~modeltrail.errors.InvalidRequestError` naming the first bad line); the answer
        holds ``first_seq``, ``last_seq`` and the signed ``checkpoint`` that includes them,
        which is verified and pinned here (with ``verify``)."""
        from .decisions import MAX_BATCH, ndjson

        if not 1 <= len(records) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} records, not {len(records)}")
        answer = self._http.request(
            "POST",
            "/api/v1/decisions:batch",
            body=ndjson(records),
            content_type="application/x-ndjson",
        )
        if self.verify and isinstance(answer, Mapping):
            checkpoint = self._accept(str(answer["checkpoint"]))
            if checkpoint.size != int(answer["tree_size"]):
                raise ProofError(
                    f"the batch's checkpoint is for size {checkpoint.size}, the answer says "
                    f"{answer['tree_size']}"
                )
        return dict(answer)

    def decision_logger(self, **options: Any) -> "DecisionLogger":
        """A :class:`~modeltrail.decisions.DecisionLogger` sending through this client
        (``batch_size``, ``max_queue``, ``flush_interval``, ``on_error``)."""
        from .decisions import DecisionLogger

        return DecisionLogger(self, **options)

    def decision(self, request_id: str) -> Dict[str, Any]:
        """A decision by request id: content, state and review."""
        return dict(self._get(f"/api/v1/decisions/{_q(request_id)}"))

    def decisions(self, **filters: Any) -> Dict[str, Any]:
        """One page of decisions (``model_version``, ``from``, ``to``, ``request_id``,
        ``min_confidence``, ``max_confidence``, ``review``, ``after``, ``limit``); pass the
        answer's ``next`` as ``after`` for the next page."""
        query = {k.rstrip("_"): v for k, v in filters.items() if v is not None}
        return dict(self._get("/api/v1/decisions", query=query))

    def review_queue(self, model_version: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """Every decision waiting for a person's review, in log order."""
        after: Optional[int] = None
        while True:
            page = self.decisions(
                review="undecided", model_version=model_version, after=after, limit=500
            )
            yield from page["decisions"]
            if page.get("next") is None:
                return
            after = int(page["next"])

    def review_decision(
        self,
        request_id: str,
        verdict: str,
        reason: str,
        password: Optional[str] = None,
        *,
        output: Any = None,
        meaning: str = "reviewed",
    ) -> Dict[str, Any]:
        """Accepts (``verdict="accept"``) or overrides (``"override"``, with ``output``) an
        undecided decision: an electronic signature, so the password is given again (asked
        on the terminal without ``password``)."""
        user = self.username
        if password is None:
            password = _ask_password(
                f"Reviewing decision {request_id} ({verdict}) as '{meaning}' (21 CFR Part 11 "
                f"electronic signature).\nPassword for {user}: "
            )
        body: Dict[str, Any] = {
            "verdict": verdict,
            "reason": reason,
            "meaning": meaning,
            "username": user,
            "password": password,
        }
        if output is not None:
            body["output"] = output
        answer = dict(self._post(f"/api/v1/decisions/{_q(request_id)}/review", body))
        self._after_write(answer.get("receipt"), f"the review of decision {request_id}")
        return answer

    def decision_proof(self, request_id: str) -> InclusionProof:
        """Proves the decision recorded under ``request_id`` included in the log: its leaf
        recomputed from the event's canonical bytes, the proof checked against a checkpoint
        signed by the log's key and consistent with the pin."""
        answer = self._get(f"/api/v1/decisions/{_q(request_id)}/proof")
        event = Event.from_json(dict(answer["event"]))
        ref = event.record or {}
        if ref.get("type") != "decision" or ref.get("id") != request_id:
            raise ProofError(f"the server proved {ref}, not decision {request_id}")
        leaf = event.leaf_hash()
        if leaf.hex() != answer["leaf"]:
            raise ProofError(
                f"decision {request_id} hashes to {leaf.hex()}, not the leaf {answer['leaf']} "
                "the server gave: the event was altered"
            )
        index = int(answer["index"])
        if index != event.seq:
            raise ProofError(f"the proof is for index {index}, the event is seq {event.seq}")
        checkpoint = self._accept(str(answer["checkpoint"]))
        proof = [from_hex(p, "proof") for p in answer["proof"]]
        self._trust.check_inclusion(leaf, index, checkpoint, proof)
        return InclusionProof(
            seq=index,
            leaf=leaf.hex(),
            tree_size=checkpoint.size,
            root=checkpoint.root_hex,
            proof=[p.hex() for p in proof],
            content_checked=True,
        )

    # -- the log ---------------------------------------------------------------------------

    def public_key(self) -> VerifierKey:
        """The log's verifier key: the pinned one, or the server's, trusted on first use."""
        if self._trust.key is None:
            text = self._http.request("GET", "/api/v1/log/public-key", auth=False, text=True)
            self._trust.trust_key(text.strip())
        assert self._trust.key is not None
        return self._trust.key

    @property
    def pinned_checkpoint(self) -> Optional[Checkpoint]:
        """The last checkpoint verified (None before the first)."""
        return self._trust.pinned

    def checkpoint(self) -> Checkpoint:
        """Fetches the server's latest checkpoint, verifies its signature, proves it consistent
        with the pinned one and pins it. Raises
        :class:`~modeltrail.errors.ConsistencyError` when the log did not only grow."""
        note = self._http.request("GET", "/api/v1/checkpoint", auth=False, text=True)
        return self._accept(note)

    def consistency_proof(self, first: int, second: int) -> List[bytes]:
        """The server's proof that the tree of ``second`` events extends that of ``first``."""
        answer = self._get("/api/v1/proofs/consistency", query={"from": first, "to": second})
        return [from_hex(h, "consistency proof hash") for h in answer.get("proof") or []]

    def inclusion_proof(self, index: int, size: int) -> List[bytes]:
        """The server's proof that event ``index`` is in the tree of ``size`` events."""
        answer = self._get("/api/v1/proofs/inclusion", query={"index": index, "size": size})
        return [from_hex(h, "inclusion proof hash") for h in answer.get("proof") or []]

    def events(
        self,
        *,
        start: int = 0,
        limit: int = 100,
        actor: Optional[str] = None,
        action: Optional[str] = None,
        record_type: Optional[str] = None,
        record_id: Optional[str] = None,
        since: Optional[str] = None,
        until: Optional[str] = None,
    ) -> Tuple[List[Event], Optional[int]]:
        """One page of the log's events from sequence number ``start``, filtered; and where
        to continue (None at the end). Needs a role that reads the log (qa, auditor,
        admin)."""
        answer = self._get(
            "/api/v1/events",
            query={
                "from": start,
                "limit": limit,
                "actor": actor,
                "action": action,
                "record_type": record_type,
                "record_id": record_id,
                "since": since,
                "until": until,
            },
        )
        events = [Event.from_json(e) for e in answer.get("events") or []]
        following = answer.get("next")
        return events, (int(following) if following is not None else None)

    def iter_events(self, **filters: Any) -> Iterator[Event]:
        """Every event matching ``filters`` (those of :meth:`events`), page by page."""
        start = int(filters.pop("start", 0))
        while True:
            page, following = self.events(start=start, **filters)
            yield from page
            if following is None:
                return
            start = following

    def event(self, seq: int) -> Event:
        """The event at sequence number ``seq``."""
        page, _ = self.events(start=seq, limit=1)
        if not page or page[0].seq != seq:
            raise ProofError(f"the server did not return event {seq}")
        return page[0]

    def verify_inclusion(
        self,
        item: Union[Event, Record, Mapping[str, Any]],
        *,
        check_content: Optional[bool] = None,
    ) -> InclusionProof:
        """Proves that an event is in the log, against a checkpoint signed by the log's key
        and consistent with the pin (fetching and pinning a newer one when needed).

        ``item`` is an :class:`~modeltrail.records.Event` (its leaf is recomputed from its
        canonical bytes and must equal the leaf the server gave with it), a
        :class:`~modeltrail.records.Record`, or a dict of either shape or a version from
        :meth:`versions` (``seq`` and ``leaf``). For a record, ``check_content`` (default: when
        the caller's role reads the log) reads the event back and checks that it hashes to the
        record's leaf and holds its type, id, version and content.

        Raises :class:`~modeltrail.errors.ProofError` when the server cannot prove it.
        """
        data: Any = None
        expect: Optional[Tuple[str, str, int]] = None
        content_checked = False
        if isinstance(item, Mapping) and "actor" in item and "timestamp" in item:
            item = Event.from_json(dict(item))
        if isinstance(item, Event):
            seq = item.seq
            leaf = item.leaf_hash()
            if item.claimed_leaf is not None and from_hex(item.claimed_leaf, "leaf") != leaf:
                raise ProofError(
                    f"event {seq}'s content hashes to leaf {leaf.hex()}, not the "
                    f"{item.claimed_leaf} the server gave: the event was altered"
                )
            content_checked = True
        else:
            if isinstance(item, Record):
                seq, leaf_text = item.seq, item.leaf
                data, expect = item.data, (item.kind, item.id, item.version)
            elif isinstance(item, Mapping) and "seq" in item and "leaf" in item:
                seq, leaf_text = int(item["seq"]), str(item["leaf"])
                if "data" in item and "type" in item:
                    data = item["data"]
                    expect = (str(item["type"]), str(item["id"]), int(item["version"]))
            else:
                raise TypeError("verify_inclusion takes an Event, a Record or their JSON")
            leaf = from_hex(leaf_text, "leaf")
            if check_content is None:
                check_content = self._reads_log()
            if check_content:
                self._check_content(seq, leaf, data, expect)
                content_checked = True
        checkpoint = self._checkpoint_covering(seq)
        proof = self.inclusion_proof(seq, checkpoint.size)
        self._trust.check_inclusion(leaf, seq, checkpoint, proof)
        return InclusionProof(
            seq=seq,
            leaf=leaf.hex(),
            tree_size=checkpoint.size,
            root=checkpoint.root_hex,
            proof=[p.hex() for p in proof],
            content_checked=content_checked,
        )

    def verify_receipt(self, receipt: Union[Receipt, Mapping[str, Any]]) -> List[InclusionProof]:
        """Verifies what a change appended: the receipt's checkpoint (signature, consistency
        with the pin) and each new leaf's inclusion in it."""
        if not isinstance(receipt, Receipt):
            receipt = Receipt.from_json(dict(receipt))
        if len(receipt.seq) != len(receipt.leaf):
            raise ProofError("the receipt's sequence numbers and leaves do not pair up")
        checkpoint = self._accept(receipt.checkpoint)
        if checkpoint.size != receipt.tree_size:
            raise ProofError(
                f"the receipt says tree size {receipt.tree_size}, its checkpoint "
                f"{checkpoint.size}"
            )
        proven = []
        for seq, leaf_text in zip(receipt.seq, receipt.leaf):
            leaf = from_hex(leaf_text, "leaf")
            proof = self.inclusion_proof(seq, checkpoint.size)
            self._trust.check_inclusion(leaf, seq, checkpoint, proof)
            proven.append(
                InclusionProof(
                    seq=seq,
                    leaf=leaf_text,
                    tree_size=checkpoint.size,
                    root=checkpoint.root_hex,
                    proof=[p.hex() for p in proof],
                    content_checked=False,
                )
            )
        return proven

    # -- internals -------------------------------------------------------------------------

    def _get(self, path: str, query: Optional[Mapping[str, Any]] = None) -> Any:
        return self._http.request("GET", path, query=query)

    def _post(self, path: str, body: Any) -> Any:
        return self._http.request("POST", path, json_body=body)

    def _reads_log(self) -> bool:
        try:
            role = self.me().get("role")
        except ApiError:
            return False
        return role in _LOG_READERS

    def _accept(self, note: str) -> Checkpoint:
        self.public_key()
        checkpoint = self._trust.open(note)
        self._trust.advance(checkpoint, self.consistency_proof)
        return checkpoint

    def _checkpoint_covering(self, seq: int) -> Checkpoint:
        pinned = self._trust.pinned
        if pinned is not None and pinned.size > seq:
            return pinned
        latest = self.checkpoint()
        if latest.size <= seq:
            raise ProofError(
                f"event {seq} is beyond the server's signed checkpoint (size {latest.size})"
            )
        return latest

    def _check_content(
        self,
        seq: int,
        leaf: bytes,
        data: Any,
        expect: Optional[Tuple[str, str, int]],
    ) -> None:
        event = self.event(seq)
        if event.leaf_hash() != leaf:
            raise ProofError(
                f"event {seq} read back from the log hashes to {event.leaf_hash().hex()}, not "
                f"the record's leaf {leaf.hex()}"
            )
        if expect is not None:
            ref = event.record or {}
            found = (ref.get("type"), ref.get("id"), ref.get("version"))
            if found != expect:
                raise ProofError(
                    f"event {seq} is about {found}, not the record version {expect} the server "
                    "showed"
                )
        if data is not None and canonical_json(event.payload) != canonical_json(data):
            raise ProofError(
                f"the record's content differs from what event {seq} holds in the log"
            )

    def _after_write(self, receipt: Any, what: str) -> None:
        if not self.verify or not isinstance(receipt, Mapping):
            return
        try:
            self.verify_receipt(receipt)
        except VerificationError as e:
            seqs = ", ".join(str(s) for s in receipt.get("seq", []))
            raise type(e)(
                f"{what} was answered (events {seqs}) but the server could not prove it: {e}"
            ) from e

    def _record_answer(self, answer: Any, what: Optional[str] = None) -> Record:
        record = Record.from_json(answer)
        self._after_write(answer.get("receipt"), what or f"{record.kind} {record.id}")
        return record


def _batch_data(
    plan: str,
    window: Tuple[str, str],
    model_version: Optional[str],
    prediction_errors: Optional[int],
    sample: Optional[Sequence[str]],
) -> Dict[str, Any]:
    start, end = window
    data: Dict[str, Any] = {"plan": plan, "window": {"start": start, "end": end}}
    if model_version is not None:
        data["model_version"] = model_version
    if prediction_errors is not None:
        errors: Dict[str, Any] = {"count": int(prediction_errors)}
        if sample:
            errors["sample"] = [str(e) for e in sample]
        data["prediction_errors"] = errors
    return data


def _json_bytes(value: Any) -> bytes:
    import json

    return json.dumps(value, allow_nan=False).encode("utf-8")


def _body(data: Mapping[str, Any], id: Optional[str], reason: Optional[str]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"data": dict(data)}
    if id is not None:
        body["id"] = id
    if reason is not None:
        body["reason"] = reason
    return body


def _ask_password(prompt: str) -> str:
    """Asks for a password on the terminal, without echo."""
    if not (sys.stdin is not None and sys.stdin.isatty()):
        raise PasswordRequiredError(
            "a password is needed and there is no terminal to ask on: pass password=..."
        )
    password = getpass.getpass(prompt)
    if not password:
        raise PasswordRequiredError("no password given")
    return password

