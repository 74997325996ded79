"""The preview's web server (the stdlib's ``ThreadingHTTPServer``) and what keeps it current.

Paths map to keys as on the local stack and CloudFront (``pressline.local.web.site_key``), old
URLs answer 301 as there, and every response carries the site's security headers
(``pressline.site.headers``). Preview's own additions, to HTML responses only: a banner on a
draft's or a scheduled post's page, and ``/__preview/reload.js``, a file (the CSP allows
``script-src 'self'``) that listens to ``/__preview/events`` (Server-Sent Events, same origin:
``connect-src 'self'``) and reloads the page when the site changes. Nothing is cached by the
browser (``no-store``): a reload shows the new build.

``Previewer`` owns the builds: the first (the newest posts only, on a large folder), the whole
one, and one after each change the watcher sees (mtimes polled every 0.3 s). Requests wait for
a build that answers them; the browser is told to reload only when the site really changed.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pressline.local.web import content_type_for, redirect_location, site_key
from pressline.preview.build import Build, Rejected, RenderCache, build_site, first_build, quick_files, saved_build
from pressline.site.pages import Site

logger = logging.getLogger("pressline.preview")

PREVIEW_PREFIX = "/__preview/"
OVERVIEW_PATH = PREVIEW_PREFIX
EVENTS_PATH = PREVIEW_PREFIX + "events"
SCRIPT_PATH = PREVIEW_PREFIX + "reload.js"
POLL_SECONDS = 0.3
KEEPALIVE_SECONDS = 10.0  # an idle event stream sends a comment this often: a closed tab is noticed
WAIT_SECONDS = 120.0  # longest a request waits for the first build that answers it
FIRST_PAGE_HEAD_START = 0.5  # longest the whole build waits for a browser to be served the first one
INJECTED_START = "<!-- pressline preview -->"
INJECTED_END = "<!-- /pressline preview -->"

# Reloads the page when the server's build is not the one the page was made from: on each
# change, and when the stream reconnects to a preview started again meanwhile.
RELOAD_SCRIPT = """\
// pressline preview: reload the page when the folder's site changes (Server-Sent Events).
(() => {
  "use strict";
  const shown = new URL(document.currentScript.src).searchParams.get("build");
  const events = new EventSource("/__preview/events");
  events.addEventListener("build", (event) => {
    if (event.data !== shown) {
      events.close();
      window.location.reload();
    } else {
      document.documentElement.dataset.preview = "live";  // listening (tests wait for it)
    }
  });
})();
"""

BANNER_STYLE = (
    ".pressline-preview-banner{position:fixed;inset:auto 0 0 0;z-index:1000;margin:0;padding:.6rem 1rem;"
    "background:#fff3c4;color:#3b2f00;border-top:2px solid #c79a00;font:600 .95rem/1.4 system-ui,sans-serif;"
    "text-align:center}"
)


def inject(page: bytes, build_id: int, banner: str | None = None) -> bytes:
    """``page`` with the preview's block before its last ``</body>`` (a banner, the reload script)."""
    parts = [INJECTED_START]
    if banner:
        parts.append(f'<style>{BANNER_STYLE}</style><p class="pressline-preview-banner" role="status">{banner}</p>')
    parts.append(f'<script src="{SCRIPT_PATH}?build={build_id}"></script>{INJECTED_END}')
    block = "".join(parts).encode("utf-8")
    at = page.rfind(b"</body>")
    return page + block if at < 0 else page[:at] + block + page[at:]


def unlisted_banner(build: Build, key: str) -> str | None:
    found = build.unlisted.get(key)
    if found is None:
        return None
    why, moment = found
    if why == "draft":
        return "Draft: only the preview shows this page. It is not published, nor in any listing or feed."
    when = html.escape(build.site.format_date(moment))
    return f"Scheduled for {when}: only the preview shows it until then; it goes live by itself."


def error_page(rejected: Rejected) -> str:
    """What stands at a refused file's address: the problems as ``pressline check`` prints them."""
    from pressline.posts.check import format_problem, ordered

    problems = rejected.problems
    lines = [format_problem(rejected.path, p, warning=w) for p, w in ordered(problems.errors, problems.warnings)]
    items = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in lines)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Not published: {html.escape(str(rejected.path))}</title>"
        f"{_PAGE_STYLE}</head><body>"
        f"<h1>{html.escape(str(rejected.path))} would not be published</h1>"
        "<p>The pipeline would refuse this file, and the site would keep its last valid version. "
        "Fix these and save: the page reloads.</p>"
        f"<ul>{items}</ul></body></html>"
    )


