"""Subscribers from another platform's CSV export, and Pressline's own CSV: the formats and
the consent rules (pure: no I/O; the shell is ``subscribers/importer.py``).

What each platform's export says, by its own column names:

* **Mailchimp** (audience export: ``subscribed_members_export_*.csv``, ``unsubscribed_…``,
  ``cleaned_…``): ``Email Address``; ``CONFIRM_TIME``/``CONFIRM_IP`` (double opt-in),
  ``OPTIN_TIME``/``OPTIN_IP`` (the sign-up); ``UNSUB_TIME`` (unsubscribed file),
  ``CLEAN_TIME`` (cleaned: hard bounces); ``TAGS``.
* **Ghost** (Members, Export): ``email``, ``subscribed_to_emails`` (``subscribed`` before
  Ghost 5), ``created_at``, ``deleted_at``, ``labels``.
* **Substack** (Subscribers, Export): ``email``, ``created_at``, ``email_disabled``,
  ``active_subscription`` (a paid plan, not consent).
* **WordPress.com / Jetpack** (Subscribers, Download as CSV): an email column
  (``email``, ``email_address``, ``user_email``), the subscription date (``subscription_date``,
  ``date_subscribed``, ``subscribed``, ``since``, ``created``) and, when present, the status
  the Subscribers screen shows (``Subscribed``, ``Not subscribed``, ``Not confirmed``,
  ``Not sending``).
* **Pressline** (``pressline subscribers export``): ``email``, ``status``, ``tags`` (a JSON
  list), ``created_at``, ``confirmed_at``, ``consent_at``, ``consent_how``, ``consent_source``.

The rules. An address whose row records *when* it agreed to receive email (and the
platform says how) is imported **confirmed** with that consent kept; one without gets one
re-opt-in confirmation, sent as a sign-up's. Rows the platform marks unsubscribed are never
subscribed nor emailed; bounced or complained ones (Mailchimp's cleaned) are suppressed.

Tags: Ghost labels and Mailchimp tags are **not** imported as interests. In Pressline a
subscriber's tags narrow what they receive (only posts with one of them), while labels and
tags elsewhere are the author's segments ("vip", "imported 2021"): mapped, they would
silently stop most emails. Pressline's own export carries real interests, imported as such.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from pressline.subscribers.addresses import InvalidAddress, InvalidTags, normalize_address, normalize_tags

Format = Literal["ghost", "substack", "mailchimp", "wordpress", "pressline"]
FORMATS: tuple[Format, ...] = ("ghost", "substack", "mailchimp", "wordpress", "pressline")
# What the old platform says about an address: wants email, has not confirmed yet, left,
# or must never be mailed again (a hard bounce or a complaint).
RowStatus = Literal["subscribed", "pending", "unsubscribed", "suppressed"]

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_FIELD_CHARS = 10_000  # no column of any of these exports is near this; a longer one is junk
MAX_COLUMNS = 500
MAX_CONSENT_TEXT = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
PRESSLINE_COLUMNS = (
    "email",
    "status",
    "tags",
    "created_at",
    "confirmed_at",
    "consent_at",
    "consent_how",
    "consent_source",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection):
# exported cells that do are prefixed with an apostrophe, which the import takes off.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


class ImportModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Consent(ImportModel):
    """Who agreed to receive email, when, how and according to which record: kept on the
    subscriber (``consent_*`` attributes) and written back out by the export."""

    at: datetime
    how: str  # "double opt-in confirmed on Mailchimp from 203.0.113.9"
    source: str  # "subscribed_members.csv (mailchimp)"

    @field_validator("how", "source")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # Text from a file, kept and written out again: one short line, no control characters.
        return " ".join(_CONTROL.sub(" ", value).split())[:MAX_CONSENT_TEXT].rstrip() or "(not recorded)"


class RowProblem(ImportModel):
    """A row that cannot be imported: where, which column, and why (never the address)."""

    file: str
    row: int  # the line's number as a spreadsheet shows it (the header is row 1)
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: row {self.row}, {self.column}: {self.reason}"


class ImportRow(ImportModel):
    """One importable address: normalized, with what the old platform said about it."""

    row: int
    address: str
    status: RowStatus
    consent: Consent | None = None
    tags: tuple[str, ...] = ()  # Pressline's own export only (see the module's docstring)


@dataclass
class ParsedFile:
    file: str
    format: Format | None
    rows: list[ImportRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


class CsvFormatError(ValueError):
    """The file as a whole cannot be read (encoding, header, unknown format)."""


# --------------------------------------------------------------------------- reading
def decode(data: bytes) -> str:
    """The text of an export: UTF-8 (with or without the BOM Excel writes) or UTF-16 with a
    BOM. Anything else is refused rather than guessed at: a wrong guess corrupts addresses."""
    if len(data) > MAX_FILE_BYTES:
        raise CsvFormatError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise CsvFormatError(f"the file says UTF-16 but is not (byte {error.start})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CsvFormatError(
            f"the file is not UTF-8 text (byte {error.start}); export it again as UTF-8 (CSV UTF-8 in Excel)"
        ) from None
    if "\x00" in text:
        raise CsvFormatError("the file holds NUL characters: it is not a CSV export")
    return text


def detect(header: Iterable[str]) -> Format | None:
    """The format a header names (None: none of ours)."""
    names = {name.strip().casefold() for name in header}
    if {"email", "status", "consent_at", "consent_how"} <= names:
        return "pressline"
    if "email address" in names and names & {"optin_time", "confirm_time", "member_rating", "leid", "last_changed"}:
        return "mailchimp"
    if "email" in names and ("subscribed_to_emails" in names or {"subscribed", "labels"} <= names):
        return "ghost"
    if "email" in names and names & {"active_subscription", "email_disabled"}:
        return "substack"
    if _first(names, _WP_EMAIL) and _first(names, _WP_DATE):
        return "wordpress"
    return None


_WP_EMAIL = ("email", "email_address", "user_email", "email address")
_WP_DATE = ("subscription_date", "date_subscribed", "subscribed_at", "subscribed", "since", "created", "date")
_WP_STATUS = ("status", "email subscription", "email_subscription", "subscription_status")


def _first(names: set[str] | dict[str, str], candidates: Iterable[str]) -> str | None:
    return next((name for name in candidates if name in names), None)


def parse(data: bytes, file: str, format: Format | Literal["auto"] = "auto", now: datetime | None = None) -> ParsedFile:
    """Every row of ``data`` (a CSV export named ``file``): the importable ones, and a
    problem per row that is not (invalid address, unreadable time, duplicate). A problem
    with the file as a whole (encoding, header) raises CsvFormatError."""
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_limit = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        try:
            header = next(reader, None)
        except csv.Error as error:
            raise CsvFormatError(f"the header cannot be read: {error}") from None
        if not header or not any(cell.strip() for cell in header):
            raise CsvFormatError("the file is empty (no header row)")
        if len(header) > MAX_COLUMNS:
            raise CsvFormatError(f"the header has more than {MAX_COLUMNS} columns")
        names = [cell.strip().casefold() for cell in header]
        repeated = sorted({name for name in names if names.count(name) > 1 and name})
        if repeated:
            raise CsvFormatError(f"the header repeats the column(s) {', '.join(repeated)}")
        chosen = detect(names) if format == "auto" else format
        if chosen is None:
            raise CsvFormatError(
                "cannot tell which platform exported this file from its header; pass --format"
                " ghost, substack, mailchimp, wordpress or pressline"
            )
        email_column = _email_column(chosen, names)
        if email_column is None:
            raise CsvFormatError(f"no email column for the {chosen} format in the header")
        parsed = ParsedFile(file=file, format=chosen)
        spellings = dict(zip(names, (cell.strip() for cell in header), strict=True))
        seen: dict[str, ImportRow] = {}
        line = 1  # the header's row; a record's row is its position, as a spreadsheet numbers it
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                parsed.problems.append(
                    RowProblem(file=file, row=line + 1, column="(row)", reason=f"unreadable, reading stopped: {error}")
                )
                break
            line += 1
            if not any(cell.strip() for cell in cells):
                continue
            values = dict(zip(names, (cell.strip() for cell in cells), strict=False))
            found = _row(chosen, values, spellings, file, line, email_column, now or datetime.now(UTC))
            if isinstance(found, RowProblem):
                parsed.problems.append(found)
                continue
            key = found.address.casefold()
            earlier = seen.get(key)
            if earlier is None:
                seen[key] = found
                continue
            # The same address twice: one row each, and a row saying "never mail" wins.
            keep = found if _RANK[found.status] > _RANK[earlier.status] else earlier
            seen[key] = keep
            dropped = earlier if keep is found else found
            parsed.problems.append(
                RowProblem(
                    file=file,
                    row=dropped.row,
                    column=spellings[email_column],
                    reason=f"the same address as row {keep.row}: imported once, as that row says",
                )
            )
        parsed.rows = sorted(seen.values(), key=lambda row: row.row)
        return parsed
    finally:
        csv.field_size_limit(previous_limit)


_RANK: dict[RowStatus, int] = {"pending": 0, "subscribed": 1, "unsubscribed": 2, "suppressed": 3}


def _email_column(chosen: Format, names: list[str]) -> str | None:
    if chosen == "mailchimp":
        return "email address" if "email address" in names else None
    if chosen == "wordpress":
        return _first(set(names), _WP_EMAIL)
    return "email" if "email" in names else None


def _truthy(value: str) -> bool:
    return value.strip().casefold() in ("true", "1", "yes", "y", "t")


def _row(
    chosen: Format,
    values: dict[str, str],
    spellings: dict[str, str],
    file: str,
    line: int,
    email_column: str,
    now: datetime,
) -> ImportRow | RowProblem:
    def problem(column: str, reason: str) -> RowProblem:
        return RowProblem(file=file, row=line, column=spellings.get(column, column), reason=reason)

    raw = restore_cell(values.get(email_column, ""))
    try:
        address = normalize_address(raw)
    except InvalidAddress as error:
        return problem(email_column, str(error))

    def when(column: str) -> datetime | RowProblem | None:
        text = restore_cell(values.get(column, ""))
        if not text:
            return None
        moment = parse_time(text)
        if moment is None:
            return problem(column, "not a date and time this importer can read (use ISO 8601: 2021-03-04 10:20:30)")
        if moment > now:
            return problem(column, "a consent time in the future is not a record of consent")
        return moment

    source = f"{file} ({chosen})"
    status: RowStatus = "subscribed"
    consent: Consent | None = None
    tags: tuple[str, ...] = ()
    if chosen == "mailchimp":
        if values.get("clean_time"):
            status = "suppressed"
        elif values.get("unsub_time"):
            status = "unsubscribed"
        else:
            for column, how in (("confirm_time", "double opt-in confirmed"), ("optin_time", "signed up")):
                moment = when(column)
                if isinstance(moment, RowProblem):
                    return moment
                if moment is not None:
                    ip = _ip(values.get(column.replace("_time", "_ip"), ""))
                    consent = Consent(
                        at=moment, how=f"{how} on Mailchimp" + (f" from {ip}" if ip else ""), source=source
                    )
                    break
    elif chosen == "ghost":
        subscribed = values.get("subscribed_to_emails", values.get("subscribed", "true"))
        if values.get("deleted_at") or not _truthy(subscribed):
            status = "unsubscribed"
        else:
            moment = when("created_at")
            if isinstance(moment, RowProblem):
                return moment
            if moment is not None:
                consent = Consent(at=moment, how="Ghost member subscribed to emails", source=source)
    elif chosen == "substack":
        if _truthy(values.get("email_disabled", "")):
            status = "unsubscribed"
        else:
            moment = when("created_at")
            if isinstance(moment, RowProblem):
                return moment
            if moment is not None:
                consent = Consent(at=moment, how="subscribed on Substack", source=source)
    elif chosen == "wordpress":
        status_column = _first(values, _WP_STATUS)
        said = values.get(status_column, "").casefold() if status_column else ""
        if said in ("not subscribed", "unsubscribed", "inactive", "0"):
            status = "unsubscribed"
        elif said in ("not sending", "blocked", "bounced", "spam"):
            status = "suppressed"
        elif said in ("not confirmed", "unconfirmed", "pending"):
            status = "pending"
        else:
            date_column = _first(values, _WP_DATE)
            moment = when(date_column) if date_column else None
            if isinstance(moment, RowProblem):
                return moment
            if moment is not None:
                consent = Consent(at=moment, how="subscribed on WordPress.com / Jetpack", source=source)
    else:  # pressline
        said = values.get("status", "").casefold()
        if said not in ("confirmed", "pending"):
            return problem("status", "must be confirmed or pending")
        status = "subscribed" if said == "confirmed" else "pending"
        try:
            tags = normalize_tags(_tags_cell(restore_cell(values.get("tags", ""))))
        except (InvalidTags, ValueError) as error:
            return problem("tags", str(error))
        moment = when("consent_at")
        if isinstance(moment, RowProblem):
            return moment
        if moment is not None and status == "subscribed":
            how = restore_cell(values.get("consent_how", "")) or "double opt-in confirmed on Pressline"
            consent = Consent(at=moment, how=how, source=restore_cell(values.get("consent_source", "")) or source)
    if status == "subscribed" and consent is None:
        status = "pending"  # no record of consent: asked again, never assumed
    return ImportRow(row=line, address=address, status=status, consent=consent, tags=tags)


def _ip(text: str) -> str:
    """An IP address as the consent record keeps it; anything else is not kept (it is evidence
    of where consent was given, not a free-text field)."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return ""


