"""moto as the local stack's AWS, with what moto 5.2.5 gets wrong about S3 and DynamoDB put right.

:func:`patch_moto` changes moto in this process (idempotent; call it before ``mock_aws`` or a
moto server handles requests):

- **Deletes notify as S3 does.** moto sends no ``ObjectRemoved:DeleteMarkerCreated`` for a plain
  delete on a versioned bucket, and ``ObjectRemoved:Delete`` for a version deleted by id only
  when it was the key's last one. Here every delete sends what S3 sends, through moto's own
  sender (so the bucket's prefix/suffix and event-name filters apply), one record per object of
  a ``DeleteObjects`` too.
- **Records have S3's shape:** ``versionId`` (versioned buckets), a ``sequencer`` that grows with
  every event, no size or ETag on removals, and the identity fields Powertools' model requires.
- **Keys over 1,024 UTF-8 bytes are refused** (``KeyTooLongError``, HTTP 400) by every
  operation that creates a key: PutObject (and POST uploads), CopyObject, CreateMultipartUpload.
- **Requests are dispatched at a constant cost.** moto's server finds each request's service by
  listing its own package directory (an ``isdir`` per service) and trying every service's URL
  patterns, under one lock: a quarter of its CPU in a bulk publish. Both answers depend only on
  the host asked for, so they are remembered.
- **DynamoDB requests run one at a time.** moto's transactions deep-copy a table while other
  requests change it (``RuntimeError: dictionary changed size during iteration``, a 500); AWS
  has no such failure, so the local stack must not have it either.

:func:`start` runs a moto server with these patches, by default in a process of its own (moto
is pure Python: beside the functions in one process, the GIL gives both one core), and returns
a :class:`MotoServer` with ``endpoint_url`` and ``stop()``. ``python -m pressline.local.motoserver``
is that process. This package is never in the Lambda layer (see shared/Makefile).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

MAX_KEY_BYTES = 1024  # S3's limit on an object key, in UTF-8 bytes
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}
LOCAL_PRINCIPAL = "AWS:LOCAL"  # stands for the caller in records (moto does not know it)

_patch_lock = threading.Lock()
_patched = False


def patch_moto() -> None:
    """Apply every fix above to moto in this process; calling it again changes nothing."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        _patch_key_length()
        _patch_event_records()
        _patch_deletes()
        _patch_dynamodb_serialization()
        _patch_transaction_backup()
        _patch_sqs_costs()
        _patch_dispatch_costs()
        _patched = True


# --------------------------------------------------------------------------- key length
@functools.cache
def _key_too_long_class() -> type[Exception]:
    from moto.s3.exceptions import S3ClientError

    class KeyTooLongError(S3ClientError):
        code = "KeyTooLongError"

        def __init__(self, size: int) -> None:
            super().__init__("Your key is too long")
            self.size = size  # S3 also answers <Size> and <MaxSizeAllowed>
            self.max_size_allowed = MAX_KEY_BYTES

    return KeyTooLongError


def key_too_long_error(key: str) -> Exception:
    """S3's answer to a key over the limit: code ``KeyTooLongError``, HTTP 400."""
    return _key_too_long_class()(len(key.encode("utf-8", "surrogatepass")))


def _check_key(key: str) -> None:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise key_too_long_error(key)


def _patch_key_length() -> None:
    from moto.s3.models import S3Backend

    def checked(method: Callable[..., Any], key_argument: str, position: int) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            key = kwargs.get(key_argument, args[position] if len(args) > position else None)
            if isinstance(key, str):
                _check_key(key)
            return method(self, *args, **kwargs)

        return wrapper

    # (method, the key's parameter name, its position after self) in moto 5.2.5's signatures.
    # PostObject (a browser form upload) ends in put_object too.
    S3Backend.put_object = checked(S3Backend.put_object, "key_name", 1)  # type: ignore[method-assign]
    S3Backend.copy_object = checked(S3Backend.copy_object, "dest_key_name", 2)  # type: ignore[method-assign]
    S3Backend.create_multipart_upload = checked(  # type: ignore[method-assign]
        S3Backend.create_multipart_upload, "key_name", 1
    )


