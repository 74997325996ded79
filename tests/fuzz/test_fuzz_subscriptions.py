"""Property-based tests over the Subscriptions API's inputs and its tokens.

- Tokens: what ``issue`` makes ``verify`` accepts with the same claims; any other string
  (random, cut, altered by one character, signed with another key, for another purpose,
  expired) is refused with a ``TokenError``, never another exception.
- Addresses and tags: normalizing never raises anything but ``InvalidAddress`` /
  ``InvalidTags``, never returns a control character, and its message never repeats the
  address.
- The HTTP handler (in-memory subscriptions, no AWS): whatever the method, path, content
  type, origin, body and token, the answer is a deliberate 2xx/4xx (never a 500), JSON
  errors name a field, the submitted address never appears in a response or a log line,
  and the answer to a sign-up is identical whatever the address.
- Hostile bodies, by class: numbers too long to read, nesting deep enough to exhaust the
  parser's recursion, bytes that are not UTF-8, lone surrogates, NaN and Infinity, wrong
  types, bodies past the size limit, form against JSON, missing or odd content types,
  base64 bodies as API Gateway sends them (and broken base64): always a 4xx naming the
  field, never a 5xx, nothing sent.
- Cross-origin form POSTs are refused; the answer time of a sign-up is the same on every
  path (a modelled clock, never wall time).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from pressline.local.lambda_runtime import LambdaContext
from pressline.subscribers.addresses import InvalidAddress, InvalidTags, normalize_address, normalize_tags
from pressline.subscribers.memory import FakeClock, MemoryMailer, MemoryRepository
from pressline.subscribers.messages import Site
from pressline.subscribers.service import Subscriptions
from pressline.subscribers.tokens import Keys, Purpose, TokenError, TokenExpired, TokenWrongPurpose, issue, verify

KEYS = Keys.from_secret("fuzz-secret-0123456789abcdefghijklmnop")
OTHER_KEYS = Keys.from_secret("another-secret-0123456789abcdefghijk")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

subscriber_ids = st.text(min_size=1, max_size=40)
tag_lists = st.lists(st.text(max_size=20), max_size=5).map(tuple)


# --------------------------------------------------------------------------- tokens
@given(purpose=st.sampled_from(Purpose), sid=subscriber_ids, tags=tag_lists, ttl_s=st.none() | st.integers(1, 10**7))
def test_an_issued_token_verifies_with_its_claims(
    purpose: Purpose, sid: str, tags: tuple[str, ...], ttl_s: int | None
) -> None:
    ttl = timedelta(seconds=ttl_s) if ttl_s is not None else None
    token = issue(KEYS, purpose, sid, now=NOW, ttl=ttl, tags=tags)
    assert all(char.isascii() and (char.isalnum() or char in "-_.") for char in token)  # safe in a URL as is
    claims = verify(KEYS, token, purpose, NOW)
    assert (claims.purpose, claims.subscriber_id, claims.tags) == (purpose, sid, tags)
    other = Purpose.UNSUBSCRIBE if purpose is Purpose.CONFIRM else Purpose.CONFIRM
    with pytest.raises(TokenWrongPurpose):
        verify(KEYS, token, other, NOW)
    with pytest.raises(TokenError):
        verify(OTHER_KEYS, token, purpose, NOW)
    if ttl is not None:
        with pytest.raises(TokenExpired):
            verify(KEYS, token, purpose, NOW + ttl)


@given(sid=subscriber_ids, data=st.data())
def test_any_change_to_a_token_is_refused(sid: str, data: st.DataObject) -> None:
    token = issue(KEYS, Purpose.UNSUBSCRIBE, sid)
    change = data.draw(st.sampled_from(["replace", "delete", "insert", "truncate", "swap-halves"]))
    at = data.draw(st.integers(0, len(token) - 1))
    if change == "replace":
        altered = (
            token[:at] + data.draw(st.characters(codec="ascii").filter(lambda c: c != token[at])) + token[at + 1 :]
        )
    elif change == "delete":
        altered = token[:at] + token[at + 1 :]
    elif change == "insert":
        altered = token[:at] + data.draw(st.characters()) + token[at:]
    elif change == "truncate":
        altered = token[:at]
    else:
        payload, signature = token.split(".")
        altered = f"{signature}.{payload}"
    assume(altered != token)
    with pytest.raises(TokenError):
        verify(KEYS, altered, Purpose.UNSUBSCRIBE, NOW)


@given(st.text(max_size=3000) | st.binary(max_size=300).map(lambda b: base64.urlsafe_b64encode(b).decode()))
@example("e30.")  # "{}" with an empty signature
@example("." * 2)
@example("x" * 5000)
def test_arbitrary_strings_are_refused_with_a_token_error(text: str) -> None:
    for purpose in Purpose:
        with pytest.raises(TokenError):
            verify(KEYS, text, purpose, NOW)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(body=st.dictionaries(st.sampled_from(["p", "s", "x", "t", "r", "extra"]), JSON_VALUES, max_size=5))
@example(body={"p": "confirm", "s": "x", "x": 10**30})
@example(body={"p": "confirm", "s": "x", "x": 1e300})
@example(body={"p": "confirm", "s": "x", "x": "1"})
def test_a_genuinely_signed_but_odd_payload_never_crashes_verify(body: dict[str, Any]) -> None:
    """A payload signed with the right key but malformed (a key leak, or a future version)."""
    from pressline.subscribers import tokens

    encoded = json.dumps(body).encode()
    payload = tokens._b64encode(encoded)
    token = f"{payload}.{tokens._sign(KEYS.token_key, payload)}"
    for purpose in Purpose:
        with suppress(TokenError):
            verify(KEYS, token, purpose, NOW)


# --------------------------------------------------------------------------- addresses, tags
address_like = st.one_of(
    st.emails(),
    st.text(max_size=300),
    st.builds(
        lambda local, domain, junk: f"{local}{junk}@{domain}",
        st.text(min_size=1, max_size=70),
        st.sampled_from(
            [
                "example.com",
                "EXAMPLE.com",
                "xn--bcher-kva.example",
                "bücher.example",
                "[127.0.0.1]",
                "localhost",
                "example..com",
                "-example.com",
                "a" * 250 + ".com",
            ]
        ),
        st.sampled_from(
            ["", "\r\nBcc: victim@example.com", "\x00", ",other@example.com", " <x@example.com>", "\u202e"]
        ),
    ),
)


@given(address_like)
def test_normalizing_an_address_never_crashes_and_never_echoes_it(raw: str) -> None:
    try:
        address = normalize_address(raw)
    except InvalidAddress as error:
        if len(raw.strip()) >= 6:  # shorter strings occur in any sentence
            assert raw.strip() not in str(error)
        return
    assert address.count("@") == 1 and len(address) <= 254
    assert not any(ord(char) < 32 or 127 <= ord(char) < 160 for char in address)
    assert not any(char in address for char in "<>,;\r\n")
    assert normalize_address(address) == address  # normalizing is stable


@given(st.one_of(st.none(), st.lists(st.one_of(st.text(max_size=80), st.integers(), st.none()), max_size=30)))
def test_normalizing_tags_never_crashes(raw: list[Any] | None) -> None:
    try:
        tags = normalize_tags(raw)
    except InvalidTags:
        return
    assert list(tags) == sorted(set(tags)) and len(tags) <= 20
    assert all(tag and tag == " ".join(tag.split()) and len(tag) <= 50 for tag in tags)


# --------------------------------------------------------------------------- the HTTP handler
ALLOWED_STATUSES = {200, 202, 400, 403, 404, 405, 409, 410, 413, 415}
SITE = Site(title="Fuzz", url="https://blog.example.com", api_url="https://api.example.com", sender="n@example.com")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__}")


@contextmanager
def api() -> Iterator[tuple[Any, MemoryMailer, _Records]]:
    """The stage with in-memory subscriptions and its log records captured."""
    from pressline.stages import subscriptions as stage

    mailer = MemoryMailer()
    stage.override(Subscriptions(MemoryRepository(), mailer, KEYS, SITE, FakeClock(NOW)))
    records = _Records()
    std_logger = logging.getLogger(stage.logger.service)
    std_logger.addHandler(records)
    try:
        yield stage, mailer, records
    finally:
        std_logger.removeHandler(records)
        stage.override(None)


def http_event(
    method: str,
    path: str,
    content_type: str | None,
    body: str | bytes,
    query: str,
    headers: dict[str, str] | None = None,
    source_ip: str = "203.0.113.7",
) -> dict[str, Any]:
    binary = isinstance(body, bytes)
    headers = {"host": "api.example.com", **(headers or {})}
    if content_type is not None:
        headers["content-type"] = content_type
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "queryStringParameters": {k: v for k, v in (p.split("=", 1) for p in query.split("&") if "=" in p)} or None,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "fuzz",
            "domainName": "api.example.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": "fuzz",
            },
            "requestId": "fuzz",
            "routeKey": "$default",
            "stage": "$default",
            "time": "27/Nov/2026:09:00:00 +0000",
            "timeEpoch": 1795770000000,
        },
        "isBase64Encoded": binary,
        "body": base64.b64encode(body).decode() if isinstance(body, bytes) else body,
    }


def context() -> LambdaContext:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Subscriptions"
    return LambdaContext(function_name="Subscriptions", invoked_function_arn=arn, memory_limit_in_mb=256, timeout_s=10)


PATHS = ["/subscriptions", "/subscriptions/", "/subscriptions/confirm", "/subscriptions/unsubscribe",
         "/api/subscriptions", "/subscriptions/../admin", "/", "/subscriptions/confirm/x"]  # fmt: skip
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "APPLICATION/JSON; charset=utf-8",
                 "text/plain", "multipart/form-data; boundary=x", None, ""]  # fmt: skip
ORIGINS = [{}, {"origin": "https://blog.example.com"}, {"origin": "https://api.example.com"},
           {"origin": "https://evil.example"}, {"origin": "null"}, {"sec-fetch-site": "cross-site"},
           {"origin": "https://blog.example.com.evil.example", "sec-fetch-site": "cross-site"}]  # fmt: skip
MARKER = "zq7xk"  # a distinctive local part: if it shows up in a response or log, the address leaked


@st.composite
def requests(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    address = draw(st.sampled_from([f"{MARKER}@example.com", f"{MARKER}.Reader+tag@Example.COM", f"{MARKER}@",
                                    f"{MARKER}\r\nBcc: x@example.com", f" {MARKER}@example.com ", f"{MARKER}@[::1]",
                                    f"{MARKER}@bücher.example", f"{MARKER}ü@example.com"]))  # fmt: skip
    tags = draw(st.one_of(st.lists(st.text(max_size=60), max_size=25), st.text(max_size=10), st.integers(), st.none()))
    shape = draw(st.sampled_from(["json", "json-odd", "form", "raw", "binary"]))
    if shape == "json":
        body: str | bytes = json.dumps({"email": address, "tags": tags})
    elif shape == "json-odd":
        body = json.dumps(draw(st.sampled_from([[address], address, {"email": [address]}, {"Email": address},
                                                 {"email": address, "email2": address}, None, 1e308])))  # fmt: skip
    elif shape == "form":
        pairs = [("email", address)] + [("tags", str(t)) for t in (tags if isinstance(tags, list) else [tags])]
        body = urlencode(pairs)
    elif shape == "raw":
        body = draw(st.text(max_size=200)) + address
    else:
        body = draw(st.binary(max_size=100)) + address.encode()
    token = draw(
        st.one_of(
            st.just(""),
            st.text(max_size=50),
            st.just(issue(KEYS, Purpose.CONFIRM, "x", now=NOW, ttl=timedelta(hours=1))),
        )
    )
    query = draw(
        st.sampled_from(["", f"token={quote(token)}", f"token={token}", "token=&token=x", f"{token}", "a=b&token"])
    )
    method = draw(st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE", "OPTIONS", "HEAD"]))
    path = draw(st.sampled_from(PATHS))
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    headers = draw(st.sampled_from(ORIGINS))
    return http_event(method, path, content_type, body, query, headers), address


@given(requests())
def test_the_api_answers_every_request_deliberately_and_never_leaks_the_address(
    request: tuple[dict[str, Any], str],
) -> None:
    event, _address = request
    with api() as (stage, mailer, records):
        response = stage.handle(event, context())
    assert response["statusCode"] in ALLOWED_STATUSES, (response["statusCode"], response.get("body"))
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    assert MARKER not in body, f"the response repeats the address: {body[:300]}"
    assert not [line for line in records.lines if MARKER in line], "a log line holds the address"
    if response["statusCode"] == 400 and "json" in response["headers"].get("Content-Type", ""):
        error = json.loads(body)
        assert error["field"] and error["message"]
    if response["statusCode"] == 202:
        assert len(mailer.sent) == 1  # one confirmation for an accepted sign-up
    else:
        assert mailer.sent == []  # a refused request sends nothing


def confirmation_token(mailer: MemoryMailer) -> str:
    from email import message_from_bytes, policy
    from urllib.parse import unquote

    message = message_from_bytes(mailer.sent[-1].raw, policy=policy.default)
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    text = str(part.get_content())
    return unquote(text.split("/subscriptions/confirm?token=")[1].split()[0])


@given(st.sampled_from(["new", "pending", "confirmed"]), st.emails())
def test_the_sign_up_answer_does_not_depend_on_the_address(state: str, address: str) -> None:
    def sign_up(stage: Any) -> dict[str, Any]:
        body = json.dumps({"email": address, "tags": []})
        response: dict[str, Any] = stage.handle(
            http_event("POST", "/subscriptions", "application/json", body, ""), context()
        )
        return response

    with api() as (stage, _mailer, _records):
        reference = sign_up(stage)
    assume(reference["statusCode"] == 202)  # st.emails() makes some SES cannot send to
    with api() as (stage, mailer, _records):
        if state != "new":
            sign_up(stage)
        if state == "confirmed":
            stage.subscriptions().confirm(confirmation_token(mailer))
        again = sign_up(stage)
    assert (again["statusCode"], again["body"]) == (reference["statusCode"], reference["body"])


# Found by the property above. API Gateway hands a body that is not valid UTF-8 over base64
# encoded; reading it as text raised UnicodeDecodeError (500). A token with a non-ASCII
# character made hmac.compare_digest raise TypeError (500; fixed in tokens.verify).
@pytest.mark.parametrize(
    ("method", "path", "content_type", "body", "query"),
    [
        ("POST", "/subscriptions", "application/json", b'{"email": "caf\xe9@example.com"}', ""),
        ("POST", "/subscriptions", "application/x-www-form-urlencoded", b"email=caf\xe9%40example.com", ""),
        ("POST", "/subscriptions/confirm", "application/x-www-form-urlencoded", b"token=\xff\xfe", ""),
        ("GET", "/subscriptions/unsubscribe", None, "", "token=abc.d\u00e9f"),
        ("POST", "/subscriptions/unsubscribe", None, "", "token=\u00e9.x"),
    ],
    ids=["json-latin1", "form-latin1", "confirm-form-binary", "token-non-ascii-signature", "token-non-ascii-payload"],
)
def test_malformed_requests_get_a_4xx_not_a_500(
    method: str, path: str, content_type: str | None, body: str | bytes, query: str
) -> None:
    with api() as (stage, _mailer, _records):
        response = stage.handle(http_event(method, path, content_type, body, query), context())
    assert 400 <= response["statusCode"] < 500, response


# --------------------------------------------------------------------------- hostile bodies, by class
def _nested(depth: int, opener: str, closer: str, inner: str = "1") -> str:
    return opener * depth + inner + closer * depth


HOSTILE_JSON_TEXTS = st.one_of(
    st.integers(4_301, 16_000).map(lambda n: '{"email": ' + "9" * n + "}"),  # int() refuses: ValueError
    st.integers(4_301, 16_000).map(lambda n: '{"email": "a@example.com", "tags": [-' + "1" * n + "]}"),
    st.integers(1_000, 8_000).map(lambda n: _nested(n, "[", "]")),  # RecursionError
    st.integers(21, 900).map(lambda n: '{"email": "a@example.com", "tags": ' + _nested(n, "[", "]", '"x"') + "}"),
    st.integers(1_000, 2_500).map(lambda n: '{"email": ' + _nested(n, '{"a":', "}") + "}"),
    st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(lambda c: '{"email": "a@example.com", "tags": [' + c + "]}"),
    st.sampled_from(["\\ud800", "\\udfff", "\\ud83d", "a\\udc00b"]).map(
        lambda s: '{"email": "' + s + '@example.com", "tags": []}'
    ),
    st.sampled_from(["\\ud800", "\\udbff\\u0041"]).map(lambda s: '{"email": "a@example.com", "tags": ["' + s + '"]}'),
    st.sampled_from(
        [
            '{"email": 1e400}',
            '{"email": -0.0}',
            '{"email": true}',
            '{"email": {}}',
            '{"email": null}',
            '{"email": "a@example.com", "tags": {"a": 1}}',
            '{"email": "a@example.com", "tags": [null]}',
            '{"email": "a@example.com", "tags": [1, 2]}',
            '"a@example.com"',
            "1e999",
            "[]",
            "null",
            "",
            '{"email": "a@example.com"',
            "\ufeff{}",
            '{"email": "' + "a" * 400 + '@example.com"}',
        ]
    ),
    st.text(max_size=200),
)


FORM = "application/x-www-form-urlencoded"
HOSTILE_FORMS = [
    "email=%FF%FE%40example.com",
    "email=%ED%A0%80%40example.com",  # an encoded surrogate
    "email=a%40example.com&" * 300,  # more fields than a form has
    "tags=" + "x" * 20_000,
    "email=" + "%" * 50,
    "=&&=&",
    "email=a%0d%0a%40example.com",
    '{"email": "a@example.com"}',  # JSON sent as a form
]
ODD_CONTENT_TYPES = [
    None,
    "",
    "text/plain",
    "application/json5",
    "json",
    "*/*",
    "application/json, text/plain",
    FORM + ";;;",
]


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[str | None, str | bytes, bool]:
    """(content type, body, whether to send the body base64-encoded as API Gateway may)."""
    kind = draw(st.sampled_from(["json", "invalid-utf8", "surrogate-raw", "huge", "form", "form-odd", "type"]))
    content_type: str | None = "application/json"
    body: str | bytes
    if kind == "json":
        body = draw(HOSTILE_JSON_TEXTS)
    elif kind == "invalid-utf8":
        body = draw(st.sampled_from([b'{"email": "\xff@example.com"}', b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80"]))
        body += draw(st.binary(max_size=50))
    elif kind == "surrogate-raw":  # a str holding a lone surrogate (cannot come from UTF-8)
        body = '{"email": "a\ud800@example.com"}'
    elif kind == "huge":
        body = '{"email": "a@example.com", "tags": ["' + "x" * draw(st.integers(16 * 1024, 300_000)) + '"]}'
    elif kind == "form":
        content_type = draw(st.sampled_from([FORM, FORM + "; charset=utf-8"]))
        body = draw(st.sampled_from(HOSTILE_FORMS))
    elif kind == "form-odd":
        content_type = FORM
        body = draw(st.binary(max_size=200))
    else:  # the right body with a missing or odd content type
        content_type = draw(st.sampled_from(ODD_CONTENT_TYPES))
        body = draw(st.sampled_from(['{"email": "a@example.com"}', "email=a%40example.com"]))
    encode = draw(st.booleans()) or isinstance(body, bytes)
    return content_type, body, encode


@given(hostile_bodies(), st.sampled_from(["/subscriptions", "/subscriptions/confirm", "/subscriptions/unsubscribe"]))
@example(("application/json", '{"email": ' + "1" * 5000 + "}", False), "/subscriptions")  # the reported 500
@example(("application/json", _nested(8_000, "[", "]"), False), "/subscriptions")
@example(("application/json", '{"email": "a@example.com", "tags": [NaN]}', False), "/subscriptions")
@example(("application/json", '{"email": "\\ud800@example.com"}', False), "/subscriptions")
@example(("application/json", '{"email": "a@example.com", "tags": ["\\udfff"]}', True), "/subscriptions")
@example(("application/x-www-form-urlencoded", b"\xff\xfe", True), "/subscriptions/confirm")
def test_hostile_bodies_get_a_4xx_naming_the_field_and_send_nothing(
    case: tuple[str | None, str | bytes, bool], path: str
) -> None:
    content_type, body, encode = case
    event = http_event(
        "POST",
        path,
        content_type,
        body.encode("utf-8", "surrogatepass") if encode and isinstance(body, str) else body,
        "",
    )
    if not encode:
        event["isBase64Encoded"] = False
    with api() as (stage, mailer, _records):
        response = stage.handle(event, context())
    status = response["statusCode"]
    assert status in ALLOWED_STATUSES and status < 500, (status, response.get("body", "")[:300])
    if path == "/subscriptions":
        if status == 202:  # only a genuine, readable sign-up can be taken
            assert len(mailer.sent) == 1
            return
        assert 400 <= status < 500 and mailer.sent == []
        if "json" in response["headers"].get("Content-Type", ""):
            error = json.loads(response["body"])
            assert error["field"] and error["message"]


@pytest.mark.parametrize("is_base64", [False, True])
@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ('{"email": ' + "7" * 5000 + "}", "body", "number is too long"),
        ("[" * 8_000 + "]" * 8_000, "body", "nested too deeply"),
        ('{"email": "a@example.com", "tags": ' + "[" * 30 + "]" * 30 + "}", "body", "nested too deeply"),
        ('{"email": "a@example.com", "tags": [NaN]}', "body", "NaN is not a JSON number"),
        ('{"email": Infinity}', "body", "Infinity is not a JSON number"),
        # pydantic refuses a lone surrogate itself (the service's own check is for other callers)
        ('{"email": "\\ud800@example.com"}', "email", "valid string"),
        ('{"email": "a@example.com", "tags": ["\\udc00"]}', "tags", "valid Unicode"),
        ('{"email": "a@example.com", "tags": [1]}', "tags.0", "valid string"),
        ('{"email": "a@example.com"', "body", "syntax error"),
    ],
)
def test_each_hostile_json_class_gets_its_own_clear_message(
    body: str, field: str, reason: str, is_base64: bool
) -> None:
    event = http_event("POST", "/subscriptions", "application/json", body.encode() if is_base64 else body, "")
    with api() as (stage, mailer, _records):
        response = stage.handle(event, context())
    assert response["statusCode"] == 400, response
    error = json.loads(response["body"])
    assert (error["field"], reason in error["message"]) == (field, True), error
    assert mailer.sent == []


@pytest.mark.parametrize(
    ("content_type", "body", "is_base64", "status", "field"),
    [
        ("application/json", '{"email": "a@example.com", "tags": ["' + "x" * 20_000 + '"]}', False, 413, "body"),
        ("application/json", '{"email": "a@example.com", "tags": ["' + "x" * 20_000 + '"]}', True, 413, "body"),
        ("application/json", "not base64 !!!", None, 400, "body"),
        ("application/json", b'{"email": "\xe9@example.com"}', True, 400, "body"),
        ("application/x-www-form-urlencoded", "email=a%40example.com&" * 500, False, 400, "body"),
        (None, '{"email": "a@example.com"}', False, 415, "content-type"),
        ("text/plain", '{"email": "a@example.com"}', False, 415, "content-type"),
    ],
    ids=["too-large", "too-large-base64", "broken-base64", "not-utf8", "too-many-fields", "no-type", "text-plain"],
)
def test_unreadable_requests(
    content_type: str | None, body: str | bytes, is_base64: bool | None, status: int, field: str
) -> None:
    event = http_event("POST", "/subscriptions", content_type, body, "")
    if is_base64 is None:
        event["isBase64Encoded"] = True  # claims base64, is not
    elif not is_base64 and isinstance(body, str):
        event["isBase64Encoded"] = False
    with api() as (stage, mailer, _records):
        response = stage.handle(event, context())
    assert response["statusCode"] == status, response
    if "json" in response["headers"].get("Content-Type", ""):
        assert json.loads(response["body"])["field"] == field
    assert mailer.sent == []


# --------------------------------------------------------------------------- cross-origin POSTs
FORM_BODY = "email=reader%40example.com"


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, True),  # curl, a script: no Origin
        ({"origin": "https://blog.example.com"}, True),  # the site's subscribe box
        ({"origin": "https://BLOG.example.com", "sec-fetch-site": "cross-site"}, True),  # the site, API elsewhere
        ({"origin": "https://api.example.com", "sec-fetch-site": "same-origin"}, True),
        ({"origin": "http://localhost:8080", "host": "localhost:8080"}, True),  # the request's own host
        ({"origin": "https://evil.example"}, False),
        ({"origin": "https://blog.example.com.evil.example"}, False),
        ({"origin": "https://blog.example.com:8443"}, False),
        ({"origin": "http://blog.example.com"}, False),  # another scheme is another origin
        ({"origin": "null"}, False),  # sandboxed frames, data: URLs
        ({"sec-fetch-site": "cross-site"}, False),
        ({"sec-fetch-site": "same-origin"}, True),
    ],
)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "application/json"])
def test_cross_origin_sign_ups_are_refused_and_send_nothing(
    headers: dict[str, str], allowed: bool, content_type: str
) -> None:
    body = FORM_BODY if "form" in content_type else json.dumps({"email": "reader@example.com"})
    with api() as (stage, mailer, _records):
        response = stage.handle(http_event("POST", "/subscriptions", content_type, body, "", headers), context())
    if allowed:
        assert response["statusCode"] == 202 and len(mailer.sent) == 1
        return
    assert response["statusCode"] == 403 and mailer.sent == []
    if "form" in content_type:
        assert response["headers"]["Content-Type"].startswith("text/html")
        assert "another site" in response["body"] or "hidden" in response["body"]
    else:
        assert json.loads(response["body"])["field"] == "origin"


def test_a_cross_origin_confirmation_is_refused_and_one_click_unsubscribe_is_not() -> None:
    evil = {"origin": "https://evil.example"}
    with api() as (stage, mailer, _records):
        stage.handle(
            http_event("POST", "/subscriptions", "application/json", '{"email": "r@example.com"}', ""), context()
        )
        token = confirmation_token(mailer)
        query = f"token={quote(token)}"
        refused = stage.handle(http_event("POST", "/subscriptions/confirm", FORM, "", query, evil), context())
        assert refused["statusCode"] == 403
        assert (
            stage.handle(http_event("POST", "/subscriptions/confirm", FORM, "", query), context())["statusCode"] == 200
        )
        claims = stage.subscriptions().check(token, Purpose.CONFIRM)
        unsubscribe = issue(KEYS, Purpose.UNSUBSCRIBE, claims.subscriber_id)
        one_click = http_event(
            "POST", "/subscriptions/unsubscribe", FORM, "List-Unsubscribe=One-Click", f"token={unsubscribe}", evil
        )
        assert stage.handle(one_click, context())["statusCode"] == 200  # RFC 8058: from the mail provider


# --------------------------------------------------------------------------- the answer time
class ModelledTime:
    """A monotonic clock that moves only by the work modelled: each storage call and each
    send takes a fixed time, and the stage's pause adds what it asks for."""

    STORAGE, SEND = 0.008, 0.013

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.now += seconds


