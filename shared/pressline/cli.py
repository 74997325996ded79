"""The ``pressline`` command. Each subcommand lives in its own module, imported only
when chosen, so ``pressline check`` never pays for moto or boto3.

A subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``. The commands
that talk to a stack (AWS_COMMANDS) also get ``--local``, ``--endpoint-url`` and ``--region``
from ``pressline.ops.target``, which points boto3 at the chosen stack before they run and turns
set-up errors (no credentials, nothing listening) into one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "local": ("pressline.local.cli", "run the whole pipeline on this machine (moto, no Docker)"),
    "check": ("pressline.posts.check", "validate posts with the pipeline's own rules"),
    "rebuild": ("pressline.indexing.rebuild", "regenerate every page, listing and feed from the catalog"),
    "redrive": ("pressline.ops.redrive", "move messages from a dead-letter queue back to its source"),
    "subscribers": (
        "pressline.ops.subscribers",
        "import subscribers from a CSV (Ghost, Substack, Mailchimp...), or export them",
    ),
    "export": ("pressline.ops.export", "write the site's posts, pages, images and subscribers to a folder"),
    "import": ("pressline.importing.command", "move a blog in: WordPress, Ghost, Hugo or Jekyll (--out DIR to review)"),
    "preview": ("pressline.preview.command", "serve a folder of posts as the site will show them, reloading on save"),
    "status": ("pressline.ops.status", "show the stack's queues, reports, scheduled posts, subscribers and sending"),
    "doctor": ("pressline.ops.doctor", "check the sending domain's DNS records (SPF, DKIM, DMARC, MAIL FROM)"),
}

# "import" takes the target options for uploading; with --out or --dry-run it needs no AWS at all.
AWS_COMMANDS = frozenset({"rebuild", "redrive", "import", "subscribers", "export", "status", "doctor"})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="pressline", description="Pressline publishing pipeline")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(sub_parser)
            if name in AWS_COMMANDS:
                from pressline.ops import target

                target.add_arguments(sub_parser)
    args, _ = parser.parse_known_args(argv) if chosen is None else (parser.parse_args(argv), [])
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    # `import --out DIR` writes files only: no stack is chosen (a stale outputs file cannot stop it).
    if args.command in AWS_COMMANDS and getattr(args, "out", None) is None:
        from pressline.ops.target import run_against_target

        return run_against_target(args.command, args, module.run)
    return int(module.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
