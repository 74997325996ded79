"""``pressline preview [PATH…]``: serve a folder of posts, pages and images as the site will show
them, on 127.0.0.1, rebuilt on every save with the browser reloading by itself.

PATHs are read as ``pressline check`` reads them (a folder is searched for posts, pages under
a ``pages/`` folder, and images), and the same lines are printed: every problem at the start,
a changed file's after each save. A file the pipeline would refuse shows its errors at its
address. Drafts and scheduled posts get their own page, with a banner, and appear in no
listing, as on the site. No AWS and no moto: everything is built in memory
(``pressline.preview.build``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from pressline.site.pages import Site

DEFAULT_PORT = 8000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", default=["."], help="posts, pages, images, or folders of them (default: .)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"the port (default: {DEFAULT_PORT}; 0: any free one)"
    )
    parser.add_argument(
        "--timezone",
        default=os.environ.get("SITE_TIMEZONE", "UTC"),
        help="the site's time zone (default: $SITE_TIMEZONE or UTC)",
    )
    parser.add_argument(
        "--title",
        default=os.environ.get("SITE_TITLE", "Pressline"),
        help="the site's name (default: $SITE_TITLE or Pressline)",
    )


def problem_with_paths(paths: list[str]) -> str | None:
    """Why these PATHs cannot be previewed (one line), or None."""
    for name in paths:
        path = Path(name)
        if not path.exists():
            return f"no such file or folder: {name}"
        if not (path.is_dir() or path.is_file()):
            return f"not a file or folder: {name}"
    return None


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    out = out or sys.stdout
    problem = problem_with_paths(args.paths)
    if problem is None and not 0 <= args.port <= 65535:
        problem = f"--port must be 0 to 65535, not {args.port}"
    if problem is not None:
        print(f"pressline preview: {problem}", file=sys.stderr)
        return 2
    try:
        timezone = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"pressline preview: unknown time zone {args.timezone!r}", file=sys.stderr)
        return 2

    # As in the functions (template.yaml): no pydantic plugin is used, so the first model need not
    # scan every installed package's entry points for one (about 0.1 s of the start-up).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from pressline.preview.server import Previewer, PreviewServer

    address: list[str] = []  # the origin, known once the port is bound (--port 0: any free one)
    previewer = Previewer(args.paths, lambda: _site(args, address[0]), timezone, out, _expand)
    try:  # listening first: the browser can ask while the site is built
        server = PreviewServer((args.host, args.port), previewer)
    except OSError as error:
        print(f"pressline preview: cannot listen on {args.host}:{args.port}: {error.strerror or error}; "
              "choose another --port", file=sys.stderr)  # fmt: skip
        return 2
    # Listening on every interface (0.0.0.0, ::) still means this machine in the URL the pages link with.
    host = "127.0.0.1" if _is_unspecified(args.host) else args.host
    host = f"[{host}]" if ":" in host else host
    origin = f"http://{host}:{server.port}"
    address.append(origin)
    overview = f"drafts, refused files and check's lines at {origin}/__preview/"
    print(f"Previewing {' '.join(args.paths)} at {origin}/ ({overview}; Ctrl-C to stop)", file=out, flush=True)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    serving.start()
    try:
        previewer.start()
        previewer.watch()
    except KeyboardInterrupt:
        pass
    finally:
        previewer.stopping.set()
        server.shutdown()
        server.server_close()
    return 0


def _expand(paths: Sequence[str]) -> list[Path]:
    from pressline.posts.check import expand

    return expand(list(paths))


def _site(args: argparse.Namespace, origin: str) -> Site:
    """The site as the stack's functions see it (``Site.from_settings``), at the preview's address."""
    from pressline.site.pages import DEFAULT_DATE_FORMAT, Site

    return Site(
        title=args.title,
        url=origin,
        api_url=f"{origin}/api",
        timezone=args.timezone,
        date_format=os.environ.get("SITE_DATE_FORMAT", DEFAULT_DATE_FORMAT),
        language=os.environ.get("SITE_LANGUAGE", "en"),
    )


def _is_unspecified(host: str) -> bool:
    """Whether ``host`` is the address of every interface ("" as the socket module takes it)."""
    import ipaddress

    try:
        return host == "" or ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        return False