def test_every_sign_up_answers_after_the_same_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """New, pending, suppressed and limited addresses: the same answer, after the same time."""
    from pressline.stages import subscriptions as stage
    from pressline.subscribers.service import Limit, SignupLimits

    time = ModelledTime()
    monkeypatch.setattr(stage, "monotonic", time.monotonic)
    monkeypatch.setattr(stage, "pause", time.pause)
    monkeypatch.setenv("SUBSCRIBE_ANSWER_MS", "200")

    class TimedRepository(MemoryRepository):
        def request_confirmation(self, *args: Any, **kwargs: Any) -> Any:
            time.now += time.STORAGE
            return super().request_confirmation(*args, **kwargs)

    class TimedMailer(MemoryMailer):
        def send(self, email: Any) -> str:
            time.now += time.SEND
            return super().send(email)

    repository, mailer = TimedRepository(), TimedMailer()
    limits = SignupLimits(mailbox=Limit(1, timedelta(hours=1)))
    stage.override(Subscriptions(repository, mailer, KEYS, SITE, FakeClock(NOW), limits=limits))
    try:
        from pressline.subscribers.service import suppress_address

        suppress_address(repository, KEYS, "gone@example.com", "bounce:General", NOW)
        answers = {}
        for label, address in [("new", "a@example.com"), ("pending", "a@example.com"),
                               ("suppressed", "gone@example.com"), ("limited", "a+x@example.com")]:  # fmt: skip
            started = time.now
            response = stage.handle(
                http_event("POST", "/subscriptions", "application/json", json.dumps({"email": address}), ""), context()
            )
            answers[label] = (response["statusCode"], response["body"], round(time.now - started, 9))
    finally:
        stage.override(None)
    assert len(mailer.sent) == 1
    assert len(set(answers.values())) == 1, answers
    assert next(iter(answers.values()))[2] == 0.2


