"""The local front door: the site bucket served as CloudFront would, and ``/api/...`` sent to
the HttpApi function as an API Gateway HTTP API (payload format 2.0) would.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pressline.local.stack import LocalFunction
from pressline.posts.paths import file_key
from pressline.site.headers import site_headers

logger = logging.getLogger("pressline.local.http")

API_PREFIX = "/api"
_TEXT_TYPES = re.compile(r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded|[\w.+-]+\+(json|xml)))")
_NOT_FOUND_PAGE = "404.html"
_SITE_HEADERS = tuple(site_headers().items())


# --------------------------------------------------------------------------- routing
@dataclass(frozen=True)
class Route:
    method: str  # "ANY" or an HTTP method
    path: str  # the template's Path, e.g. /subscriptions/{id} or /files/{proxy+}
    function: LocalFunction
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        found = self.pattern.fullmatch(path)
        return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}


def _compile(path: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{") and piece.endswith("}"):
            name = piece[1:-1]
            parts.append(f"(?P<{name[:-1]}>.+)" if name.endswith("+") else f"(?P<{name}>[^/]+)")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))


def routes_of(functions: list[LocalFunction]) -> list[Route]:
    """Every HttpApi event of the template, most specific (no greedy parameter, longer) first."""
    routes = []
    for function in functions:
        for event in function.events_of("HttpApi"):
            method = str(event.properties.get("Method", "ANY")).upper()
            method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
            path = str(event.properties.get("Path", "/{proxy+}"))
            routes.append(Route(method, path, function, _compile(path)))
    return sorted(routes, key=lambda r: ("+}" in r.path, r.method == "ANY", -len(r.path)))


def http_api_event(
    *,
    route: Route,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    path_parameters: dict[str, str],
    account_id: str,
) -> dict[str, Any]:
    """The event API Gateway sends a Lambda proxy integration (payload format 2.0)."""
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": account_id,
            "apiId": "local",
            "domainName": merged.get("host", "localhost"),
            "domainPrefix": merged.get("host", "localhost").split(".", 1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        content_type = merged.get("content-type", "")
        text = _as_text(body) if _TEXT_TYPES.match(content_type) or not content_type else None
        if text is None:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def _as_text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def http_api_response(result: Any) -> HttpResponse:
    """Map a handler's result back to HTTP as API Gateway does for payload format 2.0.

    A dict with ``statusCode`` is a full response; anything else is a 200 JSON body.
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("Content-Type", "application/json")], body.encode("utf-8"))
    headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(value)) for value in values)
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    raw_body = str(result.get("body") or "")
    payload = base64.b64decode(raw_body) if result.get("isBase64Encoded") else raw_body.encode("utf-8")
    if not any(name.lower() == "content-type" for name, _ in headers) and payload:
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(int(result["statusCode"]), headers, payload)


# --------------------------------------------------------------------------- site
def site_key(path: str) -> str:
    """The site bucket key for a URL path, like the distribution's viewer-request function:
    ``/`` and ``/a/b/`` serve their index.html, ``/a/b`` (no extension) serves a/b/index.html."""
    key = file_key(path)
    if key == "" or key.endswith("/"):
        return key + "index.html"
    if "." not in key.rsplit("/", 1)[-1]:
        return key + "/index.html"
    return key


def redirect_location(stored: str | None) -> str | None:
    """Where an object with S3's WebsiteRedirectLocation sends its viewer, as the distribution's
    viewer-response function (``SiteRedirects`` in template.yaml) decides: only to a path of
    the site (an alias object of ``pressline.indexing.redirects``), never to another host."""
    if not stored or not stored.startswith("/") or stored.startswith("//") or "\\" in stored:
        return None
    return stored


def content_type_for(key: str, stored: str | None) -> str:
    if stored and stored not in ("binary/octet-stream", "application/octet-stream"):
        return stored
    guessed, _ = mimetypes.guess_type(key)
    if guessed and (guessed.startswith("text/") or guessed in ("application/javascript", "application/json")):
        return f"{guessed}; charset=utf-8"
    return guessed or stored or "application/octet-stream"


# --------------------------------------------------------------------------- server
Invoke = Callable[[LocalFunction, dict[str, Any]], Any]


