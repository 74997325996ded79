"""The subscriptions HTTP API (API Gateway HTTP API, payload 2.0).

``POST /subscriptions``            JSON ``{"email", "tags"}`` -> JSON; form (``email``, ``tags``...) -> HTML.
                                   202 and the same body whatever the address: no enumeration.
``GET  /subscriptions/confirm``    a page with a button; link scanners' GETs change nothing.
``POST /subscriptions/confirm``    confirms (double opt-in).
``GET  /subscriptions/unsubscribe``  a page with a button.
``POST /subscriptions/unsubscribe``  RFC 8058 one-click: unsubscribes and deletes at once.
``GET  /subscriptions/preferences``  the preferences page (tags, frequency, unsubscribe); changes nothing.
``POST /subscriptions/preferences``  saves the page's form (its token is expiring and bound to
                                   the version it was shown for: a replay changes nothing, 409).

Tokens travel in the query string (``?token=``); the pages' forms also send it as a field.
Bodies are validated here with pydantic rather than by the resolver's validation, which
answers 422 and echoes the input (an address) back, and cannot answer a form with HTML.

Bad input of any kind (not UTF-8, not base64, too large, not JSON, numbers too long to
read, nesting too deep, NaN, lone surrogates, wrong types, another content type) gets a 4xx
naming the field and the reason, never a 5xx.

Cross-origin POSTs to sign up or confirm are refused (403): a page elsewhere must not make
its visitors' browsers sign an address up (each from its own IP, past the per-client
limit). ``Origin`` must be the site's, the API's or the request's own host; without
``Origin`` (curl, scripts, mail providers) the request is taken unless ``Sec-Fetch-Site``
says cross-site; ``Origin: null`` only when ``Sec-Fetch-Site`` says same-origin. One-click
unsubscribe takes any origin: RFC 8058 POSTs come from mail providers, and the token in the
URL is the credential.

A valid sign-up answers no sooner than ``SUBSCRIBE_ANSWER_MS`` after it began, whatever
happened, so that the time taken by sending a confirmation does not tell a new address from
a known, suppressed or limited one (every path makes the same one storage call).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import traceback
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pressline.config import Settings, settings
from pressline.errors import RetryableError
from pressline.subscribers import runtime
from pressline.subscribers.addresses import InvalidAddress, InvalidTags
from pressline.subscribers.messages import Site
from pressline.subscribers.service import (
    InvalidFrequency,
    NotSubscribed,
    PreferencesChanged,
    PreferencesView,
    Subscriptions,
    UnknownTags,
)
from pressline.subscribers.tokens import Purpose, TokenError, TokenExpired

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver(strip_prefixes=["/api"])

ACCEPTED_MESSAGE = (
    "Thanks! If this address can receive email from us, a confirmation link is on its way. "
    "Click it to start receiving new posts."
)
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 16 * 1024  # bytes, as received
MAX_FORM_FIELDS = 200
MAX_JSON_DEPTH = 20  # a sign-up is an object holding a list: anything deeper is not one


class RequestProblem(Exception):
    """Raised when a request cannot be read; answered with ``status`` naming ``field``."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


class SubscribeRequest(BaseModel):
    """The sign-up request, from JSON or the page's form."""

    model_config = ConfigDict(extra="ignore")

    email: str = Field(max_length=320)
    tags: list[str] = Field(default_factory=list, max_length=100)


def _refuse_constant(name: str) -> Any:
    raise RequestProblem("body", f"the body is not valid JSON ({name} is not a JSON number)")


def _depth(value: Any) -> int:
    """How deeply ``value``'s lists and objects nest (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json_body(text: str) -> Any:
    """The JSON value of ``text``, or RequestProblem: for anything the standard parser
    refuses or chokes on (ValueError for a number of more than 4,300 digits, RecursionError
    for deep nesting, NaN and Infinity, which are not JSON)."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RequestProblem:
        raise
    except RecursionError:
        raise RequestProblem("body", "the body is not valid JSON (nested too deeply)") from None
    except ValueError as error:  # JSONDecodeError, and int() refusing a very long number
        reason = "a number is too long" if not isinstance(error, json.JSONDecodeError) else "syntax error"
        raise RequestProblem("body", f"the body is not valid JSON ({reason})") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise RequestProblem("body", "the body is not valid JSON for a sign-up (nested too deeply)")
    return value


