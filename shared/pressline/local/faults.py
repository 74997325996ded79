"""Fault injection for chaos runs on moto: transient AWS errors and killed handlers.

``AwsFaults`` wraps botocore's ``Endpoint._do_get_response`` (one call per HTTP attempt,
in-process moto answers inside it), so a fault is decided per attempt, before moto sees
the request: a refused attempt changes nothing, as a throttled or failed call on AWS
(except ``lost-response``, where AWS did the work and the answer never arrived). The
clients' own retry policy then retries, as it would against AWS.

``kill_after(n)`` simulates a Lambda container dying in the middle of an invocation: the
n-th AWS call of that invocation raises ``HandlerKilled`` (a BaseException, so neither
botocore, the adapters nor Powertools' batch processor catch it) and so does every later
call; the caller treats the invocation as one that returned nothing, so every message of
its batch comes back.

Only calls made while ``active()`` is entered are touched: the test's own set-up and the
local runner's polling stay reliable. Decisions come from the ``random.Random`` given, so
a run is reproducible from its seed. Development and test use only: never in a Lambda.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# (kind, HTTP status, error code); throttling codes are the ones botocore retries as such.
_ERRORS: dict[str, tuple[int, str]] = {
    "throttling": (400, "ThrottlingException"),
    "server-error": (500, "InternalFailure"),
    "unavailable": (503, "ServiceUnavailable"),
}
_S3_ERRORS: dict[str, tuple[int, str]] = {
    "throttling": (503, "SlowDown"),
    "server-error": (500, "InternalError"),
    "unavailable": (503, "ServiceUnavailable"),
}
KINDS = ("throttling", "server-error", "unavailable", "connect-timeout", "read-timeout", "lost-response")


class HandlerKilled(BaseException):
    """The simulated death of the Lambda container running a handler."""


@dataclass
class FaultStats:
    calls: int = 0  # AWS call attempts made while active
    injected: Counter[str] = field(default_factory=Counter)
    sdk_retries: int = 0  # attempts after the first, made by the clients' retry policy
    kills: int = 0
    kills_postponed: int = 0  # kills moved past a shielded step (see ``no_kill_after``)

    @property
    def injected_total(self) -> int:
        return sum(self.injected.values())


@dataclass
class _Invocation:
    calls: int = 0
    kill_at: int | None = None
    killed: bool = False
    shielded: bool = False


class AwsFaults:
    """Make ``rate`` of the AWS call attempts made while active fail transiently.

    ``never_lose``: operations whose response must never be lost after the work was done
    (``lost-response`` would repeat them on retry); ``no_kill_after``: operations after
    which a kill waits until the next call has succeeded (a kill there is a crash between
    an email leaving SES and its ledger record, which repeats the email whatever the
    design); ``decide``: instead of ``rate``, a function of the operation name returning
    the fault kind for this attempt, or None (targeted tests)."""

    def __init__(
        self,
        rng: random.Random,
        *,
        rate: float = 0.1,
        kinds: tuple[str, ...] = KINDS,
        never_lose: frozenset[str] = frozenset(),
        no_kill_after: frozenset[str] = frozenset(),
        decide: Callable[[str], str | None] | None = None,
    ) -> None:
        self.rng = rng
        self.rate = rate
        self.kinds = kinds
        self.never_lose = never_lose
        self.no_kill_after = no_kill_after
        self.decide = decide
        self.stats = FaultStats()
        # A context variable, not a thread-local: a handler's own worker threads (Index writes
        # pages in parallel, each in a copy of the handler's context) are part of its invocation.
        self._invocation: ContextVar[_Invocation | None] = ContextVar(f"faults-{id(self)}", default=None)
        self._lock = threading.Lock()
        self._original: Callable[..., Any] | None = None

    # ------------------------------------------------------------------ install
    def install(self) -> None:
        from botocore.endpoint import Endpoint

        if self._original is not None:
            return
        original: Callable[..., Any] = Endpoint._do_get_response  # type: ignore[attr-defined]
        self._original = original
        faults = self

        def _do_get_response(endpoint: Any, request: Any, operation_model: Any, context: Any) -> Any:
            return faults._attempt(original, endpoint, request, operation_model, context)

        Endpoint._do_get_response = _do_get_response  # type: ignore[attr-defined]

    def uninstall(self) -> None:
        from botocore.endpoint import Endpoint

        if self._original is not None:
            Endpoint._do_get_response = self._original  # type: ignore[attr-defined]
            self._original = None

    @contextmanager
    def installed(self) -> Iterator[AwsFaults]:
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

    # ------------------------------------------------------------------ scope
    @contextmanager
    def active(self, kill_after: int | None = None) -> Iterator[_Invocation]:
        """Inject faults into the AWS calls made inside; with ``kill_after``, the n-th call
        raises HandlerKilled (and every call after it)."""
        invocation = _Invocation(kill_at=kill_after)
        token = self._invocation.set(invocation)
        try:
            yield invocation
        finally:
            self._invocation.reset(token)

    # ------------------------------------------------------------------ one attempt
    def _attempt(self, original: Callable[..., Any], endpoint: Any, request: Any, operation: Any, context: Any) -> Any:
        invocation = self._invocation.get()
        if invocation is None:
            return original(endpoint, request, operation, context)
        name = operation.name
        with self._lock:
            self.stats.calls += 1
            if int((context or {}).get("retries", {}).get("attempt", 1)) > 1:
                self.stats.sdk_retries += 1
        with self._lock:  # the invocation's worker threads count too
            invocation.calls += 1
        due = invocation.kill_at is not None and invocation.calls >= invocation.kill_at
        if due and invocation.shielded and not invocation.killed:
            invocation.kill_at = invocation.calls + 1  # after the shielded step completes
            with self._lock:
                self.stats.kills_postponed += 1
        elif invocation.killed or due:
            if not invocation.killed:
                with self._lock:
                    self.stats.kills += 1
            invocation.killed = True
            raise HandlerKilled(f"killed before {name}")
        kind = (
            self.decide(name)
            if self.decide
            else (self.rng.choice(self.kinds) if self.rng.random() < self.rate else None)
        )
        if kind is None:
            response = original(endpoint, request, operation, context)
            # The call after a shielded one (an email's ledger mark after SES took it) completes
            # before a kill: a crash between the two would repeat the email, which no design avoids.
            invocation.shielded = name in self.no_kill_after
            return response
        if kind == "lost-response" and name in self.never_lose:
            kind = "read-timeout"
        with self._lock:
            self.stats.injected[kind] += 1
        return self._fault(kind, original, endpoint, request, operation, context)

    def _fault(
        self, kind: str, original: Callable[..., Any], endpoint: Any, request: Any, operation: Any, context: Any
    ) -> Any:
        from botocore.awsrequest import AWSResponse
        from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

        url = getattr(request, "url", "") or ""
        if kind == "connect-timeout":
            return None, ConnectTimeoutError(endpoint_url=url)
        if kind in ("read-timeout", "lost-response"):
            if kind == "lost-response":
                original(endpoint, request, operation, context)  # done on the server, answer lost
            return None, ReadTimeoutError(endpoint_url=url)
        service = operation.service_model.service_name
        status, code = (_S3_ERRORS if service == "s3" else _ERRORS)[kind]
        headers = {"x-amzn-requestid": "chaos", "content-type": "application/x-amz-json-1.0"}
        http = AWSResponse(url, status, headers, _EmptyRaw())  # type: ignore[arg-type]
        parsed = {
            "Error": {"Code": code, "Message": f"injected {kind}"},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers, "RequestId": "chaos"},
        }
        return (http, parsed), None


class _EmptyRaw:
    """The raw body of an injected error response."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""

    def read(self, *_: Any) -> bytes:
        return b""
