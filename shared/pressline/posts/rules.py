"""The rules a post must satisfy: one pydantic model and one function, ``check_post``,
used by the Validate and Render stages and by ``pressline check``.

``check_post`` is pure: it takes the uploaded bytes, the source key, the upload time
and the site's time zone, and returns the post's metadata or the problems that make it
unpublishable (each naming the field, the reason and the line). Slug uniqueness needs
the catalog and is checked by the caller (see ``pressline.posts.slugs``).
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pressline.models import EmailContent, PostMeta, Problem
from pressline.posts import field_names, frontmatter
from pressline.posts.aliases import MAX_ALIASES, AliasError, normal_path, normalise_alias, reserved_reason
from pressline.posts.commonmark import NONCHARACTERS, SURROGATES, unfit_characters
from pressline.posts.markdown import html_problem, markdown_problem, markdown_to_html
from pressline.posts.paths import post_path
from pressline.posts.slug import MAX_SLUG_LENGTH, is_valid_slug, lost_letters, slugify, tag_slug

MAX_POST_BYTES = 1024 * 1024
MAX_TITLE_LENGTH = 200
MAX_TAG_LENGTH = 60
MAX_TAGS = 20
OWN_FIELDS = frozenset(
    {"title", "date", "slug", "tags", "summary", "author", "draft", "updated", "canonical_url", "image"}
    | {"aliases", "notify", "email"}
)
# Hugo's and Jekyll's names for them (``field_names``), and their old addresses (made aliases).
OLD_ADDRESS_FIELDS = ("url", "permalink")
KNOWN_FIELDS = OWN_FIELDS | field_names.ALL_OTHER_NAMES | frozenset(OLD_ADDRESS_FIELDS)
# Hugo's fields that place a page in the navigation: a post is not placed there.
NAVIGATION_FIELDS = frozenset({"weight", "menu"})
EMAIL_CHOICES: tuple[EmailContent, ...] = ("full", "summary")
ALIASES_HINT = "a list of old URLs, like [/2019/05/hello/, /old.html]"
DATE_HINT = "use YYYY-MM-DD, YYYY-MM-DD HH:MM or ISO 8601 (2022-01-07T18:48:00+01:00)"
# The years a post's date and update may have, as written, in UTC and in the site's time zone.
# 1900: RFC 5322 (the RSS feed's and the emails' dates) wants "any numeric year 1900 or later".
# 9998: a year's margin below datetime's 9999, so that any time zone's +-14 h, and what is made
# from a date (the catalog's UTC order key, the archive month, feeds, sitemaps, the page's date),
# stays representable and four-digit; year 9999 ends at 23:59 in UTC, hours before it ends in
# the far west.
EARLIEST_YEAR = 1900
LATEST_YEAR = 9998
_WHITESPACE = re.compile(r"\s+")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# Bytes that make a file binary (tab, newlines and form feed are text), counted with
# bytes.translate: deleting them is one C pass, ~30x faster than a regex over the text.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x0B, 0x7F])
# Removed from the one-line texts (title, tags, author, summary), with a warning naming the
# field, rather than refused: they are invisible and mostly arrive by copy and paste.
# - Direction embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder what is
#   shown: "Invoice <U+202E>gnp.exe" reads "Invoice exe.png" in an email subject, a listing or a
#   feed reader. Right-to-left text is ordered correctly without them; the LRM/RLM marks, which
#   cannot reorder letters, are kept.
# - Control characters (Unicode Cc) other than whitespace: shown as nothing or garbage, invalid in
#   XML feeds, and ESC sequences drive the terminal of whoever reads a log or ``pressline check``.
_UNSHOWN = re.compile(r"[\u202a-\u202e\u2066-\u2069\x00-\x08\x0e-\x1f\x7f-\x9f]")
# Removed from them too, with their own warning: noncharacters (U+FFFF, U+FDD0, ...: "never to be
# interchanged"; U+FFFE and U+FFFF are invalid in XML feeds) and surrogates, which no text holds
# (a YAML "\uFFFF" escape makes the one, another loader might make the other).
_NOT_TEXT = re.compile(f"[{SURROGATES}{NONCHARACTERS}]")
# Letters and symbols that render as blank space, like the format characters (Cf: U+200B-U+200D,
# U+2060, U+FEFF, ...): a title made only of these and spaces is empty.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

Status = Literal["published", "scheduled", "draft"]


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError("pressline", message)


def parse_datetime(value: object, zone: tzinfo) -> datetime:
    """A front matter date: a YAML date or timestamp, or ISO 8601 / ``YYYY-MM-DD HH:MM`` text.
    Without an offset it is in the site's time zone."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{_shown(text)}' is not a date; {DATE_HINT}") from None
    else:
        raise ValueError(f"must be a date, not {_describe(value)}; {DATE_HINT}")
    moment = parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed
    outside = _outside_years(moment, zone)
    if outside:
        written = f"'{_shown(value.strip())}'" if isinstance(value, str) else moment.isoformat()
        raise ValueError(f"{written} {outside}")
    return moment