def _tags_cell(text: str) -> list[str]:
    if not text:
        return []
    loaded = json.loads(text)
    if not isinstance(loaded, list):
        raise ValueError('must be a JSON list like ["aws", "python"]')
    return [str(item) for item in loaded]


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%B %d, %Y")


def parse_time(text: str) -> datetime | None:
    """A time as these exports write it; one without a zone is UTC (as all four platforms
    write theirs). None when unreadable."""
    text = text.strip()
    if not text or len(text) > 64:
        return None
    moment: datetime | None = None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for pattern in _TIME_FORMATS:
            try:
                moment = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --------------------------------------------------------------------------- deciding
class ImportState(ImportModel):
    """What the stack knows about an address before its row is applied."""

    suppressed: bool = False
    imported: str | None = None  # the outcome an earlier import recorded (its marker)
    confirmed: bool = False
    pending: bool = False


Action = Literal["confirm", "invite", "suppress", "mark_left", "skip"]


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str  # said in the report: why this row did, or did not, change anything


def decide(row: ImportRow, state: ImportState) -> Decision:
    """What to do with one row, given what the stack holds. Nothing here ever emails an
    address twice: a row applied once leaves a marker, and a marker means skip."""
    if state.suppressed:
        return Decision("skip", "suppressed here (bounced or complained): never subscribed nor emailed")
    if state.imported is not None:
        return Decision("skip", f"imported before ({state.imported}): left as it is now")
    if row.status == "suppressed":
        return Decision("suppress", "bounced or complained on the old platform: suppressed, never emailed")
    if state.confirmed:
        return Decision("skip", "already a confirmed subscriber here: left as it is")
    if row.status == "unsubscribed":
        return Decision("mark_left", "unsubscribed on the old platform: not subscribed, not emailed")
    if row.status == "subscribed" and row.consent is not None:
        return Decision("confirm", "consent recorded: imported as confirmed")
    return Decision("invite", "no record of consent: one confirmation email asks them")