def test_without_a_floor_nothing_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    from pressline.stages import subscriptions as stage

    pauses: list[float] = []
    monkeypatch.setattr(stage, "pause", pauses.append)
    monkeypatch.delenv("SUBSCRIBE_ANSWER_MS", raising=False)
    with api() as (stage_module, mailer, _records):
        stage_module.handle(
            http_event("POST", "/subscriptions", "application/json", '{"email": "a@b.example"}', ""), context()
        )
    assert pauses == [] and len(mailer.sent) == 1


# --------------------------------------------------------------------------- limits, over the class
local_parts = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)


@given(local_parts, st.sampled_from(["gmail.com", "googlemail.com", "example.org"]), st.data())
def test_every_spelling_of_one_mailbox_is_one_mailbox(local: str, domain: str, data: st.DataObject) -> None:
    from pressline.subscribers.addresses import mailbox_of

    tag = data.draw(st.from_regex(r"\+[a-z0-9+-]{0,10}", fullmatch=True) | st.just(""))
    cased = "".join(data.draw(st.sampled_from([c, c.upper()])) for c in local)
    dotted = cased
    if domain != "example.org" and len(local) > 1:  # Gmail ignores dots
        at = data.draw(st.integers(1, len(local) - 1))
        dotted = cased[:at] + "." + cased[at:]
    spelled = normalize_address(f"{dotted}{tag}@{domain.upper()}")
    plain = normalize_address(f"{local}@{domain}")
    expected = mailbox_of(plain).replace("googlemail.com", "gmail.com")
    assert mailbox_of(spelled) == expected
    assert mailbox_of(mailbox_of(spelled)) == mailbox_of(spelled)  # stable


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ada", "ada+1", "Ada+2", "a.da", "bob", "bob+x", "cy"]),
            st.sampled_from(["gmail.com", "example.org", "victim.example"]),
            st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "junk"]),
            st.integers(0, 40),  # minutes until this sign-up
        ),
        max_size=60,
    )
)
def test_no_sequence_of_sign_ups_sends_more_than_the_limits_allow(
    sign_ups: list[tuple[str, str, str, int]],
) -> None:
    from pressline.subscribers.addresses import client_network, domain_of, mailbox_of
    from pressline.subscribers.memory import window_start
    from pressline.subscribers.service import Limit, SignupLimits

    hour = timedelta(hours=1)
    limits = SignupLimits(Limit(2, hour), Limit(5, hour), Limit(4, hour), Limit(9, hour))
    clock, mailer = FakeClock(NOW), MemoryMailer()
    service = Subscriptions(MemoryRepository(), mailer, KEYS, SITE, clock, limits=limits)
    sent: list[tuple[str, str, int]] = []  # (address, client, window)
    for local, domain, ip, minutes in sign_ups:
        clock.advance(timedelta(minutes=minutes))
        _, outcome = service.subscribe(f"{local}@{domain}", [], ip)
        if outcome == "sent":
            sent.append((mailer.sent[-1].recipient, client_network(ip), window_start(clock(), hour)))
    assert len(mailer.sent) == len(sent)
    assert bool(sent) == bool(sign_ups)  # the first sign-up, at least, is never limited
    per: dict[tuple[str, str, int], int] = {}
    for address, client, window in sent:
        for key in (("mailbox", mailbox_of(address), window), ("domain", domain_of(address), window),
                    ("client", client, window), ("overall", "", window)):  # fmt: skip
            per[key] = per.get(key, 0) + 1
    caps = {"mailbox": 2, "domain": 5, "client": 4, "overall": 9}
    assert all(count <= caps[kind] for (kind, _, _), count in per.items()), per
