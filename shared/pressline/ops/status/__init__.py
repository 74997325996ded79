"""``pressline status``: the stack's state in one command.

Queue and dead-letter queue depths per stage (every ``...QueueUrl`` output, so a stage added
to the template shows up by itself), the newest upload reports with their outcomes, the
scheduled posts due next, subscribers by state, and whether SES sends. ``--json`` prints
the same as one JSON object (``model.StackStatus``: ``format`` and ``version`` name the
layout). Exit status: 0 healthy; 1 when a dead-letter queue holds messages or sending is
paused (the output says what to run); 2 for a usage or set-up error.

The stack: ``--local`` (or a ``.local/outputs.json`` here), ``--outputs FILE``, or
``--stack-name`` for a deployed one (its CloudFormation outputs, and the Subscriptions
function's settings for the SES configuration set). What each section costs: ``read.py``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

REPORTS_DEFAULT = 10
SCHEDULED_DEFAULT = 10
SHOWN_AT_MOST = 1000  # each report shown is one GetObject


def _count(text: str) -> int:
    """A count from the command line: 0 to SHOWN_AT_MOST (argparse turns the error into exit status 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= SHOWN_AT_MOST:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and {SHOWN_AT_MOST}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Exit status: 0 healthy; 1 a dead-letter queue holds messages or sending is paused (the output says what to"
        " run); 2 a usage error or no stack to read."
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (stable keys) instead of text")
    parser.add_argument(
        "--reports", type=_count, default=REPORTS_DEFAULT, metavar="N", help="show the N newest reports (default 10)"
    )
    parser.add_argument(
        "--scheduled",
        type=_count,
        default=SCHEDULED_DEFAULT,
        metavar="N",
        help="show the N scheduled posts due first (default 10)",
    )
    parser.add_argument(
        "--outputs", type=Path, default=None, help="stack outputs JSON (pressline local writes .local/outputs.json)"
    )
    parser.add_argument("--stack-name", default=None, help="a deployed stack: read its outputs and settings")


def target_options(args: argparse.Namespace) -> str:
    """The options that named this stack, for the commands status suggests (``pressline redrive``)."""
    from pressline.ops.target import LOCAL_OUTPUTS

    options: list[str] = []
    if getattr(args, "stack_name", None):
        options += ["--stack-name", args.stack_name]
    elif getattr(args, "local", False):
        options.append("--local")
        if args.outputs is not None and Path(args.outputs) != LOCAL_OUTPUTS:
            options += ["--outputs", str(args.outputs)]
    elif getattr(args, "outputs", None) is not None:
        options += ["--outputs", str(args.outputs)]
    elif getattr(args, "endpoint_url", None):
        options += ["--endpoint-url", args.endpoint_url]
    if getattr(args, "region", None):
        options += ["--region", args.region]
    return shlex.join(options)


class StackNotFound(Exception):
    """Raised when ``--stack-name`` names no stack in this account and region."""


def stack_inputs(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str], str | None]:
    """The stack's outputs, the Subscriptions function's settings (the SES configuration set is
    among them) and, when those could not be read, why. A deployed stack's come from
    CloudFormation and Lambda; the local stack's from its outputs file and the function
    descriptions beside it (its functions are run by the runner, not created in moto, so a
    ``--stack-name`` given with ``--local`` still takes them from there)."""
    import copy

    from botocore.exceptions import ClientError

    from pressline.adapters.aws import client
    from pressline.ops.subscribers import SUBSCRIPTIONS_FUNCTION, stack_settings

    if not args.stack_name:
        found = stack_settings(args)
        return found.outputs, found.environment, None
    cloudformation = client("cloudformation")
    try:
        stack = cloudformation.describe_stacks(StackName=args.stack_name)["Stacks"][0]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":  # CloudFormation's "does not exist"
            raise StackNotFound(args.stack_name) from None
        raise
    outputs = {item["OutputKey"]: item.get("OutputValue", "") for item in stack.get("Outputs", [])}
    try:
        function = cloudformation.describe_stack_resource(
            StackName=args.stack_name, LogicalResourceId=SUBSCRIPTIONS_FUNCTION
        )["StackResourceDetail"]["PhysicalResourceId"]
        configuration = client("lambda").get_function_configuration(FunctionName=function)
        return outputs, dict(configuration.get("Environment", {}).get("Variables", {})), None
    except ClientError as error:
        answer = error.response.get("Error", {})
        why = f"{answer.get('Code')}: {answer.get('Message')}"
    environment: dict[str, str] = {}
    if args.outputs is not None:
        local = copy.copy(args)
        local.stack_name = None
        environment = stack_settings(local).environment
    if "SES_CONFIGURATION_SET" in environment:
        return outputs, environment, None
    return outputs, environment, f"the {SUBSCRIPTIONS_FUNCTION}'s settings could not be read ({why})"


def run(args: argparse.Namespace) -> int:
    """Called by ``pressline.cli`` once ``ops.target`` has pointed boto3 at the stack."""
    from datetime import UTC, datetime

    from botocore.exceptions import ClientError

    from pressline.adapters.aws import client, reset_clients
    from pressline.ops.status.model import decide
    from pressline.ops.status.read import read_stack
    from pressline.ops.status.text import format_text
    from pressline.ops.target import Target, explain

    reset_clients()
    try:
        outputs, environment, unread = stack_inputs(args)
    except StackNotFound:
        where = "check --stack-name and --region"
        print(f"pressline status: no stack named {args.stack_name!r} here ({where})", file=sys.stderr)
        return 2
    except ClientError as error:
        if explain(error, Target()) is not None:
            raise  # the credentials: ops.target says so for every command
        answer = error.response.get("Error", {})
        print(
            f"pressline status: cannot read the stack: {answer.get('Code')}: {answer.get('Message')}", file=sys.stderr
        )
        return 2
    if not outputs:
        print("pressline status: no stack outputs: give --local, --outputs FILE or --stack-name", file=sys.stderr)
        return 2
    reading = read_stack(
        client,
        outputs,
        environment,
        reports=args.reports,
        scheduled=args.scheduled,
        now=datetime.now(UTC),
        stack_name=args.stack_name or outputs.get("StackName"),
        endpoint_url=outputs.get("Endpoint") or getattr(args, "endpoint_url", None),
        region=outputs.get("Region") or getattr(args, "region", None),
        settings_unread=unread,
    )
    status = decide(reading, target_options(args))
    print(status.model_dump_json(indent=2) if args.json else format_text(status), end="\n" if args.json else "")
    return status.exit_code
