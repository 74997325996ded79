"""``pressline local``: the whole pipeline on this machine, on moto, without Docker.

``pressline local`` starts a moto server, creates every resource of template.yaml,
runs each function on its event source as Lambda would, and serves the site and the
API over HTTP. ``pressline local invoke FN EVENT`` calls one handler with an event file
against the running stack (it reads the stack's outputs file).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pressline.local.stack import DEFAULT_REGION, DEFAULT_TEMPLATE
from pressline.local.template import TemplateError

logger = logging.getLogger("pressline.local")

ROOT = DEFAULT_TEMPLATE.parent
DEFAULT_OUTPUTS = Path(".local/outputs.json")
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=5000, help="moto server port, the AWS endpoint (default: 5000)")
    parser.add_argument("--http-port", type=int, default=8080, help="site and API port (default: 8080)")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="the SAM template")
    parser.add_argument(
        "--outputs", type=Path, default=DEFAULT_OUTPUTS, help="where to write the stack outputs (default: %(default)s)"
    )
    parser.add_argument("--examples", type=Path, default=ROOT / "examples" / "posts", help="posts published at start")
    parser.add_argument("--no-examples", action="store_true", help="start with an empty site")
    parser.add_argument(
        "--retry-after",
        type=int,
        default=None,
        metavar="SECONDS",
        help="make failed messages visible again after SECONDS (default: the queue's visibility timeout, as on AWS)",
    )
    parser.add_argument(
        "--schedule-every", type=float, default=10.0, metavar="SECONDS", help="run scheduled functions this often"
    )
    parser.add_argument(
        "--clock-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="tests: the subscribers' clock (digests, leases, tokens) runs FILE's number of seconds ahead"
        " (pressline.local.clock)",
    )
    parser.add_argument(
        "--moto-in-process",
        action="store_true",
        help="run moto in this process instead of its own (one core for moto and the functions, by the GIL)",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="the template's parameters, as sam deploy takes them: SiteTitle='My blog' SiteTimezone=Europe/Paris"
        " (or ParameterKey=K,ParameterValue=V); checked against template.yaml's Parameters",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log every site request and scheduled run, and print the functions' metrics (EMF)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    invoke = actions.add_parser(
        "invoke", help="call one function's handler with an event file, against the running stack"
    )
    invoke.add_argument("function", help="function logical id, with or without the Function suffix (e.g. Validate)")
    invoke.add_argument("event", type=Path, help="event JSON file (e.g. events/s3-put.json)")
    # Also accepted after the action; SUPPRESS keeps a value given before it.
    invoke.add_argument("--outputs", type=Path, default=argparse.SUPPRESS, help="the running stack's outputs file")
    invoke.add_argument("--template", type=Path, default=argparse.SUPPRESS, help="the SAM template")


def run(args: argparse.Namespace) -> int:
    _configure_logging(args.verbose)
    if args.action == "invoke":
        return invoke_command(args)
    return serve(args)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("pressline.local").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _use_local_aws(endpoint_url: str, region: str) -> None:
    """This process talks to moto only: fake credentials, the local endpoint, no profile."""
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.update({"AWS_ENDPOINT_URL": endpoint_url, "AWS_DEFAULT_REGION": region, "AWS_REGION": region})
    os.environ.pop("AWS_PROFILE", None)


def serve(args: argparse.Namespace) -> int:
    from pressline.adapters.aws import reset_clients
    from pressline.config import settings
    from pressline.local import motoserver
    from pressline.local.runner import Runner
    from pressline.local.stack import Clients, describe_functions, provision
    from pressline.local.web import LocalHttpServer, routes_of

    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        logger.info("Stopping (%s)...", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    started = time.perf_counter()
    region = DEFAULT_REGION
    for path in (args.outputs, functions_path(args.outputs)):
        path.unlink(missing_ok=True)  # a stale file would point `invoke` at a dead stack
    try:
        parameters = _parameters(args.template, args.parameter_overrides)
    except TemplateError as error:
        logger.error("%s", error)
        return 2
    problem = _port_problem(args.host, args.port) or _port_problem(args.host, args.http_port)
    if problem:
        logger.error("%s", problem)
        return 1
    if not args.verbose:
        # Metrics have no CloudWatch here: their EMF lines would bury the functions' logs.
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.update(FAKE_CREDENTIALS)  # before moto starts: never a real account
    try:
        # Patched moto (S3's delete events and key limit, DynamoDB one request at a time), by
        # default in a process of its own: see pressline.local.motoserver.
        moto = motoserver.start(args.host, args.port, separate_process=not args.moto_in_process)
    except RuntimeError as error:
        logger.error("Cannot start moto: %s", error)
        return 1
    endpoint_url = moto.endpoint_url
    _use_local_aws(endpoint_url, region)
    http_server: LocalHttpServer | None = None
    runner: Runner | None = None
    try:
        # Bind the HTTP port first: the functions' SITE_URL and API_URL need its number.
        http_server = LocalHttpServer.bind(args.host, args.http_port)
        site_url = f"http://{_reachable_host(args.host)}:{http_server.port}"
        api_url = f"{site_url}/api"
        stack = provision(
            template_path=args.template,
            region=region,
            endpoint_url=endpoint_url,
            site_url=site_url,
            parameters=parameters,
        )
        os.environ.update(stack.environment())
        settings.cache_clear()
        reset_clients()
        clients = Clients(region, endpoint_url)
        runner = Runner(stack, clients, retry_after=args.retry_after, schedule_every=args.schedule_every)
        if args.clock_file is not None:
            from pressline.local.clock import follow_clock_file

            follow_clock_file(args.clock_file)
        runner.load_handlers()
        account_id = next(iter(stack.functions.values())).arn.split(":")[4] if stack.functions else "123456789012"
        http_server.configure(
            s3=clients("s3"),
            site_bucket=stack.outputs["SiteBucketName"],
            routes=routes_of(list(stack.functions.values())),
            invoke=_invoke,
            account_id=account_id,
        )
        http_server.start()
        runner.start()
        outputs = {
            **stack.outputs,
            "Endpoint": endpoint_url,
            "Region": region,
            "SiteUrl": site_url,
            "ApiUrl": api_url,
            "StackName": stack.stack_name,
        }
        published = (
            []
            if args.no_examples
            else _publish_examples(clients("s3"), stack.outputs["SourceBucketName"], args.examples)
        )
        _write_json(functions_path(args.outputs), describe_functions(stack))
        _write_json(args.outputs, outputs)  # last: its appearance means "ready"
        _print_banner(outputs, args.outputs, published, time.perf_counter() - started)
        while not stopping.wait(0.5):
            pass
        return 0
    finally:
        if http_server is not None:
            http_server.stop()
        if runner is not None:
            runner.stop()
        moto.stop()
        for path in (args.outputs, functions_path(args.outputs)):
            path.unlink(missing_ok=True)
        logger.info("Local stack stopped.")


def _parameters(template: Path, words: list[str]) -> dict[str, str]:
    """``--parameter-overrides``, checked before anything starts (TemplateError says why not)."""
    if not words:
        return {}
    from pressline.local.template import parameter_overrides

    return parameter_overrides(template, words, {"SiteTimezone": _time_zone_problem})


def _time_zone_problem(name: str) -> str | None:
    """The functions read SiteTimezone as an IANA zone; the template cannot say so."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return f"{name!r} is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)"
    return None