# --------------------------------------------------------------------------- writing
class ExportedSubscriber(ImportModel):
    """One subscriber as ``pressline subscribers export`` writes it."""

    address: str
    status: Literal["confirmed", "pending"]
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    consent: Consent | None = None


def neutralize_cell(value: str) -> str:
    """A cell a spreadsheet will show as text: a leading formula character gets an apostrophe
    (OWASP's CSV-injection advice); an apostrophe already there gets another one, so that
    ``restore_cell`` gives every value back exactly."""
    if value.startswith(FORMULA_STARTS) or value.startswith("'"):
        return "'" + value
    return value


def restore_cell(value: str) -> str:
    """The value ``neutralize_cell`` wrote: one leading apostrophe taken off."""
    return value[1:] if value.startswith("'") else value


def export_csv(subscribers: Iterable[ExportedSubscriber]) -> Iterator[str]:
    """The Pressline CSV, a line at a time (header first); every cell neutralized."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def line(cells: Iterable[str]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow([neutralize_cell(cell) for cell in cells])
        return out.getvalue()

    yield line(PRESSLINE_COLUMNS)
    for subscriber in subscribers:
        consent = subscriber.consent
        if consent is None and subscriber.status == "confirmed" and subscriber.confirmed_at is not None:
            consent = Consent(
                at=subscriber.confirmed_at, how="double opt-in confirmed on Pressline", source="pressline"
            )
        yield line(
            (
                subscriber.address,
                subscriber.status,
                json.dumps(list(subscriber.tags), ensure_ascii=False) if subscriber.tags else "",
                _iso(subscriber.created_at),
                _iso(subscriber.confirmed_at),
                _iso(consent.at) if consent else "",
                consent.how if consent else "",
                consent.source if consent else "",
            )
        )


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment is not None else ""