# --------------------------------------------------------------------------- records
class _Sequencer:
    """S3's ``sequencer``: hex, growing with every event (compared after padding to one length)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return f"{self._last:016X}"


_sequencer = _Sequencer()


@dataclass(frozen=True)
class RemovedObject:
    """What a removal record says about the object: its key and the version it removed (or the
    delete marker's). ``size`` and ``etag`` are there for moto's EventBridge sender only."""

    name: str
    version_id: str | None
    size: int = 0
    etag: str = ""


def s3_record(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    """One notification body in the shape S3 sends (moto's, plus what it leaves out)."""
    from moto.core.utils import iso_8601_datetime_with_milliseconds

    name = event_name.removeprefix("s3:")
    obj: dict[str, Any] = {"key": quote_plus(key.name)}
    if name.startswith("ObjectCreated"):  # removals carry no size or ETag
        obj.update(size=key.size, eTag=key.etag.replace('"', ""))
    if bucket.is_versioned and key.version_id and key.version_id != "null":
        obj["versionId"] = str(key.version_id)
    obj["sequencer"] = _sequencer.next()
    request_id = os.urandom(8).hex().upper()
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": bucket.region_name,
        "eventTime": iso_8601_datetime_with_milliseconds(),
        "eventName": name,
        "userIdentity": {"principalId": LOCAL_PRINCIPAL},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": request_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": notification_id,
            "bucket": {"name": bucket.name, "ownerIdentity": {"principalId": LOCAL_PRINCIPAL}, "arn": bucket.arn},
            "object": obj,
        },
    }
    return {"Records": [record]}


def _patch_event_records() -> None:
    from moto.s3 import notifications

    notifications._get_s3_event = s3_record  # send_event looks it up here


# --------------------------------------------------------------------------- deletes
_quiet = threading.local()


@contextlib.contextmanager
def _removals_sent_here() -> Iterator[None]:
    """moto's own removal notifications are off in this thread: the caller sends the right ones."""
    _quiet.active = True
    try:
        yield
    finally:
        _quiet.active = False