def _outside_years(moment: datetime, zone: tzinfo) -> str | None:
    """Why ``moment`` is outside EARLIEST_YEAR..LATEST_YEAR as written, in UTC or in the site's
    time zone (where ``astimezone`` may not even be able to go), or None when it is within."""
    rule = (
        f"dates must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}, as written, in UTC and in the site's time zone"
    )
    readings = [("", moment)]
    for where, target in (("in UTC", UTC), (f"in the site's time zone ({zone})", zone)):
        try:
            readings.append((where, moment.astimezone(target)))
        except OverflowError:  # past year 9999 or before year 1
            edge = "before the year 1" if moment.year < EARLIEST_YEAR else "after the year 9999"
            return f"is {edge} {where}; {rule}"
    for where, reading in readings:
        if not EARLIEST_YEAR <= reading.year <= LATEST_YEAR:
            edge = (
                f"before the year {EARLIEST_YEAR}" if reading.year < EARLIEST_YEAR else f"after the year {LATEST_YEAR}"
            )
            shown = (
                f" ({reading.year:04d}-{reading.month:02d}-{reading.day:02d} {reading:%H:%M} {where})" if where else ""
            )
            return f"is {edge}{shown}; {rule}"
    return None


def _shown(text: str) -> str:
    """``text`` for a message: characters that show as nothing or drive a terminal (controls,
    direction and format characters, unassigned code points) written as <U+XXXX>."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else f"<U+{ord(char):04X}>" for char in text)


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple | set):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime | date):
        return "a date"
    if isinstance(value, time):
        return "a time of day"
    if value is None:
        return "empty"
    return "text" if isinstance(value, str) else type(value).__name__


def _is_web_url(value: str) -> bool:
    # isprintable: no spaces other than ' ', no control, format (bidi, zero-width) or unassigned characters.
    return (
        value.lower().startswith(("https://", "http://"))
        and " " not in value
        and len(value) > 8
        and value.isprintable()
    )


def _one_line(value: str, info: ValidationInfo) -> str:
    """A text on one line: direction and control characters removed (noted in the validation
    context's ``removed``, for the warning), whitespace runs made single spaces, ends trimmed."""
    if _UNSHOWN.search(value):
        removed: dict[str, set[str]] = (info.context or {}).setdefault("removed", {})
        removed.setdefault(info.field_name or "", set()).update(_UNSHOWN.findall(value))
        value = _UNSHOWN.sub("", value)
    if _NOT_TEXT.search(value):
        not_text: dict[str, set[str]] = (info.context or {}).setdefault("not_text", {})
        not_text.setdefault(info.field_name or "", set()).update(_NOT_TEXT.findall(value))
        value = _NOT_TEXT.sub("", value)
    return _WHITESPACE.sub(" ", value).strip()


def _is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only whitespace, format characters and blank letters."""
    return all(char.isspace() or char in _BLANK_LETTERS or unicodedata.category(char) == "Cf" for char in text)


def _alias(value: str) -> str:
    """One old URL in its normal form (``pressline.posts.aliases``)."""
    try:
        return normalise_alias(value)
    except AliasError as error:
        raise _fail(str(error)) from None


class FrontMatter(BaseModel):
    """The front matter fields, strictly typed: YAML ``yes`` is a boolean but ``"yes"`` is
    not, and a number is not a title."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    title: str
    date: datetime | None = None
    updated: datetime | None = None
    slug: str | None = None
    tags: tuple[str, ...] = ()
    summary: str | None = None
    author: str | None = None
    draft: bool = False
    canonical_url: str | None = None
    image: str | None = None
    aliases: tuple[Annotated[str, AfterValidator(_alias)], ...] = ()
    notify: bool | None = None
    email: EmailContent | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_is_not_given(cls, data: object) -> object:
        """An optional field left empty (``author:``, ``~``, ``null``) is YAML null: the same
        as not giving the field, so every optional field gets its default here, in one place,
        and the field validators only ever see a value. A required field keeps its null, so
        ``title:`` is reported as "must be text, not empty"."""
        if isinstance(data, dict) and None in data.values():
            fields = cls.model_fields
            return {
                name: value
                for name, value in data.items()
                if value is not None or (name in fields and fields[name].is_required())
            }
        return data

    @field_validator("title")
    @classmethod
    def _title(cls, value: str, info: ValidationInfo) -> str:
        title = _one_line(value, info)
        if _is_blank(title):  # zero-width characters alone would make the title invisible everywhere
            raise _fail("is empty")
        if len(title) > MAX_TITLE_LENGTH:
            raise _fail(f"is {len(title)} characters long; the limit is {MAX_TITLE_LENGTH}")
        return title

    @field_validator("date", "updated", mode="before")
    @classmethod
    def _date(cls, value: object, info: ValidationInfo) -> datetime:
        zone: tzinfo = (info.context or {})["timezone"]
        try:
            return parse_datetime(value, zone)
        except ValueError as error:
            raise _fail(str(error)) from None

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not is_valid_slug(value):
            suggestion = slugify(value)
            hint = f"; try '{suggestion}'" if suggestion else ""
            raise _fail(
                f"'{_shown(value)}' is not a safe single path segment: use lowercase letters a-z, digits and single "
                f"hyphens, at most {MAX_SLUG_LENGTH} characters{hint}"
            )
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_shape(cls, value: object) -> object:
        if isinstance(value, list):
            return tuple(value)
        raise _fail(f"must be a list of strings, like [news, python], not {_describe(value)}")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        tags: list[str] = []
        seen: set[str] = set()
        for tag in value:
            name = _one_line(tag, info)
            if not name:
                raise _fail("has an empty tag")
            if len(name) > MAX_TAG_LENGTH:
                raise _fail(f"'{name[:20]}…' is longer than {MAX_TAG_LENGTH} characters")
            if not tag_slug(name):
                raise _fail(f"'{name}' has no letters or digits usable in its page address tags/<tag>/")
            if tag_slug(name) not in seen:  # "Python" and "python" are one tag page
                seen.add(tag_slug(name))
                tags.append(name)
        if len(tags) > MAX_TAGS:
            raise _fail(f"has {len(tags)} tags; the limit is {MAX_TAGS}")
        return tuple(tags)

    @field_validator("aliases", mode="before")
    @classmethod
    def _aliases_shape(cls, value: object) -> object:
        if isinstance(value, str):  # one old URL
            return (value,)
        if isinstance(value, list):
            return tuple(value)
        raise _fail(f"must be {ALIASES_HINT}, not {_describe(value)}")

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unique = tuple(dict.fromkeys(value))  # /a/ and /a/ again (or /%61/) is one old URL
        if len(unique) > MAX_ALIASES:
            raise _fail(f"has {len(unique)} old URLs; the limit is {MAX_ALIASES}")
        return unique

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: object) -> str:
        # Before pydantic's own check, whose message ("Input should be 'full' or 'summary'")
        # would not say what each choice does. Case and spaces are forgiven: "Full" means full.
        if isinstance(value, str) and value.strip().lower() in EMAIL_CHOICES:
            return value.strip().lower()
        shown = f"'{_shown(value.strip())[:40]}'" if isinstance(value, str) else _describe(value)
        raise _fail(
            f"must be full (the whole post in subscribers' email) or summary (its summary and a link), not {shown}"
        )

    @field_validator("summary", "author")
    @classmethod
    def _text(cls, value: str, info: ValidationInfo) -> str | None:
        text = _one_line(value, info)
        return None if _is_blank(text) else text

    @field_validator("canonical_url")
    @classmethod
    def _canonical(cls, value: str) -> str:
        value = value.strip()
        if not _is_web_url(value):
            raise _fail(f"'{_shown(value)}' must be an absolute http:// or https:// URL")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        value = value.strip()
        if _SCHEME.match(value) and not _is_web_url(value):
            raise _fail(f"'{_shown(value)}' must be a path beside the post or an http(s) URL")
        if not value or not value.isprintable() or " " in value:
            raise _fail(f"'{_shown(value)}' is not a usable image path")
        return value