_PAGE_STYLE = (
    "<style>body{font:1rem/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}"
    "li{margin:.4rem 0}code{white-space:pre-wrap;word-break:break-word}</style>"
)


def overview_page(build: Build) -> str:
    """``/__preview/``: what only the preview shows, and every line ``pressline check`` prints."""
    from pressline.posts.check import format_problem, ordered

    def link(key: str, label: str) -> str:
        path = "/" + key.removesuffix("index.html")
        return f'<li><a href="{html.escape(path)}">{html.escape(path)}</a> {html.escape(label)}</li>'

    refused = "".join(link(key, f"({rejected.path}: not published)") for key, rejected in sorted(build.errors.items()))
    unlisted = "".join(link(key, f"({why})") for key, (why, _) in sorted(build.unlisted.items()))
    lines = [
        format_problem(item.path, problem, warning=warning)
        for item in build.problems
        for problem, warning in ordered(item.errors, item.warnings)
    ]
    problems = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in lines)
    counts = f"{build.posts} post(s) and {build.pages} page(s) published"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Preview of {html.escape(build.site.title)}</title>{_PAGE_STYLE}</head><body>"
        f'<h1>Preview of <a href="/">{html.escape(build.site.title)}</a></h1><p>{counts}: '
        f"{build.error_count} error(s), {build.warning_count} warning(s).</p>"
        f"<h2>Refused</h2><ul>{refused or '<li>none</li>'}</ul>"
        f"<h2>Drafts and scheduled posts</h2><ul>{unlisted or '<li>none</li>'}</ul>"
        f"<h2>What pressline check says</h2><ul>{problems or '<li>nothing</li>'}</ul></body></html>"
    )


# --------------------------------------------------------------------------- builds
@dataclass(frozen=True)
class Served:
    """One build as the server shows it: the build, and its number as the browser knows it."""

    build: Build
    build_id: int


