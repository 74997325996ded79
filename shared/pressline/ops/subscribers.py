"""``pressline subscribers import FILE.csv`` and ``pressline subscribers export FILE.csv``.

Import reads a CSV export of Ghost (members), Substack, Mailchimp (audience), WordPress.com /
Jetpack or Pressline itself (``--format``, default: told by the header; the rules are in
``subscribers/imports.py``): an address whose row records its consent becomes a confirmed
subscriber with that record kept; one without gets one confirmation email, as a sign-up does,
within the site's sign-up limits and SES's sending rate and quota (the rest: run it again
later). Unsubscribed rows are never subscribed, bounced ones are suppressed, and running it
twice changes and sends nothing. ``--dry-run`` says what each row would do and writes nothing.
Rows are named by number, never by address.

Export writes every subscriber (confirmed, and pending sign-ups) with status, tags and
consent record, in the CSV import reads back; cells a spreadsheet would run as formulas are
neutralized. The file holds personal data: it is created readable by its owner only.

``pressline subscribers resume-sending`` lifts the sending pause that a complaint rate of 0.3%
set (subscribers/sending.py): held post emails go out within the next 15 minutes, each once.

The stack: ``--local`` (or a ``.local/outputs.json`` here), ``--stack-name`` for a deployed
one (its outputs, and the Subscriptions function's settings: the token key, sender, limits).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The Subscriptions function's settings a command needs (its environment in the template).
SUBSCRIPTION_SETTINGS = (
    "SUBSCRIBERS_TABLE",
    "TOKEN_SECRET_ARN",
    "SENDER_EMAIL",
    "SITE_TITLE",
    "SITE_URL",
    "SITE_URL_PARAMETER",  # config reads <NAME>_PARAMETER where <NAME> is not set (template.yaml)
    "API_URL",
    "API_URL_PARAMETER",
    "SES_CONFIGURATION_SET",
    "SIGNUP_LIMITS",
)
SUBSCRIPTIONS_FUNCTION = "SubscriptionsFunction"
QUOTA_SHARE = 0.5  # of SES's 24-hour quota left: the rest stays for the day's post emails


@dataclass
class StackSettings:
    outputs: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    def apply(self) -> None:
        """Make the Subscriptions function's settings this process's (``config.settings``)."""
        from pressline.subscribers import runtime

        os.environ.update({name: value for name, value in self.environment.items() if name in SUBSCRIPTION_SETTINGS})
        runtime.reset()


def stack_settings(args: argparse.Namespace) -> StackSettings:
    """The outputs and the Subscriptions function's environment of the stack ``args`` name:
    a deployed stack's (``--stack-name``), the local stack's outputs file and the function
    descriptions beside it, or else this process's environment (as the functions have it)."""
    found = StackSettings()
    if getattr(args, "stack_name", None):
        from pressline.adapters.aws import client

        stack = client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"][0]
        found.outputs = {item["OutputKey"]: item.get("OutputValue", "") for item in stack.get("Outputs", [])}
        resource = client("cloudformation").describe_stack_resource(
            StackName=args.stack_name, LogicalResourceId=SUBSCRIPTIONS_FUNCTION
        )["StackResourceDetail"]["PhysicalResourceId"]
        configuration = client("lambda").get_function_configuration(FunctionName=resource)
        found.environment = dict(configuration.get("Environment", {}).get("Variables", {}))
    elif getattr(args, "outputs", None) is not None:
        from pressline.local.cli import functions_path

        path = Path(args.outputs)
        found.outputs = {str(k): str(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
        described = functions_path(path)
        if described.is_file():
            functions = json.loads(described.read_text(encoding="utf-8"))
            found.environment = dict(functions.get(SUBSCRIPTIONS_FUNCTION, {}).get("environment", {}))
    if not found.environment:
        found.environment = {name: os.environ[name] for name in SUBSCRIPTION_SETTINGS if name in os.environ}
    if "SUBSCRIBERS_TABLE" not in found.environment and found.outputs.get("SubscribersTableName"):
        found.environment["SUBSCRIBERS_TABLE"] = found.outputs["SubscribersTableName"]
    return found


def subscribers_table(found: StackSettings) -> str:
    return found.environment.get("SUBSCRIBERS_TABLE") or found.outputs.get("SubscribersTableName", "")


def export_subscribers(repository: Any, path: Path, now: datetime) -> int:
    """Write every subscriber to ``path`` (owner-only permissions); how many were written."""
    from pressline.subscribers.imports import export_csv

    count = -1  # the header is not a subscriber
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as out:
        for line in export_csv(repository.all_subscribers(now)):
            out.write(line)
            count += 1
    return count


def sending_pace(max_invitations: int | None) -> Any:
    """Invitations paced to SES's maximum send rate, at most ``QUOTA_SHARE`` of the 24-hour
    quota left (or ``max_invitations`` if lower). SES unreachable or not answering: one a second."""
    from pressline.adapters.aws import client
    from pressline.subscribers.importer import Pace

    try:
        quota = client("ses").get_send_quota()
        rate = float(quota.get("MaxSendRate") or 1.0)
        limit = float(quota.get("Max24HourSend") or -1)
        left = int(max(0.0, limit - float(quota.get("SentLast24Hours") or 0.0)) * QUOTA_SHARE) if limit > 0 else None
    except Exception:  # pacing is a courtesy: the sign-up limits still bound the sends
        rate, left = 1.0, None
    budget = left
    if max_invitations is not None:
        budget = max_invitations if left is None else min(max_invitations, left)
    return Pace(interval=1.0 / max(rate, 0.1), budget=budget)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("import", "export", "resume-sending"),
        help="import a CSV, export every subscriber to one, or resume sending after a pause",
    )
    parser.add_argument("file", type=Path, nargs="?", help="the CSV file to read (import) or write (export)")
    parser.add_argument(
        "--format",
        choices=("auto", "ghost", "substack", "mailchimp", "wordpress", "pressline"),
        default="auto",
        help="which platform exported FILE (default: told by its header)",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what each row would do; write and send nothing")
    parser.add_argument(
        "--max-invitations", type=int, default=None, help="send at most this many re-opt-in emails in this run"
    )
    parser.add_argument(
        "--outputs", type=Path, default=None, help="stack outputs JSON (pressline local writes .local/outputs.json)"
    )
    parser.add_argument("--stack-name", default=None, help="a deployed stack: read its outputs and settings")


def run(args: argparse.Namespace) -> int:
    from pressline.adapters.aws import reset_clients
    from pressline.subscribers.dynamodb import DynamoSubscriberRepository

    reset_clients()
    found = stack_settings(args)
    if args.action == "resume-sending":
        return resume_sending(found)
    if args.file is None:
        print(f"pressline subscribers {args.action}: give the CSV file", file=sys.stderr)
        return 2
    table = subscribers_table(found)
    if not table:
        print("pressline subscribers: no subscribers table (give --local, --stack-name or --outputs)", file=sys.stderr)
        return 2
    if args.action == "import" and not found.environment.get("TOKEN_SECRET_ARN"):
        # Subscriber ids are keyed hashes of addresses: without the stack's key nothing matches.
        print(
            "pressline subscribers: the stack's TOKEN_SECRET_ARN is unknown (give --local or --stack-name)",
            file=sys.stderr,
        )
        return 2
    if args.action == "import" and not args.dry_run and (pause := sending_paused(found)) is not None:
        # Re-opt-in emails to an imported list are what draws complaints: none while paused.
        print(
            f"pressline subscribers import: sending is paused {pause}; nothing imported. Once the cause is dealt"
            " with, `pressline subscribers resume-sending`, then import again (--dry-run works meanwhile)",
            file=sys.stderr,
        )
        return 2
    found.apply()
    repository = DynamoSubscriberRepository(table)
    if args.action == "export":
        count = export_subscribers(repository, args.file, datetime.now(UTC))
        print(f"Exported {count} subscriber(s) to {args.file}")
        return 0
    return _import(args, repository)


def sending_paused(found: StackSettings) -> str | None:
    """Since when and why sending is paused (None: it is not, or the stack has no ledger table)."""
    from pressline.subscribers.sending import DynamoPauseStore, describe

    table = found.outputs.get("LedgerTableName", "")
    pause = DynamoPauseStore(table).read() if table else None
    return describe(pause) if pause else None


def resume_sending(found: StackSettings) -> int:
    """Lift the sending pause (the ledger table's ``sending#pause``) and say what was lifted."""
    from pressline.subscribers.sending import HOLD_RETURN, DynamoPauseStore, describe

    table = found.outputs.get("LedgerTableName", "")
    if not table:
        print(
            "pressline subscribers resume-sending: no ledger table (give --local, --stack-name or --outputs)",
            file=sys.stderr,
        )
        return 2
    lifted = DynamoPauseStore(table).resume()
    if lifted is None:
        print("Sending was not paused: nothing to resume.")
    else:
        print(f"Sending resumed (it was paused {describe(lifted)}); held post emails go out within {HOLD_RETURN}.")
    return 0


def _import(args: argparse.Namespace, repository: Any) -> int:
    from pressline.subscribers.importer import Pace, apply_import
    from pressline.subscribers.imports import CsvFormatError, parse

    try:
        data = args.file.read_bytes()
    except OSError as error:
        print(f"pressline subscribers import: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    try:
        parsed = parse(data, args.file.name, args.format)
    except CsvFormatError as error:
        print(f"pressline subscribers import: {args.file}: {error}", file=sys.stderr)
        return 2
    subscriptions = _subscriptions()
    pace = Pace() if args.dry_run else sending_pace(args.max_invitations)
    from pressline.importing.progress import Progress

    verb = "Checking" if args.dry_run else "Importing"
    with Progress(len(parsed.rows), f"{verb} subscribers") as progress:  # counts and outcomes, never addresses
        report = apply_import(
            parsed,
            repository,
            subscriptions,
            dry_run=args.dry_run,
            pace=pace,
            on_row=lambda outcome: progress.advance(status=outcome.outcome),
        )
    for problem in report.problems:
        print(f"  {problem}")
    if args.dry_run:
        for outcome in report.outcomes:
            print(f"  row {outcome.row}: would be {outcome.outcome}: {outcome.reason}")
    print(report.summary())
    return 1 if report.problems else 0


def _subscriptions() -> Any:
    from pressline.config import settings
    from pressline.subscribers import runtime
    from pressline.subscribers.aws import SesMailer
    from pressline.subscribers.dynamodb import DynamoSubscriberRepository
    from pressline.subscribers.service import SignupLimits, Subscriptions

    config = settings()
    return Subscriptions(
        repository=DynamoSubscriberRepository(config.subscribers_table),
        mailer=SesMailer(config.ses_configuration_set),
        keys=runtime.keys(),
        site=runtime.site(),
        clock=runtime.utc_now,
        limits=SignupLimits.from_setting(os.environ.get("SIGNUP_LIMITS", "")),
    )