@dataclass(frozen=True)
class ParsedPost:
    """A post that passed every rule that needs no catalog."""

    meta: PostMeta
    body: str
    body_line: int
    summary_given: bool
    slug_line: int | None = None
    # cmark's output, NOT sanitized: made here to measure the nesting, reused by the renderer.
    unsafe_html: str | None = None


@dataclass(frozen=True)
class CheckResult:
    post: ParsedPost | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.post is not None and not self.errors


def status_of(meta: PostMeta, now: datetime) -> Status:
    """draft: true -> draft; a date still to come -> scheduled; otherwise published."""
    if meta.draft:
        return "draft"
    return "scheduled" if meta.date > now else "published"


def default_slug(source_key: str, title: str) -> str:
    """The file name without its extension, else the title."""
    stem = posixpath.splitext(posixpath.basename(source_key))[0]
    return slugify(stem) or slugify(title)


def _default_slug_warning(source_key: str, title: str, slug: str) -> Problem | None:
    """Say so when the default slug left letters out (a script without a Latin form here), so
    that the author sees the address is not the name they gave and can choose one."""
    stem = posixpath.splitext(posixpath.basename(source_key))[0]
    origin, text = ("file name", stem) if slugify(stem) else ("title", title)
    lost = lost_letters(text)
    if not lost:
        return None
    message = (
        f"'{slug}' was made from the {origin} without its letters {lost}, which have no Latin form here; "
        "add 'slug: …' to choose the page address"
    )
    return Problem(field="slug", message=message, line=1)