def _reachable_host(host: str) -> str:
    """The address to put in URLs: listening on every interface still means 127.0.0.1 here."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 (compared, not bound)


def _port_problem(host: str, port: int) -> str | None:
    """Why ``port`` cannot be used, checked up front: moto's server thread would hang on it."""
    import socket

    if port == 0:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return (
                f"Cannot listen on {host}:{port} ({error.strerror}). "
                "Is another stack running? Choose other ports with --port / --http-port."
            )
    return None


def functions_path(outputs_path: Path) -> Path:
    """Where the running stack describes its functions, next to its outputs file."""
    return outputs_path.with_name(outputs_path.stem + ".functions.json")


def _reachable(endpoint_url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=2):  # noqa: S310 (the local endpoint)
            return True
    except OSError:
        return False


def _invoke(function: Any, event: dict[str, Any]) -> Any:
    from pressline.local.lambda_runtime import invoke

    return invoke(function, event)


def _publish_examples(s3: Any, bucket: str, directory: Path) -> list[str]:
    """Upload every example file (posts and the images they use) under posts/, as an author would,
    and the static pages of a ``pages/`` folder beside a ``posts/`` one under pages/."""
    import mimetypes

    keys = []
    files = [(f"posts/{path.name}", path) for path in sorted(directory.iterdir())] if directory.is_dir() else []
    pages = directory.parent / "pages"
    if directory.name == "posts" and pages.is_dir():
        files += [(f"pages/{path.name}", path) for path in sorted(pages.iterdir()) if path.suffix == ".md"]
    for key, path in files:
        if not path.is_file() or path.name.startswith("."):
            continue
        content_type = "text/markdown; charset=utf-8" if path.suffix == ".md" else mimetypes.guess_type(path.name)[0]
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=content_type or "binary/octet-stream")
        keys.append(key)
    return keys


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)  # atomic: readers never see half a file


