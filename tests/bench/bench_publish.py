"""Publishing one post, end to end: AWS calls, time, and where the time goes (many posts at
once: bench_bulk).

Every stage runs for real on moto, with the template's resources (``pressline.local``):
an upload to the source bucket, S3's notification, Validate, Render, Index (FIFO) and
Notify (no subscribers), each handler called by the local runner as Lambda would. Sites
are the generated ones of ``sitegen`` (seeded catalog). Each part runs in a fresh process, with
bench_index's ``without_table_backups``: moto deep-copies the whole table for every
TransactWriteItems call (O(table size); DynamoDB's cost does not grow with the table).

1. Calls: in-process moto, the queues drained synchronously after each upload; the AWS
   API calls the FUNCTIONS make (a botocore ``before-call`` hook on every client created
   after the stack is up, attributed to the function that made it), at 100 and 10,000 posts.
   Lambda's own polling of the queues (receive, delete) is not the function's and is left out.
   Target: at most 25 per publish (Validate + Render + Index: what it takes to publish; Notify,
   which announces, is counted apart), and every function's count the same at both sizes.
2. Latency on the local stack: a moto server and the runner's pollers in threads, as
   ``pressline local`` runs them; the time from ``put_object`` until the home page AND the
   Atom feed in the site bucket link the post (polled every 20 ms), at 100, 1,000 and 10,000
   posts. Target: flat (largest / smallest <= 1.3).
3. Profile: the same kind of bulk (``--profile-posts``, in-process, one thread, so that one
   profiler sees everything) under pyinstrument, when installed: self time by package and
   the costliest functions of our own code.

Run: ``make bench`` or ``.venv/bin/python tests/bench/bench_publish.py`` (about 8 minutes on
2 cores, most of it the 10,000-post sites; ``--quick`` for a smaller run). Exit 1 when a target
is missed. ``Meter``, ``MotoRequests``, ``Stack`` and ``server_stack`` are bench_bulk's too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "shared"))

MAX_CALLS = 25
MAX_RATIO = 1.3
REGION = "us-east-1"
FAKE = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


# --------------------------------------------------------------------------- instrumentation
class _InFlight:
    """One invocation's AWS calls in flight: the time it waits on AWS is the time with at
    least one call in flight (Index's parallel writes overlap; they are not summed)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.since = 0.0

    def started(self) -> None:
        if self.count == 0:
            self.since = time.perf_counter()
        self.count += 1

    def ended(self) -> float:
        """Seconds to add when the last call in flight ends (else 0)."""
        self.count = max(0, self.count - 1)
        return time.perf_counter() - self.since if self.count == 0 else 0.0


class Meter:
    """Per function: AWS calls by operation, handler wall and thread CPU time, time inside AWS calls."""

    def __init__(self) -> None:
        # A context variable: Index's parallel page writes run in copies of the handler's context,
        # so their calls are the invocation's (its in-flight count is shared by those copies).
        self.current: ContextVar[_InFlight | None] = ContextVar("invocation", default=None)
        self.lock = threading.Lock()
        self.calls: dict[str, Counter[str]] = defaultdict(Counter)
        self.wall: dict[str, list[float]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.aws_wall: dict[str, float] = defaultdict(float)
        self.records: Counter[str] = Counter()

    def function(self) -> str:
        invocation = self.current.get()
        return invocation.name if invocation else "(not a function)"

    def instrument_new_clients(self) -> None:
        """Every boto3 client created from now on (the functions' own, made lazily) is counted."""
        import boto3.session

        real_client = boto3.session.Session.client
        meter = self

        def client(session: Any, *args: Any, **kwargs: Any) -> Any:
            made = real_client(session, *args, **kwargs)
            service = made.meta.service_model.service_name

            def before(model: Any, **_: Any) -> None:
                invocation = meter.current.get()
                with meter.lock:
                    meter.calls[meter.function()][f"{service}.{model.name}"] += 1
                    if invocation is not None:
                        invocation.started()

            def after(**_: Any) -> None:
                invocation = meter.current.get()
                if invocation is not None:
                    with meter.lock:
                        meter.aws_wall[invocation.name] += invocation.ended()

            made.meta.events.register("before-call", before)
            made.meta.events.register("after-call", after)
            made.meta.events.register("after-call-error", after)
            return made

        boto3.session.Session.client = client  # type: ignore[method-assign]

    def wrap(self, runner: Any) -> None:
        for trigger in runner.triggers:
            trigger.call = self._timed(trigger.name, trigger.call)

    def _timed(self, name: str, call: Any) -> Any:
        def timed(event: dict[str, Any]) -> Any:
            token = self.current.set(_InFlight(name))
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return call(event)
            finally:
                with self.lock:
                    self.wall[name].append(time.perf_counter() - wall)
                    self.cpu[name].append(time.thread_time() - cpu)  # the handler's thread (not its writers')
                    self.records[name] += len(event.get("Records", []))
                self.current.reset(token)

        return timed

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.wall.clear()
            self.cpu.clear()
            self.aws_wall.clear()
            self.records.clear()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": {name: dict(counter) for name, counter in self.calls.items() if name != "(not a function)"},
                "wall": {name: sum(values) for name, values in self.wall.items()},
                "cpu": {name: sum(values) for name, values in self.cpu.items()},
                "invocations": {name: len(values) for name, values in self.wall.items()},
                "records": dict(self.records),
                "aws_wall": dict(self.aws_wall),
            }


class MotoRequests:
    """CPU and wall time moto's server spends handling requests (its WSGI app, per request thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cpu = 0.0
        self.wall = 0.0
        self.count = 0

    def install(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        real_call = DomainDispatcherApplication.__call__
        meter = self

        def call(app: Any, environ: dict[str, Any], start_response: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return real_call(app, environ, start_response)
            finally:
                with meter.lock:
                    meter.cpu += time.thread_time() - cpu
                    meter.wall += time.perf_counter() - wall
                    meter.count += 1

        DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]

    def snapshot(self) -> dict[str, float]:
        with self.lock:
            return {"cpu": self.cpu, "wall": self.wall, "count": self.count}


# --------------------------------------------------------------------------- a stack
class Stack:
    """The template's resources on moto (in-process inside mock_aws, or behind a moto server)."""

    def __init__(self, endpoint_url: str | None) -> None:
        from pressline.adapters.aws import reset_clients
        from pressline.config import settings
        from pressline.local.runner import Runner
        from pressline.local.stack import Clients, provision

        # Every post announced (the generated ones are dated March 2026): what a new post costs, as before.
        window = {"AnnounceWindowHours": "87600"}
        self.stack = provision(
            template_path=ROOT / "template.yaml", region=REGION, endpoint_url=endpoint_url, parameters=window
        )
        os.environ.update(self.stack.environment())
        settings.cache_clear()
        reset_clients()
        self.clients = Clients(REGION, endpoint_url)  # the bench's and the runner's: not counted
        self.s3 = self.clients("s3")
        self.source = self.stack.outputs["SourceBucketName"]
        self.site = self.stack.outputs["SiteBucketName"]
        self.runner = Runner(self.stack, self.clients)
        self.runner.load_handlers()

    def seed(self, size: int) -> float:
        import sitegen

        started = time.perf_counter()
        if size:
            sitegen.seed(
                sitegen.site(size), self.s3, self.clients("dynamodb"), self.source, self.stack.outputs["PostsTableName"]
            )
        return time.perf_counter() - started

    def upload(self, item: Any) -> None:
        self.s3.put_object(
            Bucket=self.source,
            Key=f"posts/{item.slug}.md",
            Body=item.pressline_source(),
            ContentType="text/markdown; charset=utf-8",
        )

    def site_text(self, key: str) -> str:
        try:
            return str(self.s3.get_object(Bucket=self.site, Key=key)["Body"].read().decode("utf-8"))
        except self.s3.exceptions.NoSuchKey:
            return ""

    def is_live(self, slug: str) -> bool:
        from pressline.indexing import layout

        link = f"/posts/{slug}/"
        return link in self.site_text(layout.HOME) and link in self.site_text(layout.ATOM)

    def queues_empty(self) -> bool:
        sqs = self.clients("sqs")
        for trigger in self.runner.triggers:
            attributes = sqs.get_queue_attributes(
                QueueUrl=trigger.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if any(int(count) for count in attributes.values()):
                return False
        return True


def new_post(number: int) -> Any:
    import sitegen

    return sitegen.post(number, date=sitegen.END + timedelta(minutes=number + 1), prefix="new")


def quiet() -> None:
    import logging

    logging.disable(logging.WARNING)


# --------------------------------------------------------------------------- children
def child_calls(size: int, runs: int) -> dict[str, Any]:
    """In-process moto: calls and handler time of one publish into a site of ``size`` posts."""
    from moto import mock_aws

    with mock_aws():
        meter = Meter()
        stack = Stack(None)
        seeded = stack.seed(size)
        meter.wrap(stack.runner)
        meter.instrument_new_clients()
        publishes = []
        for number in range(runs + 1):  # the first is a warm-up (imports, templates, first clients)
            item = new_post(number)
            meter.reset()
            started = time.perf_counter()
            stack.upload(item)
            stack.runner.drain()
            seconds = time.perf_counter() - started
            assert stack.is_live(item.slug), f"{item.slug} is not on the home page and in the feed"
            if number:
                publishes.append({"seconds": seconds, **meter.snapshot()})
    return {"size": size, "seeded_s": seeded, "publishes": publishes}


def server_stack() -> tuple[Any, Stack, MotoRequests]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    requests = MotoRequests()
    requests.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    return server, Stack(endpoint), requests


def wait_until(check: Any, timeout_s: float, every_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every_s)
    return False


def child_latency(size: int, runs: int) -> dict[str, Any]:
    """Local stack (moto server + pollers): upload -> on the home page and in the feed."""
    server, stack, _ = server_stack()
    meter = Meter()
    try:
        seeded = stack.seed(size)
        meter.wrap(stack.runner)
        meter.instrument_new_clients()
        stack.runner.start(wait_s=1)
        results = []
        for number in range(runs + 1):
            item = new_post(number)
            wait_until(stack.queues_empty, 60, 0.05)
            meter.reset()
            started = time.perf_counter()
            stack.upload(item)
            if not wait_until(lambda item=item: stack.is_live(item.slug), 120, 0.02):
                raise RuntimeError(f"{item.slug} did not go live within 120 s")
            seconds = time.perf_counter() - started
            wait_until(stack.queues_empty, 60, 0.05)  # Index finishes after the pages are out; Notify follows
            if number:  # the first is a warm-up
                results.append({"seconds": seconds, **meter.snapshot()})
    finally:
        stack.runner.stop()
        server.stop()
    return {"size": size, "seeded_s": seeded, "publishes": results}


def child_profile(count: int) -> dict[str, Any]:
    """In-process, one thread: ``count`` posts uploaded, queues drained, under pyinstrument."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"missing": "pyinstrument is not installed (pip install -e '.[bench]')"}
    import sitegen
    from moto import mock_aws

    from pressline.adapters import buffered

    # pyinstrument samples one thread: Index writes its pages in the handler's own thread here
    # (in parallel they would vanish from the profile, and flush would look like the cost).
    buffered.PARALLEL_WRITES = 1
    with mock_aws():
        stack = Stack(None)
        warm = sitegen.post(count + 1, prefix="warm")
        stack.upload(warm)
        stack.runner.drain()
        items = [sitegen.post(n, prefix="profiled") for n in range(count)]
        profiler = Profiler(interval=0.002)
        profiler.start()
        for item in items:
            stack.upload(item)
        stack.runner.drain(max_rounds=10_000)
        profiler.stop()
    session = profiler.last_session
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()

    def walk(frame: Any, owner: str, our_function: str | None) -> None:
        """Self time goes to the frame's package; the standard library's and builtins' to the
        package that called them (json, copy, re... work for moto, botocore or us)."""
        children = [child for child in frame.children if not child.is_synthetic]
        own = frame.time - sum(child.time for child in children)
        path = frame.file_path or ""
        package = package_of(path)
        if package != STDLIB:
            owner = package
            our_function = None
            if package == OURS:
                our_function = f"{path.split('/pressline/', 1)[1]}:{frame.function}"
        by_package[owner] += own
        if our_function:
            by_function[our_function] += own
        for child in children:
            walk(child, owner, our_function)

    root = session.root_frame()
    walk(root, STDLIB, None)
    return {
        "count": count,
        "duration_s": session.duration,
        "by_package": dict(by_package.most_common(12)),
        "ours": dict(by_function.most_common(10)),
    }


OURS = "pressline (our code, templates included)"
STDLIB = "python (the bench's own loop)"


def package_of(path: str) -> str:
    if "/pressline/local/" in path:
        return "pressline.local (the runner: Lambda's part)"
    if "/pressline/" in path:
        return OURS
    if "site-packages/" in path:
        name = path.split("site-packages/", 1)[1].split("/", 1)[0]
        return {
            "moto": "moto (the emulated AWS)",
            "botocore": "boto3/botocore (client side)",
            "boto3": "boto3/botocore (client side)",
            "s3transfer": "boto3/botocore (client side)",
            "responses": "responses (moto's in-process interception)",
        }.get(name, name)
    return STDLIB


# --------------------------------------------------------------------------- parent
def run_child(mode: str, *arguments: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, *arguments]
    result = subprocess.run(  # our own script
        command, env={**os.environ, **FAKE}, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{mode} {' '.join(arguments)} failed:\n{result.stderr[-4000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def total_calls(publish: dict[str, Any]) -> int:
    return sum(sum(ops.values()) for ops in publish["calls"].values())


def per_function_calls(publish: dict[str, Any]) -> str:
    calls = sorted(publish["calls"].items())
    return ", ".join(f"{name.removesuffix('Function')} {sum(ops.values())}" for name, ops in calls)


PUBLISH_STAGES = ("ValidateFunction", "RenderFunction", "IndexFunction")  # Notify announces; it does not publish


def stage_calls(publish: dict[str, Any], stages: tuple[str, ...]) -> int:
    return sum(sum(ops.values()) for name, ops in publish["calls"].items() if name in stages)


def handler_ms(publishes: list[dict[str, Any]]) -> str:
    names = sorted({name for p in publishes for name in p["wall"]})
    return ", ".join(
        f"{name.removesuffix('Function')} {statistics.median(p['wall'].get(name, 0) for p in publishes) * 1000:.0f}"
        for name in names
    )


def report_calls(results: list[dict[str, Any]]) -> list[str]:
    failures = []
    runs = len(results[0]["publishes"])
    print(f"1. One post published through the pipeline, in-process moto (median of {runs} publishes):")
    print(
        f"{'posts':>8} {'publish calls':>13} {'of which Index':>14} {'+ Notify':>8} {'all':>4}"
        f" {'pipeline ms':>11} {'seeded in':>9}  handler ms by function (in-process moto included)"
    )
    for result in results:
        publishes = result["publishes"]
        publish = [stage_calls(p, PUBLISH_STAGES) for p in publishes]
        index = [stage_calls(p, ("IndexFunction",)) for p in publishes]
        notify = [stage_calls(p, ("NotifyFunction",)) for p in publishes]
        print(
            f"{result['size']:>8,} {statistics.median(publish):>13.0f} {statistics.median(index):>14.0f}"
            f" {statistics.median(notify):>8.0f} {statistics.median(total_calls(p) for p in publishes):>4.0f}"
            f" {statistics.median(p['seconds'] for p in publishes) * 1000:>11.0f} {result['seeded_s']:>8.1f}s"
            f"  {handler_ms(publishes)}"
        )
        if max(publish) > MAX_CALLS:
            failures.append(
                f"{max(publish)} AWS calls to publish one post into {result['size']:,} posts (Validate + Render +"
                f" Index; target {MAX_CALLS}); Index alone {max(index)}"
            )
    last = results[-1]["publishes"][-1]
    for name, ops in sorted(last["calls"].items()):
        print(f"   {name} {sum(ops.values())}: " + ", ".join(f"{op} {n}" for op, n in sorted(ops.items())))
    per_size = [
        {name: statistics.median(sum(p["calls"].get(name, {}).values()) for p in r["publishes"]) for name in names}
        for r in results
        for names in [sorted(last["calls"])]
    ]
    same = all(counts == per_size[0] for counts in per_size)
    sizes = " and ".join(f"{r['size']:,}" for r in results)
    print(f"   every function's count the same at {sizes} posts: {same}")
    if not same:
        failures.append(f"calls differ between site sizes: {per_size}")
    return failures


def report_latency(results: list[dict[str, Any]]) -> list[str]:
    runs = len(results[0]["publishes"])
    print(f"2. Upload -> home page and feed, local stack (moto server + pollers), median of {runs}:")
    print(f"{'posts':>8} {'median s':>8} {'min s':>6} {'max s':>6}  handler time by function (median ms)")
    medians = []
    for result in results:
        publishes = result["publishes"]
        seconds = [p["seconds"] for p in publishes]
        medians.append(statistics.median(seconds))
        print(
            f"{result['size']:>8,} {medians[-1]:>8.2f} {min(seconds):>6.2f} {max(seconds):>6.2f}"
            f"  {handler_ms(publishes)}"
        )
    ratio = medians[-1] / medians[0]
    print(
        f"   ratio {results[-1]['size']:,} / {results[0]['size']:,}: {ratio:.2f}x (target <= {MAX_RATIO}x). The post is"
        " live once Index has written the home page and feed, before it finishes (its remaining writes and"
        " Notify come after): handler times above are whole invocations"
    )
    return [f"upload-to-live not flat: {ratio:.2f}x"] if ratio > MAX_RATIO else []


def report_profile(result: dict[str, Any]) -> None:
    if "missing" in result:
        print(f"3. Profile: NOT MEASURED ({result['missing']})")
        return
    total = sum(result["by_package"].values())
    print(
        f"3. Profile (pyinstrument, in-process, {result['count']} posts uploaded and drained in"
        f" {result['duration_s']:.1f} s), self time by package (the standard library's counted for its caller):"
    )
    print("   " + ", ".join(f"{name} {100 * t / total:.0f}%" for name, t in result["by_package"].items()))
    print("   costliest functions of our code (self time, with the standard library they call):")
    for name, seconds in result["ours"].items():
        print(f"     {seconds:6.2f} s  {name}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=7, help="publishes measured per site size")
    parser.add_argument("--call-sizes", default="100,10000")
    parser.add_argument("--latency-sizes", default="100,1000,10000")
    parser.add_argument("--profile-posts", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="100/1,000 posts, 3 runs")
    args = parser.parse_args()
    if args.child:
        os.environ.update(FAKE)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.pop("AWS_PROFILE", None)
        quiet()
        from bench_index import without_table_backups

        without_table_backups()  # moto deep-copies the whole table per transaction; DynamoDB does not
        child = {
            "calls": lambda: child_calls(args.size, args.runs),
            "latency": lambda: child_latency(args.size, args.runs),
            "profile": lambda: child_profile(args.size),
        }[args.child]
        print(json.dumps(child()))
        return 0
    if args.quick:
        args.runs, args.call_sizes, args.latency_sizes = 3, "100,1000", "100,1000"
        args.profile_posts = 50
    runs = str(args.runs)
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores)", flush=True)
    failures: list[str] = []
    calls = [run_child("calls", "--size", size, "--runs", runs) for size in args.call_sizes.split(",")]
    failures += report_calls(calls)
    latency = [run_child("latency", "--size", size, "--runs", runs) for size in args.latency_sizes.split(",")]
    failures += report_latency(latency)
    report_profile(run_child("profile", "--size", str(args.profile_posts)))
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for failure in failures:
        print("MISSED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