def decode(raw: bytes) -> tuple[str | None, Problem | None]:
    """UTF-8 text with newlines normalised, or the problem that stops it."""
    if len(raw) > MAX_POST_BYTES:
        return None, Problem(field="file", message=f"is {len(raw):,} bytes; the limit is 1 MiB ({MAX_POST_BYTES:,})")
    head = raw[:8192]
    if b"\x00" in head or (head and (len(head) - len(head.translate(None, _CONTROL_BYTES))) * 100 > len(head)):
        return None, Problem(field="file", message="is binary, not a Markdown text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        byte = raw[error.start]
        message = f"is not UTF-8 (byte 0x{byte:02X} at line {line}); save the file as UTF-8"
        return None, Problem(field="file", message=message, line=line)
    if b"\x00" in raw:  # UTF-8 encodes U+0000 as the zero byte only; bytes are searched faster than text
        return None, Problem(field="file", message="is binary, not a Markdown text file")
    text = text.removeprefix("\ufeff")
    return (text.replace("\r\n", "\n").replace("\r", "\n") if b"\r" in raw else text), None


_TYPE_MESSAGES = {
    "missing": "is required",
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "tuple_type": "must be a list of strings, like [news, python]",
    "list_type": "must be a list of strings, like [news, python]",
}


def _problems(error: ValidationError, document: frontmatter.Document, renamed: field_names.Renamed) -> list[Problem]:
    """Each validation error as a problem, under the field name the author wrote (``lastmod``
    for ``updated``, ``categories`` for a tag that came from there) and at its line."""
    problems = []
    for item in error.errors():
        loc = item["loc"]
        name = str(loc[0]) if loc else "front matter"
        index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
        if index is not None and (name, index) in renamed.item_origins:
            name, index = renamed.item_origins[(name, index)]
        else:
            name = renamed.written.get(name, name)
        message = item["msg"] if item["type"] == "pressline" else _TYPE_MESSAGES.get(item["type"], item["msg"])
        if item["type"] == "string_type":
            message += f", not {_describe(item['input'])}"
            if not isinstance(item["input"], list | dict | type(None)):
                message += " (put it in quotes)"
        if index is not None:
            message = f"item {index + 1} {message}"
        if item["type"] == "missing" and name == "title":
            message = "is missing: every post needs a title"
        if item["type"] == "string_type" and name == "title" and item["input"] is None:
            message = "is empty"  # 'title:' is YAML null: the same as 'title: ""'
        line = document.line_of(name, index)
        if line is None and item["type"] == "missing":
            line = 1
        problems.append(Problem(field=name, message=message, line=line))
    return problems


def _body_is_empty(body: str) -> bool:
    """Whether the body has nothing but whitespace and HTML comments (``<!--`` up to the next
    ``-->``; one never closed is text). One pass of ``str.find``: the regex ``<!--.*?-->``
    this replaces scanned to the end of the body from every unclosed ``<!--``, so a body of
    them took quadratic time (32 KB: 4 s; 240 KB passed Validate's timeout)."""
    position = 0
    while (start := body.find("<!--", position)) != -1:
        end = body.find("-->", start + 4)
        if end == -1 or body[position:start].strip():
            return False
        position = end + 3
    return not body[position:].strip()


def _unfit_body_characters(document: frontmatter.Document) -> Problem | None:
    """The warning for control characters and noncharacters typed into the body (``commonmark``
    shows them as U+FFFD, C1 controls as the Windows-1252 characters they stand for), with the
    line of the first."""
    unfit = unfit_characters(document.body)
    if not unfit:
        return None
    shown = sorted(unfit)
    codes = ", ".join(f"U+{ord(char):04X}" for char in shown[:8]) + (", …" if len(shown) > 8 else "")
    first = min(document.body.index(char) for char in unfit)
    message = (
        f"has control characters or noncharacters ({codes}); they are shown as U+FFFD (U+0080-U+009F as the "
        "Windows-1252 characters they stand for)"
    )
    return Problem(field="body", message=message, line=document.body_line + document.body.count("\n", 0, first))


def check_post(raw: bytes, source_key: str, *, uploaded_at: datetime, timezone: tzinfo) -> CheckResult:
    """Apply every rule that needs no catalog to one uploaded post."""
    text, problem = decode(raw)
    if text is None:
        return CheckResult(None, [problem] if problem else [])
    try:
        document = frontmatter.split(text)
    except frontmatter.FrontMatterError as error:
        return CheckResult(None, [error.problem])
    if not document.has_front_matter:
        message = (
            "is missing: start the file with front matter between '---' lines (or TOML between '+++' lines), "
            "with at least 'title: …'"
        )
        return CheckResult(None, [Problem(field="title", message=message, line=1)])

    warnings = list(document.warnings)
    for name in document.fields:
        if name in NAVIGATION_FIELDS:
            message = (
                "is not a known field and is ignored: pages (pages/<name>.md) are in the navigation, posts are not"
            )
            warnings.append(Problem(field=name, message=message, line=document.line_of(name)))
        elif name not in KNOWN_FIELDS:
            message = "is not a known field and is ignored"
            warnings.append(Problem(field=_shown(name), message=message, line=document.line_of(name)))
    renamed = field_names.rename(document.fields, document.line_of, _same_in(timezone))
    errors: list[Problem] = list(renamed.errors)
    warnings.extend(renamed.warnings)
    fields: FrontMatter | None = None
    context: dict[str, Any] = {"timezone": timezone}
    try:
        fields = FrontMatter.model_validate(renamed.fields, context=context)
    except ValidationError as error:
        errors.extend(_problems(error, document, renamed))
    for name, characters in sorted(context.get("removed", {}).items()):
        codes = ", ".join(f"U+{ord(char):04X}" for char in sorted(characters))
        message = f"had invisible direction or control characters ({codes}); they were removed"
        written = renamed.written.get(name, name)
        warnings.append(Problem(field=written, message=message, line=document.line_of(written)))
    for name, characters in sorted(context.get("not_text", {}).items()):
        codes = ", ".join(f"U+{ord(char):04X}" for char in sorted(characters))
        message = f"had noncharacters or surrogates ({codes}), which are not text; they were removed"
        written = renamed.written.get(name, name)
        warnings.append(Problem(field=written, message=message, line=document.line_of(written)))
    unsafe_html: str | None = None
    if _body_is_empty(document.body):
        errors.append(
            Problem(field="body", message="is empty: write the post below the front matter", line=document.body_line)
        )
    else:
        # Rejected here, cheaply, because rendering such a body would take Render for ever.
        too_costly = markdown_problem(document.body)
        if too_costly is None:
            unsafe_html = markdown_to_html(document.body)
            too_costly = html_problem(unsafe_html)
        if too_costly:
            errors.append(Problem(field="body", message=too_costly, line=document.body_line))
    if fields is None or errors:
        return CheckResult(None, errors, warnings)
    unfit = _unfit_body_characters(document)
    if unfit:
        warnings.append(unfit)

    slug = fields.slug or default_slug(source_key, fields.title)
    if not slug:
        message = "cannot be made from the file name or the title; add 'slug: …' (letters a-z, digits, hyphens)"
        return CheckResult(None, [Problem(field="slug", message=message, line=1)], warnings)
    if not fields.slug:
        lossy = _default_slug_warning(source_key, fields.title, slug)
        if lossy:
            warnings.append(lossy)
    if fields.updated and fields.date and fields.updated < fields.date:
        written = renamed.written.get("updated", "updated")
        warnings.append(Problem(field=written, message="is before the post's date", line=document.line_of(written)))
    aliases, address_warnings = _old_addresses(document, slug, fields.aliases)
    warnings.extend(address_warnings)
    meta = PostMeta(
        slug=slug,
        title=fields.title,
        date=fields.date or uploaded_at.astimezone(timezone),
        updated=fields.updated,
        tags=fields.tags,
        summary=fields.summary or "",
        author=fields.author,
        canonical_url=fields.canonical_url,
        image=fields.image,
        draft=fields.draft,
        aliases=aliases,
        notify=fields.notify,
        email=fields.email,
    )
    post = ParsedPost(
        meta=meta,
        body=document.body,
        body_line=document.body_line,
        summary_given=bool(fields.summary),
        slug_line=document.line_of("slug"),
        unsafe_html=unsafe_html,
    )
    return CheckResult(post, [], warnings)


def _same_in(zone: tzinfo) -> field_names.Same:
    """Whether two values of a field say the same: dates as instants, texts as shown."""

    def same(name: str, first: Any, second: Any) -> bool:
        if name in ("date", "updated"):
            try:
                # In UTC: == between two zones is False at ambiguous local times (PEP 495).
                return parse_datetime(first, zone).astimezone(UTC) == parse_datetime(second, zone).astimezone(UTC)
            except (ValueError, OverflowError):
                return bool(first == second)
        if isinstance(first, str) and isinstance(second, str):
            return first.split() == second.split()
        return bool(first == second)

    return same


# A Jekyll permalink's placeholder (/:year/:month/:title/): a pattern, not an address.
_PLACEHOLDER = re.compile(r"/:[A-Za-z_]")


def _old_addresses(
    document: frontmatter.Document, slug: str, aliases: tuple[str, ...]
) -> tuple[tuple[str, ...], list[Problem]]:
    """``aliases`` with the post's old address from Hugo's ``url`` or Jekyll's ``permalink``.

    Not Pressline's fields, so what cannot be an alias is a warning, never a reason to refuse
    a post that published on the old site: the post's own address here is no redirect, a
    pattern is no address, and the site's own paths stay the site's."""
    own = post_path(slug)
    found = [alias for alias in aliases if alias != own]  # the post's own address redirects nowhere
    warnings: list[Problem] = []
    for name in OLD_ADDRESS_FIELDS:
        value = document.fields.get(name)
        if value is None:
            continue
        line = document.line_of(name)
        if not isinstance(value, str):
            message = f"is ignored: the post's old address must be text, like /2019/05/hello/, not {_describe(value)}"
            warnings.append(Problem(field=name, message=message, line=line))
            continue
        if _PLACEHOLDER.search(value):
            message = f"'{_shown(value)[:80]}' is a pattern, not an address; it is ignored (list old URLs in aliases)"
            warnings.append(Problem(field=name, message=message, line=line))
            continue
        try:
            alias = normal_path(value)
        except AliasError as error:
            warnings.append(Problem(field=name, message=f"is ignored as an old URL: {error}", line=line))
            continue
        if alias == own:
            continue  # the post keeps its old address: nothing to redirect
        reserved = reserved_reason(alias)
        if reserved:
            message = f"is ignored as an old URL: '{_shown(value.strip())[:80]}' {reserved}"
            warnings.append(Problem(field=name, message=message, line=line))
            continue
        if alias in found:
            continue
        if len(found) >= MAX_ALIASES:
            message = f"is ignored as an old URL: the post has {MAX_ALIASES} aliases already, the limit"
            warnings.append(Problem(field=name, message=message, line=line))
            continue
        found.append(alias)
    return tuple(found), warnings


def slug_taken(slug: str, owner: str | None, source_key: str, line: int | None = None) -> Problem | None:
    """The rejection for a slug already published from another source key."""
    if owner is None or owner == source_key:
        return None
    return Problem(field="slug", message=f"'{slug}' is already used by {owner}; choose another slug", line=line)
