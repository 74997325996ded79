"""Run a function's handler in this process the way Lambda would call it."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pressline.local.stack import PER_FUNCTION_VARIABLES, LocalFunction

Handler = Callable[[dict[str, Any], Any], Any]

_import_lock = threading.Lock()
_modules: dict[str, ModuleType] = {}


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def module_name(function: LocalFunction) -> str:
    """A unique module name per function: every handler file is called app.py."""
    return f"pressline_local_functions.{function.logical_id}"


@contextmanager
def _function_variables(function: LocalFunction) -> Iterator[None]:
    """Set the function's own PER_FUNCTION_VARIABLES while its module is imported
    (Powertools reads POWERTOOLS_SERVICE_NAME when a Logger is created)."""
    saved = {name: os.environ.get(name) for name in PER_FUNCTION_VARIABLES}
    os.environ.update({k: v for k, v in function.environment.items() if k in PER_FUNCTION_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_handler(function: LocalFunction) -> Handler:
    """Import the function's handler module by file path (once) and return the handler."""
    name = module_name(function)
    with _import_lock:
        module = _modules.get(name)
        if module is None:
            path = function.spec.handler_file
            if not path.is_file():
                raise FileNotFoundError(f"{function.logical_id}: handler file {path} does not exist")
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"{function.logical_id}: cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                with _function_variables(function):
                    spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            _modules[name] = module
    handler = getattr(module, function.spec.handler_attribute, None)
    if not callable(handler):
        raise AttributeError(f"{function.logical_id}: {function.spec.handler} is not a function")
    return handler  # type: ignore[no-any-return]


def forget_handlers() -> None:
    """Drop imported handler modules (tests re-import them against a fresh environment)."""
    with _import_lock:
        for name in list(_modules):
            sys.modules.pop(name, None)
        _modules.clear()


def context_for(function: LocalFunction) -> LambdaContext:
    return LambdaContext(
        function_name=function.name,
        invoked_function_arn=function.arn,
        memory_limit_in_mb=function.spec.memory_mb,
        timeout_s=function.spec.timeout_s,
    )


_call_locks: dict[str, threading.Lock] = {}


def invoke(function: LocalFunction, event: dict[str, Any], handler: Handler | None = None) -> Any:
    """Call the function's handler with ``event`` and a fresh context; return its result.

    Calls to one function are serialized, as in one Lambda container: a handler's module
    state (Powertools' logger keys, cached clients) never sees two events at once.
    """
    with _import_lock:
        lock = _call_locks.setdefault(function.logical_id, threading.Lock())
    with lock:
        return (handler or load_handler(function))(event, context_for(function))