class Previewer:
    """The current build, the builds that replace it, and who waits for them."""

    def __init__(
        self,
        paths: Sequence[str],
        make_site: Callable[[], Site],
        timezone: ZoneInfo,
        out: TextIO,
        expand: Callable[[Sequence[str]], list[Path]],
    ) -> None:
        self.paths = list(paths)
        self.make_site = make_site
        self.timezone = timezone
        self.out = out
        self.expand = expand
        self.cache = RenderCache()
        self.changed = threading.Condition()
        self.served: Served | None = None
        self.stopping = threading.Event()
        self.answered = threading.Event()  # a page has been served
        self._shown: dict[str, object] = {}
        self._last: dict[Path, tuple[int, int]] = {}  # the files' state the last build started from
        self._said: dict[Path, list[str]] = {}  # each file's lines, as last printed

    # ----------------------------------------------------------- building
    def build_all(self, files: list[Path]) -> Build:
        return build_site(files, self.make_site(), timezone=self.timezone, cache=self.cache)

    def start(self) -> None:
        """The first builds: the newest posts first on a large folder, then everything. The
        files' state is taken first: a save while they are built is a change ``watch`` sees."""
        self._last = self.snapshot()
        files = self.expand(self.paths)
        started = time.perf_counter()
        quick = quick_files(files)
        if quick is not None:
            first = first_build(quick, self.make_site(), timezone=self.timezone, cache=self.cache)
            self.publish(first)
            # A browser already waiting gets its page before the whole build takes the CPU.
            self.answered.wait(FIRST_PAGE_HEAD_START)
        build = self.build_all(files)
        self.publish(build)
        self.report(build, None, time.perf_counter() - started)

    def rebuild(self, changed: list[Path]) -> None:
        """After a save: the saved posts' pages at once when that is all that can have changed
        on them (``saved_build``), then the whole site."""
        started = time.perf_counter()
        previous = self.served.build if self.served is not None else None
        quick = None
        if previous is not None:
            quick = saved_build(changed, previous, timezone=self.timezone, cache=self.cache)
        reloaded = self.publish(quick) if quick is not None else False
        build = self.build_all(self.expand(self.paths))
        reloaded = self.publish(build) or reloaded
        self.report(build, changed, time.perf_counter() - started, reloaded=reloaded)

    def publish(self, build: Build) -> bool:
        """Serve ``build`` from now on; True if the browser is told to reload (the site changed)."""
        shown = _what_shows(build)
        with self.changed:
            previous = self.served
            if previous is None:
                self.served = Served(build, 1)
                reload = False
            else:
                reload = _differs(self._shown, shown, previous.build.answers)
                self.served = Served(build, previous.build_id + 1 if reload else previous.build_id)
            self._shown = shown
            self.changed.notify_all()
        return reload

    def report(self, build: Build, changed: list[Path] | None, seconds: float, *, reloaded: bool = True) -> None:
        """``pressline check``'s lines: every file's at the start; after a save, those of the files
        saved and of any file whose lines changed with them (a slug another file took, say)."""
        from pressline.posts.check import format_problem, ordered

        lines = {
            item.path: [format_problem(item.path, p, warning=w) for p, w in ordered(item.errors, item.warnings)]
            for item in build.problems
        }
        wanted = set(changed or ())
        for path, said in lines.items():
            if changed is None or path in wanted or said != self._said.get(path):
                for line in said:
                    print(line, file=self.out)
        self._said = lines
        if changed is None:
            what = "Built"
        elif not changed:
            what = "A scheduled post is due: rebuilt"
        else:
            what = f"{', '.join(str(path) for path in changed[:3])} changed: rebuilt"
        extra = "" if changed is None or len(changed) <= 3 else f" and {len(changed) - 3} more"
        problems = f"{build.error_count} error(s), {build.warning_count} warning(s)"
        counts = f"{build.posts} post(s), {build.pages} page(s): {problems}"
        reload = "" if changed is None else ("; browsers reload" if reloaded else "; nothing on the site changed")
        print(f"{what}{extra} in {seconds:.2f} s: {counts}{reload}", file=self.out, flush=True)

    # ----------------------------------------------------------- serving
    def serving(self, key: str | None, timeout: float = WAIT_SECONDS, *, whole: bool = False) -> Served | None:
        """The build that answers ``key`` (None: any build; ``whole``: a whole one), waiting for
        it if it is not made yet."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not self.stopping.is_set():
                served = self.served
                if served is not None and (served.build.answers is None if whole else _answers(served.build, key)):
                    return served
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(min(left, 0.5))
        return None

    def next_build(self, build_id: int, timeout: float) -> int | None:
        """The id of a build newer than ``build_id`` once there is one; None after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not self.stopping.is_set():
                if self.served is not None and self.served.build_id != build_id:
                    return self.served.build_id
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(min(left, 0.5))
        return None

    # ----------------------------------------------------------- watching
    def watch(self, interval: float = POLL_SECONDS) -> None:
        """Poll the folder's files (their mtime and size) and rebuild on any change (``start`` first)."""
        last = self._last
        while not self.stopping.wait(interval):
            now = self.snapshot()
            if now == last and not self.due():
                continue
            changed = sorted({path for path in now.keys() | last.keys() if now.get(path) != last.get(path)})
            last = now
            try:
                self.rebuild(changed)
            except Exception:  # a bug of ours on one save: say so, keep serving the last build
                logger.exception("Could not rebuild after a change to %s", ", ".join(map(str, changed[:3])))

    def due(self) -> bool:
        """Whether a scheduled post's date has come: it goes live by itself, as on the site."""
        from datetime import UTC, datetime

        served = self.served
        if served is None:
            return False
        now = datetime.now(UTC)
        return any(why == "scheduled" and moment <= now for why, moment in served.build.unlisted.values())

    def snapshot(self) -> dict[Path, tuple[int, int]]:
        found: dict[Path, tuple[int, int]] = {}
        for path in self.expand(self.paths):
            try:
                stat = path.stat()
            except OSError:
                continue
            found[path] = (stat.st_mtime_ns, stat.st_size)
        return found


def _answers(build: Build, key: str | None) -> bool:
    return key is None or build.answers is None or key in build.answers


def _what_shows(build: Build) -> dict[str, object]:
    """The pages a browser shows of a build, by key: to tell whether a new build changes one.
    Pages only: the feeds say when they were made, and nobody reads a feed in the preview."""
    shown: dict[str, object] = {
        key: (item.body, item.redirect)
        for key, item in build.store.objects.items()
        if item.redirect or (item.content_type or "").startswith("text/html")
    }
    for key, rejected in build.errors.items():
        shown.setdefault(key, error_page(rejected))
    for key, marker in build.unlisted.items():
        shown[key] = (shown.get(key), marker)
    return shown