class LocalHttpServer(ThreadingHTTPServer):
    """Bound first (the port decides SITE_URL), configured once the stack exists, then started."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.s3: Any = None
        self.site_bucket = ""
        self.routes: list[Route] = []
        self.invoke: Invoke | None = None
        self.account_id = "123456789012"
        self._thread: threading.Thread | None = None

    @classmethod
    def bind(cls, host: str, port: int) -> LocalHttpServer:
        return cls((host, port))

    def configure(self, *, s3: Any, site_bucket: str, routes: list[Route], invoke: Invoke, account_id: str) -> None:
        self.s3 = s3
        self.site_bucket = site_bucket
        self.routes = routes
        self.invoke = invoke
        self.account_id = account_id

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever(), so only if it runs
            self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    server: LocalHttpServer
    protocol_version = "HTTP/1.1"
    server_version = "pressline-local"

    def log_message(self, format: str, *args: Any) -> None:
        return  # one line per request is logged by _respond instead

    # Every method goes through one dispatcher: the API accepts any, the site GET/HEAD.
    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == API_PREFIX or url.path.startswith(API_PREFIX + "/"):
            response = self._api(url.path[len(API_PREFIX) :] or "/", url.query, body)
        else:
            if self.command in ("GET", "HEAD"):
                response = self._site(url.path)
            else:
                response = HttpResponse(
                    405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], b"Method Not Allowed"
                )
            # What CloudFront's response headers policy adds (template.yaml), from the same
            # definition; the local API is on the site's origin, so the subscribe form's is 'self'.
            response = HttpResponse(response.status, [*response.headers, *_SITE_HEADERS], response.body)
        self._respond(response, started)

    def _api(self, raw_path: str, raw_query: str, body: bytes) -> HttpResponse:
        for route in self.server.routes:
            parameters = route.match(self.command, raw_path)
            if parameters is None:
                continue
            event = http_api_event(
                route=route,
                method=self.command,
                raw_path=raw_path,
                raw_query=raw_query,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                path_parameters=parameters,
                account_id=self.server.account_id,
            )
            assert self.server.invoke is not None, "configure() the server before starting it"
            try:
                return http_api_response(self.server.invoke(route.function, event))
            except Exception:
                logger.exception("%s raised on %s", route.function.logical_id, route.route_key)
                return HttpResponse(500, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}')
        return HttpResponse(404, [("Content-Type", "application/json")], b'{"message":"Not Found"}')

    def _site(self, path: str) -> HttpResponse:
        from botocore.exceptions import ClientError

        key = site_key(path)
        try:
            stored = self.server.s3.get_object(Bucket=self.server.site_bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404", "AccessDenied"):
                raise
            return self._not_found()
        headers = [("Content-Type", content_type_for(key, stored.get("ContentType")))]
        if stored.get("ETag"):
            headers.append(("ETag", stored["ETag"]))
        if stored.get("CacheControl"):
            headers.append(("Cache-Control", stored["CacheControl"]))
        location = redirect_location(stored.get("WebsiteRedirectLocation"))
        if location is not None:  # an old URL: 301 to its post, the object's body for who does not follow
            return HttpResponse(301, [("Location", location), *headers], stored["Body"].read())
        if stored.get("ETag") and self.headers.get("If-None-Match") == stored["ETag"]:
            return HttpResponse(304, headers, b"")
        return HttpResponse(200, headers, stored["Body"].read())

    def _not_found(self) -> HttpResponse:
        from botocore.exceptions import ClientError

        try:
            page = self.server.s3.get_object(Bucket=self.server.site_bucket, Key=_NOT_FOUND_PAGE)["Body"].read()
        except ClientError:
            page = b"<!doctype html><title>Not found</title><h1>Not found</h1>"
        return HttpResponse(404, [("Content-Type", "text/html; charset=utf-8")], page)

    def _respond(self, response: HttpResponse, started: float) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.status != HTTPStatus.NOT_MODIFIED:
            self.wfile.write(response.body)
        elapsed = (time.perf_counter() - started) * 1000
        level = logging.INFO if self.path.startswith(API_PREFIX) or response.status >= 500 else logging.DEBUG
        logger.log(level, "%s %s -> %d (%.0f ms)", self.command, urlsplit(self.path).path, response.status, elapsed)