def _patch_deletes() -> None:
    from moto.s3 import notifications
    from moto.s3.models import S3Backend

    real_send = notifications.send_event
    removal_events = {
        notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_EVENT,
        notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
    }

    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        if getattr(_quiet, "active", False) and event_name in removal_events:
            return
        real_send(account_id, event_name, bucket, key)

    notifications.send_event = send_event  # models call notifications.send_event
    real_delete = S3Backend.delete_object

    @functools.wraps(real_delete)
    def delete_object(
        self: Any, bucket_name: str, key_name: str, version_id: str | None = None, bypass: bool = False
    ) -> tuple[bool, dict[str, Any]]:
        bucket = self.get_bucket(bucket_name)
        if not getattr(bucket, "is_versioned", False):
            # Unversioned: moto sends ObjectRemoved:Delete itself (in the shape above).
            return real_delete(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        before = {str(v.version_id) for v in bucket.keys.getlist(key_name)} if key_name in bucket.keys else set()
        with _removals_sent_here():
            deleted, meta = real_delete(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        if not deleted:
            return deleted, meta
        if version_id is None:  # a delete marker is the key's current version now
            removed = RemovedObject(key_name, str(meta.get("version-id")))
            real_send(self.account_id, notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
                      bucket, removed)  # fmt: skip
        elif str(version_id) in before:  # that version (an object or a marker) is gone for good
            removed = RemovedObject(key_name, str(version_id))
            real_send(self.account_id, notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_EVENT, bucket, removed)
        return deleted, meta

    # delete_objects calls self.delete_object for each object: one record each, as S3 sends.
    S3Backend.delete_object = delete_object  # type: ignore[method-assign]


# --------------------------------------------------------------------------- serialization
DYNAMODB_LOCK = threading.RLock()  # one for every table: transactions span tables


def _patch_dynamodb_serialization() -> None:
    """Every DynamoDB request, in server mode and in ``mock_aws``, holds one lock: moto's
    models are not safe for concurrent use (a transaction deep-copies tables that another
    request is changing). S3 and SQS have no such failure (tests/integration/test_motoserver.py
    hammers them), and SQS long polls must not hold a lock."""
    from moto.dynamodb.responses import DynamoHandler

    real_call = DynamoHandler.call_action

    @functools.wraps(real_call)
    def call_action(self: Any) -> Any:
        with DYNAMODB_LOCK:
            return real_call(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


# --------------------------------------------------------------------------- cost
# Two of moto's costs that grow with the data and have no counterpart in AWS: they made moto
# the bottleneck of a bulk upload (py-spy on moto's process: 51% and 12% of its CPU).


def _patch_transaction_backup() -> None:
    """moto backs up every table a TransactWriteItems touches with a deep copy before it
    applies it (O(table) per transaction; the posts table and the ledger grow with the site).
    Back up only the items the transaction names instead, and put them back if it fails:
    the same all-or-nothing result."""
    import copy

    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class _TablesNotCopied:
        """moto's ``copy`` inside its DynamoDB module: tables pass through uncopied."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    setattr(dynamodb_models, "copy", _TablesNotCopied)  # noqa: B010 (moto's module global)
    real_transact = DynamoDBBackend.transact_write_items

    def item_keys(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
        keys = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            if op.get("TableName") not in backend.tables:
                continue
            table = backend.tables[op["TableName"]]
            key = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in key:
                continue
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            keys.append((table, hash_value, range_value))
        return keys

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for table, hash_value, range_value in item_keys(self, transact_items):
            bucket = table.items.get(hash_value) if hash_value in table.items else None
            current = bucket.get(range_value) if range_value is not None and bucket is not None else bucket
            saved.append((table, hash_value, range_value, copy.deepcopy(current)))
        try:
            real_transact(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                if range_value is None:
                    if item is None:
                        table.items.pop(hash_value, None)
                    else:
                        table.items[hash_value] = item
                elif item is None:
                    table.items.get(hash_value, {}).pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = item
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _patch_sqs_costs() -> None:
    """moto's SQS builds all of a queue's attributes (whose message counts go over every
    message, reading the clock through datetime for each) three times per attribute asked
    for, and once per message received to check its retention: O(queue) per message, O(queue
    squared) per receive of a deep queue. Here: the retention period alone for the check, the
    attributes once per GetQueueAttributes, and the clock read as a number."""
    import time

    from moto.core.utils import unix_time
    from moto.sqs import models as sqs_models
    from moto.sqs.exceptions import InvalidAttributeName
    from moto.sqs.models import SQSBackend

    real_millis = getattr(sqs_models, "unix_time_millis")  # noqa: B009 (moto's module global)

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(real_millis(dt))

    setattr(sqs_models, "unix_time_millis", unix_time_millis)  # noqa: B010

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        queue = self.get_queue(queue_name)
        if not attribute_names:
            return {}
        valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        invalid = next((name for name in attribute_names if name not in valid), None)
        if invalid is not None:
            raise InvalidAttributeName(invalid)
        every: dict[str, Any] = queue.attributes  # once, not three times per name
        if "All" in attribute_names:
            return every
        return {name: every[name] for name in attribute_names if every.get(name) is not None}

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]


# --------------------------------------------------------------------------- the server
def reachable_host(host: str) -> str:
    """The address to put in URLs: listening on every interface still means 127.0.0.1 here."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 (compared, not bound)


class MotoServer:
    """A running moto server: ``endpoint_url``; ``stop()`` ends it (also when used as a context
    manager). ``pid`` is its process when it has one of its own (None in this process)."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        process: subprocess.Popen[bytes] | None = None,
        threaded: Any = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self._process = process
        self._threaded = threaded
        self.returncode: int | None = None  # the process's exit status, once stopped

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def separate_process(self) -> bool:
        return self._process is not None

    def alive(self) -> bool:
        return self._process.poll() is None if self._process is not None else self._threaded is not None

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the server's own process has used so far (Linux), for
        benchmarks; None in this process, where moto's time is the caller's."""
        if self._process is None:
            return None
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._threaded is not None:
            self._threaded.stop()
            self._threaded = None
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdin is not None:
            process.stdin.close()
        self.returncode = process.returncode

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _patch_dispatch_costs() -> None:
    """moto's ``DomainDispatcherApplication.get_application`` calls ``get_backend_for_host`` for
    every request, which lists moto's package directory (``backends.list_of_moto_modules``) and
    then matches the host against every service's URL patterns, all under the dispatcher's lock.
    The directory does not change while the server runs, and a host always gives the same
    backend: remember both (the lock still guards the memo, as it does the app instances)."""
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    lookup = DomainDispatcherApplication.get_backend_for_host

    @functools.wraps(lookup)
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        memo: dict[str | None, Any] = self.__dict__.setdefault("_pressline_backends", {})
        if host not in memo:
            memo[host] = lookup(self, host)
        return memo[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


def start(
    host: str = "127.0.0.1", port: int = 0, *, separate_process: bool = True, timeout_s: float = 30.0
) -> MotoServer:
    """Start a patched moto server on ``host:port`` (0: a free port) and wait until it answers.

    ``separate_process`` (the default) runs it as ``python -m pressline.local.motoserver``,
    which ends when this process ends (it watches its stdin); otherwise it runs in a thread here.
    """
    if not separate_process:
        return _start_threaded(host, port)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pressline-moto-") as directory:
        ready_file = Path(directory) / "ready.json"
        command = [sys.executable, "-m", "pressline.local.motoserver",
                   "--host", host, "--port", str(port), "--ready-file", str(ready_file)]  # fmt: skip
        environment = {**os.environ, **FAKE_CREDENTIALS}
        environment.pop("AWS_PROFILE", None)
        process = subprocess.Popen(command, stdin=subprocess.PIPE, env=environment)  # noqa: S603 (our own module)
        deadline = time.monotonic() + timeout_s
        while not ready_file.exists():
            if process.poll() is not None:
                raise RuntimeError(f"the moto server exited with {process.returncode} before it was ready")
            if time.monotonic() > deadline:
                MotoServer("", process=process).stop()
                raise RuntimeError(f"the moto server was not ready within {timeout_s:.0f} s")
            time.sleep(0.02)
        ready = json.loads(ready_file.read_text(encoding="utf-8"))
    server = MotoServer(f"http://{reachable_host(host)}:{ready['port']}", process=process)
    if not answers(server.endpoint_url):
        server.stop()
        raise RuntimeError(f"the moto server at {server.endpoint_url} does not answer")
    return server


def _start_threaded(host: str, port: int) -> MotoServer:
    import logging

    from moto.server import ThreadedMotoServer

    patch_moto()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    threaded = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    threaded.start()
    bound_port = threaded.get_host_and_port()[1]
    return MotoServer(f"http://{reachable_host(host)}:{bound_port}", threaded=threaded)


def answers(endpoint_url: str, timeout_s: float = 2.0) -> bool:
    """Whether a moto server answers at ``endpoint_url``."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=timeout_s):  # noqa: S310 (local endpoint)
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- the process
def _stop_at_end_of_stdin(stopping: threading.Event) -> None:
    # os.read, not sys.stdin: a daemon thread blocked in a buffered read holds its lock, and
    # the interpreter aborts at exit when it cannot take it.
    while os.read(sys.stdin.fileno(), 4096):
        pass
    stopping.set()


def main(argv: list[str] | None = None) -> int:
    """``python -m pressline.local.motoserver``: serve until SIGTERM/SIGINT or stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m pressline.local.motoserver", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="0: a free port (see --ready-file)")
    parser.add_argument("--ready-file", type=Path, help="written, as JSON with the port, once the server answers")
    args = parser.parse_args(argv)
    os.environ.update(FAKE_CREDENTIALS)  # never a real account, whatever the caller had
    server = _start_threaded(args.host, args.port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    if sys.stdin.isatty():
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
    else:
        # Started by a parent, which stops us (after its own users of moto) when Ctrl-C reaches
        # both; it holds our stdin open, so when it dies, even by SIGKILL, the pipe closes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_stop_at_end_of_stdin, args=(stopping,), daemon=True).start()
    if args.ready_file is not None:
        temporary = args.ready_file.with_name(args.ready_file.name + ".tmp")
        port = int(server.endpoint_url.rsplit(":", 1)[1])
        temporary.write_text(json.dumps({"host": args.host, "port": port}), encoding="utf-8")
        temporary.replace(args.ready_file)  # atomic: the parent never reads half of it
    else:
        print(f"moto (patched) at {server.endpoint_url}", flush=True)
    while not stopping.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