def _differs(before: dict[str, object], after: dict[str, object], answered: frozenset[str] | None) -> bool:
    """Whether a page a browser may show changed (of a first build: only the keys it answered)."""
    if answered is not None:
        return any(before.get(key) != after.get(key) for key in answered)
    return before != after


# --------------------------------------------------------------------------- HTTP
class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True  # an open event stream never holds the process up

    def __init__(self, address: tuple[str, int], previewer: Previewer) -> None:
        super().__init__(address, _Handler)
        self.previewer = previewer

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    protocol_version = "HTTP/1.1"
    server_version = "pressline-preview"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        if path == EVENTS_PATH and self.command == "GET":
            self._events()
            return
        if self.command not in ("GET", "HEAD"):
            self._send(405, "text/plain; charset=utf-8", b"Method Not Allowed", [("Allow", "GET, HEAD")])
        elif path == SCRIPT_PATH:
            self._send(200, "text/javascript; charset=utf-8", RELOAD_SCRIPT.encode("utf-8"))
        elif path == OVERVIEW_PATH:
            self._overview()
        elif path == "/api" or path.startswith("/api/"):
            message = b'{"message":"pressline preview serves the site only: subscribing works on the stack"}'
            self._send(404, "application/json", message)
        else:
            self._site(path)

    def _site(self, path: str) -> None:
        from pressline.indexing.layout import NOT_FOUND

        key = site_key(path)
        served = self.server.previewer.serving(key)
        if served is None:
            self._send(503, "text/plain; charset=utf-8", b"The preview is still building or stopping.")
            return
        build, build_id = served.build, served.build_id
        stored = build.store.objects.get(key)
        if stored is not None:
            location = redirect_location(stored.redirect)
            if location is not None:  # an old URL, as the stack answers it
                self._send(301, content_type_for(key, stored.content_type), stored.body, [("Location", location)])
                return
            content_type = content_type_for(key, stored.content_type)
            body = stored.body
            if content_type.startswith("text/html"):
                body = inject(body, build_id, unlisted_banner(build, key))
            self._send(200, content_type, body)
            return
        rejected = build.errors.get(key)
        if rejected is not None:
            page = inject(error_page(rejected).encode("utf-8"), build_id)
            self._send(HTTPStatus.UNPROCESSABLE_ENTITY, "text/html; charset=utf-8", page)
            return
        missing = build.store.objects.get(NOT_FOUND)
        page = missing.body if missing is not None else b"<!doctype html><title>Not found</title><h1>Not found</h1>"
        self._send(404, "text/html; charset=utf-8", inject(page, build_id))

    def _overview(self) -> None:
        served = self.server.previewer.serving(None, whole=True)  # every file's lines: the whole build's
        if served is None:
            self._send(503, "text/plain; charset=utf-8", b"The preview is still building or stopping.")
            return
        page = inject(overview_page(served.build).encode("utf-8"), served.build_id)
        self._send(200, "text/html; charset=utf-8", page)

    def _events(self) -> None:
        """The build ids, as Server-Sent Events: the current one at once, each new one as it comes."""
        previewer = self.server.previewer
        served = previewer.serving(None)
        if served is None:
            self._send(503, "text/plain; charset=utf-8", b"The preview is stopping.")
            return
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self._security_headers()
        self.end_headers()
        build_id = served.build_id
        try:
            self.wfile.write(f"event: build\ndata: {build_id}\n\n".encode())
            self.wfile.flush()
            while not previewer.stopping.is_set():
                newer = previewer.next_build(build_id, KEEPALIVE_SECONDS)
                if newer is None:
                    self.wfile.write(b": still here\n\n")
                else:
                    build_id = newer
                    self.wfile.write(f"event: build\ndata: {build_id}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the tab was closed or reloaded

    def _security_headers(self) -> None:
        from pressline.site.headers import site_headers

        for name, value in site_headers().items():
            self.send_header(name, value)

    def _send(self, status: int, content_type: str, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self._security_headers()  # as CloudFront's response headers policy and the local stack add them
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.previewer.answered.set()