# --------------------------------------------------------------------------- wiring
_override: Subscriptions | None = None


def override(subscriptions: Subscriptions | None) -> None:
    """Use these subscriptions (tests with fakes); None goes back to AWS."""
    global _override
    _override = subscriptions
    _aws_subscriptions.cache_clear()


@cache
def _aws_subscriptions(config: Settings) -> Subscriptions:
    from pressline.subscribers.aws import SesMailer
    from pressline.subscribers.dynamodb import CatalogTags, DynamoSubscriberRepository
    from pressline.subscribers.service import SignupLimits

    return Subscriptions(
        repository=DynamoSubscriberRepository(config.subscribers_table),
        mailer=SesMailer(config.ses_configuration_set),
        keys=runtime.keys(),
        site=runtime.site(),
        clock=runtime.utc_now,
        limits=SignupLimits.from_setting(os.environ.get("SIGNUP_LIMITS", "")),
        tags=CatalogTags(config.posts_table),
        schedule=config.digest_schedule,
    )


def subscriptions() -> Subscriptions:
    if _override is not None:
        return _override
    built = _aws_subscriptions(settings())
    # The secret is read again every few minutes (rotation): the same value gives the same
    # Keys object, so this copies only when the keys did change.
    keys = runtime.keys()
    return built if built.keys is keys else replace(built, keys=keys)


# --------------------------------------------------------------------------- responses
def _site() -> Site:
    return subscriptions().site


def _security_headers() -> dict[str, str]:
    """The API pages' headers come from the one definition the site's use (site/headers.py):
    CSP, HSTS, nosniff, no framing, no Referer (the token is in the URL)."""
    from pressline.site.headers import api_headers

    return {"Cache-Control": "no-store", **api_headers(_site().url)}


def _page(status: int, template: str, **context: Any) -> Response[str]:
    from pressline.site.templating import render

    site = _site()
    body = render(f"subscriptions/{template}", site=site, page_title=context.pop("page_title", site.title), **context)
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=body, headers=_security_headers())


def _json(status: int, payload: Mapping[str, Any]) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(payload),
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def _bad_request(message: str, *, html: bool, field: str = "email", status: int = 400) -> Response[str]:
    metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
    if html:
        title = {
            "email": "Please check your address",
            "tags": "Please check your choice",
            "frequency": "Please check your choice",
        }.get(field, "This request cannot be read")
        return _page(status, "error.html", page_title=title, message=message, back=True)
    error = {400: "invalid_request", 403: "forbidden", 413: "too_large"}.get(status, "invalid_request")
    return _json(status, {"error": error, "field": field, "message": message})


def _check_origin(*, html: bool, advice: str = "sign up on the site itself") -> Response[str] | None:
    site = _site()
    reason = cross_origin_reason(_headers(), site.url, site.api_url)
    if reason is None:
        return None
    metrics.add_metric(name="CrossOriginRefused", unit=MetricUnit.Count, value=1)
    message = f"{reason}: {advice}"
    return _bad_request(message, html=html, field="origin", status=403)


def answer_floor_seconds() -> float:
    """How long a valid sign-up takes at least (``SUBSCRIBE_ANSWER_MS``; 0 when unset)."""
    try:
        return max(0.0, float(os.environ.get("SUBSCRIBE_ANSWER_MS", "0")) / 1000)
    except ValueError:
        return 0.0


# The clock and the pause of the answer floor (tests substitute them: never wall time).
monotonic = time.monotonic
pause = time.sleep


def _even_out(started: float) -> None:
    remaining = answer_floor_seconds() - (monotonic() - started)
    if remaining > 0:
        pause(remaining)


def _headers() -> Mapping[str, str]:
    return app.current_event.headers or {}


def _content_type() -> str:
    return str(_headers().get("content-type", "")).split(";")[0].strip().lower()


