"""Decision records from a serving system: one record per prediction, buffered and sent in the
background in batches (``POST /api/v1/decisions:batch``), with a bounded queue and a flush at
exit; and the inclusion proof of one decision by request id, verified here.

    >>> logger = client.decision_logger(batch_size=1000)
    >>> logger.log(request_id="req-1", model_version="mv-3", environment="production",
    ...            input={"weight_mg": 251.5}, output={"label": "pass"}, confidence=0.97)
    >>> logger.flush()

The input's digest is computed here (SHA-256 of its RFC 8785 form, as the server computes
it), so only the digest leaves the process unless ``keep_input=True`` asks the server to keep
the input itself.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import hashlib
import json
import queue
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence

from .canonical import canonical_json
from .errors import ModeltrailError

if TYPE_CHECKING:
    from .client import Client

#: Most records the server takes in one batch.
MAX_BATCH = 10_000


def input_digest(value: Any) -> str:
    """The SHA-256 (hex) of a value's RFC 8785 canonical JSON, as the server computes it."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def decision_record(
    *,
    request_id: str,
    model_version: str,
    environment: str,
    output: Any,
    confidence: float,
    input: Any = None,
    input_digest_hex: Optional[str] = None,
    keep_input: bool = False,
    predicted_at: Optional[str] = None,
    attributions: Optional[Mapping[str, float]] = None,
) -> Dict[str, Any]:
    """One decision as the server takes it. ``predicted_at`` defaults to now (UTC);
    ``attributions`` maps feature names to their contributions."""
    if input is None and input_digest_hex is None:
        raise ValueError("give the input or its digest")
    record: Dict[str, Any] = {
        "request_id": request_id,
        "model_version": model_version,
        "environment": environment,
        "predicted_at": predicted_at
        or _dt.datetime.now(_dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        "output": output,
        "confidence": float(confidence),
    }
    if keep_input:
        record["input"] = input
        record["keep_input"] = True
    elif input is not None:
        record["input_digest"] = input_digest(input)
    if input_digest_hex is not None:
        record["input_digest"] = input_digest_hex
    if attributions:
        record["attributions"] = [
            {"feature": str(k), "value": float(v)} for k, v in attributions.items()
        ]
    return record


class DecisionQueueFull(ModeltrailError):
    """The logger's queue is full and the caller asked not to wait."""


@dataclass
class BatchFailure:
    """A batch the server refused or that could not be sent: the records are kept here (they
    were not written: the server takes a batch whole or not at all)."""

    error: Exception
    records: List[Dict[str, Any]] = field(default_factory=list)


class DecisionLogger:
    """Buffers decision records and sends them from a background thread, ``batch_size`` at a
    time (or whatever has gathered after ``flush_interval`` seconds).

    The queue holds at most ``max_queue`` records: :meth:`log` waits for room (``block``) or
    raises :class:`DecisionQueueFull`. :meth:`flush` waits until everything logged so far
    is durable in the log (or failed: see :attr:`failures`); :meth:`close` flushes and stops
    the thread, and runs at interpreter exit for every logger not closed.
    """

    def __init__(
        self,
        client: "Client",
        *,
        batch_size: int = 1000,
        max_queue: int = 100_000,
        flush_interval: float = 1.0,
        on_error: Optional[Callable[[BatchFailure], None]] = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be within 1..{MAX_BATCH}")
        self._client = client
        self._batch_size = batch_size
        self._interval = flush_interval
        self._on_error = on_error
        self._queue: "queue.Queue[Optional[Dict[str, Any]]]" = queue.Queue(maxsize=max_queue)
        self._closed = False
        self._lock = threading.Lock()
        #: batches that failed, with their records.
        self.failures: List[BatchFailure] = []
        #: the server's answer to each batch sent (``first_seq``, ``last_seq``, ``checkpoint``).
        self.receipts: List[Dict[str, Any]] = []
        self.sent = 0
        self._thread = threading.Thread(
            target=self._run, name="modeltrail-decisions", daemon=True
        )
        self._thread.start()
        ref = weakref.ref(self)

        def at_exit() -> None:
            logger = ref()
            if logger is not None:
                logger.close()

        self._at_exit = at_exit
        atexit.register(at_exit)

    def log(self, *, block: bool = True, timeout: Optional[float] = None, **fields: Any) -> None:
        """Queues one decision (the fields of :func:`decision_record`)."""
        self.put(decision_record(**fields), block=block, timeout=timeout)

    def put(
        self, record: Dict[str, Any], *, block: bool = True, timeout: Optional[float] = None
    ) -> None:
        """Queues one decision record already in the server's shape."""
        if self._closed:
            raise ModeltrailError("the decision logger is closed")
        try:
            self._queue.put(record, block=block, timeout=timeout)
        except queue.Full:
            raise DecisionQueueFull(
                f"the decision queue is full ({self._queue.maxsize} records)"
            ) from None

    def flush(self, timeout: Optional[float] = None) -> None:
        """Waits until every record queued so far has been sent (or has failed)."""
        if timeout is None:
            self._queue.join()
            return
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        if not done.wait(timeout):
            raise TimeoutError(f"decisions not all sent within {timeout} s")

    def close(self, timeout: Optional[float] = None) -> None:
        """Flushes and stops the background thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)
        atexit.unregister(self._at_exit)

    def __enter__(self) -> "DecisionLogger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: List[Dict[str, Any]] = []
            taken = 0
            try:
                first = self._queue.get()
            except Exception:  # pragma: no cover - the queue never raises without a timeout
                continue
            taken += 1
            if first is None:
                stop = True
            else:
                batch.append(first)
            deadline = threading.Event()
            timer = threading.Timer(self._interval, deadline.set)
            timer.start()
            while not stop and len(batch) < self._batch_size:
                try:
                    item = self._queue.get(timeout=0.05 if not deadline.is_set() else 0)
                except queue.Empty:
                    if deadline.is_set():
                        break
                    continue
                taken += 1
                if item is None:
                    stop = True
                else:
                    batch.append(item)
            timer.cancel()
            try:
                if batch:
                    self._send(batch)
            finally:
                for _ in range(taken):
                    self._queue.task_done()

    def _send(self, batch: Sequence[Dict[str, Any]]) -> None:
        try:
            answer = self._client.record_decisions(batch)
            self.receipts.append(answer)
            self.sent += len(batch)
        except Exception as e:  # the records are kept for the caller
            failure = BatchFailure(error=e, records=list(batch))
            self.failures.append(failure)
            if self._on_error is not None:
                try:
                    self._on_error(failure)
                except Exception:
                    pass


def ndjson(records: Sequence[Mapping[str, Any]]) -> bytes:
    """Records as JSON lines."""
    return b"".join(
        json.dumps(r, allow_nan=False, separators=(",", ":")).encode("utf-8") + b"\n"
        for r in records
    )