def _print_banner(outputs: dict[str, str], outputs_path: Path, published: list[str], seconds: float) -> None:
    bucket = outputs["SourceBucketName"]
    lines = [
        "",
        f"Pressline is running locally (started in {seconds:.1f} s). Ctrl-C stops it.",
        f"  Site:      {outputs['SiteUrl']}/",
        f'  API:       {outputs["ApiUrl"]}  (POST /subscriptions with {{"email": ...}})',
        f"  AWS:       {outputs['Endpoint']}  (moto; any credentials)",
        f"  Outputs:   {outputs_path}",
        "",
        "Publish a post (moto accepts any credentials, e.g. AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local):",
        f"  aws --endpoint-url {outputs['Endpoint']} s3 cp my-post.md s3://{bucket}/posts/",
        "Read its report:",
        f"  aws --endpoint-url {outputs['Endpoint']} s3 cp s3://{bucket}/reports/posts/my-post.md.json -",
        "Call one function with an event file:",
        "  make invoke FN=Validate EVENT=events/<file>.json",
    ]
    if published:
        lines += ["", f"Publishing {len(published)} example file(s): {', '.join(published)}"]
    print("\n".join(lines) + "\n", flush=True)


# --------------------------------------------------------------------------- invoke
def invoke_command(args: argparse.Namespace) -> int:
    """Call one handler in this process with the running stack's resources and env."""
    from pressline.local.lambda_runtime import invoke
    from pressline.local.stack import function_from_description

    if not args.outputs.is_file():
        print(f"No running local stack: {args.outputs} not found. Start one with `make run`.", file=sys.stderr)
        return 2
    outputs = json.loads(args.outputs.read_text(encoding="utf-8"))
    description = json.loads(functions_path(args.outputs).read_text(encoding="utf-8"))
    if not _reachable(outputs["Endpoint"]):
        print(f"The local stack at {outputs['Endpoint']} is not running ({args.outputs} is stale).", file=sys.stderr)
        return 2
    _use_local_aws(outputs["Endpoint"], outputs["Region"])
    event = json.loads(args.event.read_text(encoding="utf-8"))
    try:
        function = function_from_description(args.template, outputs["Region"], description, args.function)
    except KeyError as error:
        print(str(error.args[0]), file=sys.stderr)
        return 2
    os.environ.update(function.environment)
    if not args.verbose:
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # as in the running stack
    try:
        result = invoke(function, event)
    except Exception as error:  # reported as Lambda reports a function error
        import traceback

        failure = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
        print(json.dumps(failure, indent=2), file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0