def _body_text() -> str:
    """The body as text: base64-decoded when API Gateway encoded it (it does for anything
    that is not UTF-8), at most MAX_BODY bytes, UTF-8. RequestProblem otherwise."""
    event = app.current_event
    body = event.get("body")
    if body is None or body == "":
        return ""
    if not isinstance(body, str):
        raise RequestProblem("body", "the request body is not text")
    if event.is_base64_encoded:
        if len(body) > (MAX_BODY * 4) // 3 + 4:
            raise RequestProblem("body", f"the request is larger than {MAX_BODY} bytes", 413)
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise RequestProblem("body", "the request body is not valid base64") from None
    else:
        if len(body) > MAX_BODY:
            raise RequestProblem("body", f"the request is larger than {MAX_BODY} bytes", 413)
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: not text
            raise RequestProblem("body", "the request body is not UTF-8 text") from None
    if len(raw) > MAX_BODY:
        raise RequestProblem("body", f"the request is larger than {MAX_BODY} bytes", 413)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestProblem("body", "the request body is not UTF-8 text") from None


def _form() -> dict[str, list[str]]:
    try:
        return parse_qs(_body_text(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # more fields than max_num_fields
        raise RequestProblem("body", f"the form has more than {MAX_FORM_FIELDS} fields") from None


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_origin_reason(headers: Mapping[str, str], site_url: str, api_url: str) -> str | None:
    """Why a POST with these headers must be refused as cross-origin, or None.

    Same origin: the site's, the API's, or the request's own host (the API's pages post to
    themselves, locally at whatever host the browser used). No ``Origin``: not a browser
    (curl, a script) or a very old one; taken unless ``Sec-Fetch-Site`` says cross-site."""
    origin = str(headers.get("origin", "")).strip().lower()
    fetch_site = str(headers.get("sec-fetch-site", "")).strip().lower()
    if not origin:
        return "the request comes from another site" if fetch_site == "cross-site" else None
    if origin == "null" and fetch_site == "same-origin":
        # A browser hides the origin under some referrer policies and privacy settings; its
        # Sec-Fetch-Site, which no page can set, still says where the POST came from.
        return None
    allowed = {_origin_of(site_url), _origin_of(api_url)}
    host = str(headers.get("host", "")).strip().lower()
    if origin in allowed or (host and urlsplit(origin).netloc == host):
        return None
    return "the request comes from another site" if origin != "null" else "the request's origin is hidden"


def _token() -> str:
    token = app.current_event.get_query_string_value("token") or ""
    if not token and app.current_event.request_context.http.method == "POST" and _content_type() == FORM:
        token = (_form().get("token") or [""])[0]
    return token.strip()


def _token_error(error: TokenError, action: str) -> Response[str]:
    metrics.add_metric(name="RejectedTokens", unit=MetricUnit.Count, value=1)
    logger.info("Rejected %s token: %s", action, type(error).__name__)
    if isinstance(error, TokenExpired):
        return _page(
            410,
            "error.html",
            page_title="This link has expired",
            message="This link has expired. Subscribe again to get a new one.",
            back=True,
        )
    return _page(
        400,
        "error.html",
        page_title="This link is not valid",
        message="This link is not valid. Copy the whole link from the email, or subscribe again.",
        back=True,
    )


# --------------------------------------------------------------------------- routes
@app.post("/subscriptions")
def subscribe() -> Response[str]:
    content_type = _content_type()
    html = content_type == FORM
    if content_type not in (FORM, "application/json"):
        metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
        return _json(
            415,
            {
                "error": "unsupported_media_type",
                "field": "content-type",
                "message": "send JSON or a form (application/x-www-form-urlencoded)",
            },
        )
    refused = _check_origin(html=html)
    if refused is not None:
        return refused
    try:
        if html:
            form = _form()
            raw: Any = {"email": (form.get("email") or [""])[0], "tags": form.get("tags", [])}
        else:
            raw = parse_json_body(_body_text())
            if not isinstance(raw, dict):
                return _bad_request("the body must be a JSON object", html=False, field="body")
        request = SubscribeRequest.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        return _bad_request(f"{field}: {first['msg']}", html=html, field=field)

    started = monotonic()
    try:
        sid, outcome = subscriptions().subscribe(
            request.email, request.tags, app.current_event.request_context.http.source_ip
        )
    except InvalidAddress as error:
        return _bad_request(str(error), html=html, field="email")
    except InvalidTags as error:
        return _bad_request(str(error), html=html, field="tags")
    logger.info("Subscribe request", extra={"subscriber": sid, "outcome": outcome})
    metrics.add_metric(
        name={
            "sent": "ConfirmationsSent",
            "rate_limited": "ConfirmationsRateLimited",
            "suppressed": "SuppressedSignups",
            "limited": "ConfirmationsLimited",
        }[outcome],
        unit=MetricUnit.Count,
        value=1,
    )
    _even_out(started)
    # The same answer whatever happened: the response never tells whether the address is known.
    if html:
        return _page(202, "pending.html", page_title="Check your inbox", message=ACCEPTED_MESSAGE)
    return _json(202, {"status": "accepted", "message": ACCEPTED_MESSAGE})


@app.get("/subscriptions/confirm")
def confirm_page() -> Response[str]:
    token = _token()
    try:
        claims = subscriptions().check(token, Purpose.CONFIRM)
    except TokenError as error:
        return _token_error(error, "confirm")
    metrics.add_metric(name="ConfirmPageViews", unit=MetricUnit.Count, value=1)
    return _page(
        200,
        "confirm.html",
        page_title="Confirm your subscription",
        token=token,
        tags=claims.tags,
        action=f"{_site().api_url}/subscriptions/confirm",
    )


@app.post("/subscriptions/confirm")
def confirm() -> Response[str]:
    refused = _check_origin(html=True)
    if refused is not None:
        return refused
    try:
        sid, result = subscriptions().confirm(_token())
    except TokenError as error:
        return _token_error(error, "confirm")
    logger.info("Confirm", extra={"subscriber": sid, "outcome": result})
    if result == "confirmed":
        metrics.add_metric(name="Confirmed", unit=MetricUnit.Count, value=1)
        links = subscriptions().links(sid)
        return _page(200, "confirmed.html", page_title="You are subscribed", preferences_url=links.preferences)
    metrics.add_metric(name="ConfirmationsRefused", unit=MetricUnit.Count, value=1)
    if result == "suppressed":
        return _page(
            409,
            "error.html",
            page_title="We cannot send to this address",
            message="Email to this address bounced or was reported as unwanted, so we will not send to it. "
            "Contact the site's owner if this is a mistake.",
            back=True,
        )
    return _page(
        410,
        "error.html",
        page_title="This link has expired",
        message="This sign-up is no longer pending. Subscribe again to get a new link.",
        back=True,
    )


@app.get("/subscriptions/unsubscribe")
def unsubscribe_page() -> Response[str]:
    token = _token()
    try:
        subscriptions().check(token, Purpose.UNSUBSCRIBE)
    except TokenError as error:
        return _token_error(error, "unsubscribe")
    metrics.add_metric(name="UnsubscribePageViews", unit=MetricUnit.Count, value=1)
    return _page(
        200,
        "unsubscribe.html",
        page_title="Unsubscribe",
        token=token,
        action=f"{_site().api_url}/subscriptions/unsubscribe",
    )


@app.post("/subscriptions/unsubscribe")
def unsubscribe() -> Response[str]:
    # RFC 8058: the body is "List-Unsubscribe=One-Click"; the token in the URL is the only
    # credential (no cookie, no login), so the POST acts at once whatever the body says.
    try:
        sid, existed = subscriptions().unsubscribe(_token())
    except TokenError as error:
        return _token_error(error, "unsubscribe")
    logger.info("Unsubscribe", extra={"subscriber": sid, "deleted": existed})
    metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
    return _page(200, "unsubscribed.html", page_title="You are unsubscribed")


def _preferences_page(status: int, view: PreferencesView, *, saved: str = "", problem: str = "") -> Response[str]:
    from pressline.subscribers.digests import WEEKDAYS

    schedule = view.schedule
    chosen = set(view.subscriber.tags)
    tags = {**view.known_tags, **{tag: tag for tag in chosen if tag not in view.known_tags}}
    return _page(
        status,
        "preferences.html",
        page_title="Your subscription",
        subscriber=view.subscriber,
        tags=sorted(tags.items(), key=lambda item: item[1].casefold()),
        chosen=chosen,
        form_token=view.form_token,
        action=f"{_site().api_url}/subscriptions/preferences",
        unsubscribe_url=view.links.unsubscribe,
        hour=f"{schedule.hour:02d}:00" if schedule else "",
        weekday=WEEKDAYS[schedule.weekday] if schedule else "",
        timezone=schedule.timezone if schedule else "",
        saved=saved,
        problem=problem,
    )


def _not_subscribed() -> Response[str]:
    return _page(
        410,
        "error.html",
        page_title="You are not subscribed",
        message="This address is no longer subscribed (it left, or its email bounced). Subscribe again on the site.",
        back=True,
    )


@app.get("/subscriptions/preferences")
def preferences_page() -> Response[str]:
    try:
        view = subscriptions().open_preferences(_token())
    except TokenError as error:
        return _token_error(error, "preferences")
    except NotSubscribed:
        return _not_subscribed()
    metrics.add_metric(name="PreferencesPageViews", unit=MetricUnit.Count, value=1)
    return _preferences_page(200, view)


@app.post("/subscriptions/preferences")
def save_preferences() -> Response[str]:
    if _content_type() != FORM:
        return _bad_request("send the preferences page's form", html=True, field="content-type", status=415)
    refused = _check_origin(html=True, advice="change your preferences from the link in an email")
    if refused is not None:
        return refused
    form = _form()
    form_token = (form.get("form") or [""])[0].strip()
    frequency = (form.get("frequency") or [""])[0].strip()
    try:
        view = subscriptions().save_preferences(form_token, form.get("tags", []), frequency)
    except TokenExpired:
        metrics.add_metric(name="RejectedTokens", unit=MetricUnit.Count, value=1)
        return _page(
            410,
            "error.html",
            page_title="This page has expired",
            message="This page was open for too long. Open the link in your email again to change your preferences.",
            back=True,
        )
    except TokenError as error:
        return _token_error(error, "preferences")
    except InvalidFrequency as error:
        return _bad_request(f"frequency: {error}", html=True, field="frequency")
    except UnknownTags as error:
        known = ", ".join(error.known.values()) or "none yet"
        verb = "is" if len(error.unknown) == 1 else "are"
        message = f"tags: {', '.join(error.unknown)} {verb} not among the site's tags ({known})"
        return _bad_request(message, html=True, field="tags")
    except InvalidTags as error:
        return _bad_request(f"tags: {error}", html=True, field="tags")
    except PreferencesChanged as changed:
        metrics.add_metric(name="PreferencesConflicts", unit=MetricUnit.Count, value=1)
        return _preferences_page(
            409,
            changed.view,
            problem="Nothing was changed: these preferences were saved, or changed, after this page was opened. "
            "Here they are now.",
        )
    except NotSubscribed:
        return _not_subscribed()
    logger.info("Preferences saved", extra={"subscriber": view.subscriber.id, "frequency": view.subscriber.frequency})
    metrics.add_metric(name="PreferencesSaved", unit=MetricUnit.Count, value=1)
    return _preferences_page(200, view, saved="Saved. The change applies from the next email.")


@app.not_found
def not_found(_: Exception) -> Response[str]:
    path = app.current_event.path
    metrics.add_metric(name="InvalidRequests", unit=MetricUnit.Count, value=1)
    if path.rstrip("/").endswith(
        ("/subscriptions", "/subscriptions/confirm", "/subscriptions/unsubscribe", "/subscriptions/preferences")
    ):
        return _json(405, {"error": "method_not_allowed", "message": "use GET or POST"})
    return _json(404, {"error": "not_found", "message": "no such resource"})


@app.exception_handler(RequestProblem)  # type: ignore[untyped-decorator]
def unreadable(problem: RequestProblem) -> Response[str]:
    return _bad_request(problem.message, html=_content_type() == FORM, field=problem.field, status=problem.status)


@app.exception_handler(UnicodeDecodeError)  # type: ignore[untyped-decorator]
def not_text(_: UnicodeDecodeError) -> Response[str]:
    # API Gateway passes a body that is not UTF-8 base64-encoded; decoding it is the client's fault.
    return _bad_request("the request body is not UTF-8 text", html=_content_type() == FORM, field="body")


@app.exception_handler(RetryableError)  # type: ignore[untyped-decorator]
def unavailable(error: RetryableError) -> Response[str]:
    logger.warning("Temporarily unavailable: %s", type(error.__cause__ or error).__name__)
    response = _json(503, {"error": "unavailable", "message": "please try again in a minute"})
    response.headers["Retry-After"] = "60"
    return response


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def internal_error(error: Exception) -> Response[str]:
    # Only the type and where it happened: an exception's text may quote the input (an address).
    where = [
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_tb(error.__traceback__)
    ]
    logger.error("Unhandled %s", type(error).__name__, extra={"trace": where[-6:]})
    return _json(int(HTTPStatus.INTERNAL_SERVER_ERROR), {"error": "internal_error", "message": "something went wrong"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
