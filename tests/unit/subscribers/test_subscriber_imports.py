"""Subscriber CSV imports, pure and against the in-memory repository: each platform's
columns, the consent rule, suppressions, idempotency, pacing, and hostile files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pressline.subscribers.addresses import subscriber_id
from pressline.subscribers.importer import Pace, apply_import
from pressline.subscribers.imports import (
    FORMULA_STARTS,
    Consent,
    CsvFormatError,
    ExportedSubscriber,
    ImportRow,
    ImportState,
    decide,
    detect,
    export_csv,
    neutralize_cell,
    parse,
    restore_cell,
)
from pressline.subscribers.memory import FakeClock, MemoryMailer, MemoryRepository
from pressline.subscribers.service import Limit, SignupLimits, Subscriptions

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

MAILCHIMP_SUBSCRIBED = (
    "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,"
    "LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS\n"
    "ada@example.com,Ada,L,2,2019-04-01 10:00:00,198.51.100.7,2019-04-01 10:05:00,198.51.100.7,,,,,,,,"
    '2020-01-01 00:00:00,1,abc,,"vip,imported"\n'
    "bob@example.com,Bob,B,2,2019-04-02 10:00:00,,,,,,,,,,,2020-01-01 00:00:00,2,abd,,\n"
    "carol@example.com,Carol,C,2,,,,,,,,,,,,2020-01-01 00:00:00,3,abe,,\n"
)
MAILCHIMP_UNSUBSCRIBED = (
    "Email Address,First Name,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME,UNSUB_TIME,UNSUB_REASON,LAST_CHANGED,LEID\n"
    "dan@example.com,Dan,1,2019-04-01 10:00:00,2019-04-01 10:05:00,2021-05-05 12:00:00,No longer interested,"
    "2021-05-05 12:00:00,4\n"
)
MAILCHIMP_CLEANED = (
    "Email Address,First Name,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME,CLEAN_TIME,LAST_CHANGED,LEID\n"
    "erin@example.com,Erin,1,2019-04-01 10:00:00,2019-04-01 10:05:00,2021-06-06 12:00:00,2021-06-06 12:00:00,5\n"
)
GHOST = (
    "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,tiers\n"
    "6231,ada@example.com,Ada,,true,false,,2022-03-16T08:03:11.000Z,,Label 1,\n"
    "6232,bob@example.com,Bob,,false,false,,2022-03-16T08:03:11.000Z,,,\n"
    "6233,carol@example.com,Carol,,true,false,,,,,\n"
)
SUBSTACK = (
    "email,active_subscription,expiry,plan,email_disabled,created_at,first_payment_at\n"
    "ada@example.com,false,,other,false,2021-01-05T17:12:09.284Z,\n"
    "bob@example.com,true,2027-01-01,yearly,true,2021-02-05T17:12:09.284Z,2021-02-05T17:12:09.284Z\n"
)
WORDPRESS = (
    "email_address,first_name,subscription_date,status\n"
    "ada@example.com,Ada,2020-07-01 08:00:00,Subscribed\n"
    "bob@example.com,Bob,2020-07-02 08:00:00,Not confirmed\n"
    "carol@example.com,Carol,2020-07-03 08:00:00,Not subscribed\n"
)


def rows_by_address(text: str, name: str = "export.csv") -> dict[str, ImportRow]:
    parsed = parse(text.encode(), name, now=NOW)
    assert not parsed.problems, parsed.problems
    return {row.address: row for row in parsed.rows}


# --------------------------------------------------------------------------- formats
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MAILCHIMP_SUBSCRIBED, "mailchimp"),
        (MAILCHIMP_UNSUBSCRIBED, "mailchimp"),
        (MAILCHIMP_CLEANED, "mailchimp"),
        (GHOST, "ghost"),
        (SUBSTACK, "substack"),
        (WORDPRESS, "wordpress"),
        ("".join(export_csv([])), "pressline"),
    ],
)
def test_each_platforms_header_is_recognised(text: str, expected: str) -> None:
    assert detect(next(csv.reader(io.StringIO(text)))) == expected


def test_an_unknown_header_asks_for_the_format() -> None:
    with pytest.raises(CsvFormatError, match="--format"):
        parse(b"name,phone\nAda,123\n", "x.csv")


def test_mailchimp_double_opt_in_single_opt_in_and_no_consent() -> None:
    rows = rows_by_address(MAILCHIMP_SUBSCRIBED, "subscribed_members.csv")
    ada, bob, carol = rows["ada@example.com"], rows["bob@example.com"], rows["carol@example.com"]
    assert ada.status == "subscribed" and ada.consent is not None
    assert ada.consent.at == datetime(2019, 4, 1, 10, 5, tzinfo=UTC)
    assert ada.consent.how == "double opt-in confirmed on Mailchimp from 198.51.100.7"
    assert ada.consent.source == "subscribed_members.csv (mailchimp)"
    assert ada.tags == ()  # Mailchimp tags are segments, not interests
    assert bob.consent is not None and bob.consent.how == "signed up on Mailchimp"
    assert carol.status == "pending" and carol.consent is None


def test_mailchimp_unsubscribed_and_cleaned_files() -> None:
    assert rows_by_address(MAILCHIMP_UNSUBSCRIBED)["dan@example.com"].status == "unsubscribed"
    assert rows_by_address(MAILCHIMP_CLEANED)["erin@example.com"].status == "suppressed"


def test_ghost_substack_and_wordpress_rules() -> None:
    ghost = rows_by_address(GHOST)
    assert ghost["ada@example.com"].consent is not None and ghost["ada@example.com"].status == "subscribed"
    assert ghost["bob@example.com"].status == "unsubscribed"
    assert ghost["carol@example.com"].status == "pending"  # no created_at: no record of when
    substack = rows_by_address(SUBSTACK)
    assert substack["ada@example.com"].consent is not None
    assert substack["ada@example.com"].consent.at == datetime(2021, 1, 5, 17, 12, 9, 284000, tzinfo=UTC)
    assert substack["bob@example.com"].status == "unsubscribed"
    wordpress = rows_by_address(WORDPRESS)
    assert [wordpress[f"{name}@example.com"].status for name in ("ada", "bob", "carol")] == [
        "subscribed",
        "pending",
        "unsubscribed",
    ]


def test_invalid_addresses_and_times_are_reported_per_row_without_the_address() -> None:
    text = (
        "email,created_at,email_disabled\n"
        "not-an-address,2021-01-01,false\n"
        "ok@example.com,yesterday-ish,false\n"
        "later@example.com,2099-01-01,false\n"
        "fine@example.com,2021-01-01,false\n"
    )
    parsed = parse(text.encode(), "substack.csv", now=NOW)
    assert [row.address for row in parsed.rows] == ["fine@example.com"]
    found = {(problem.row, problem.column) for problem in parsed.problems}
    assert found == {(2, "email"), (3, "created_at"), (4, "created_at")}
    for problem in parsed.problems:
        assert problem.file == "substack.csv" and problem.reason
        assert "not-an-address" not in problem.reason and "example.com" not in problem.reason


def test_duplicate_rows_import_once_and_never_mail_wins() -> None:
    text = MAILCHIMP_SUBSCRIBED + "ADA@example.com,Ada,L,2,2019-04-01 10:00:00,,,,,,,,,,,2020,1,abc,,\n"
    parsed = parse(text.encode(), "m.csv", now=NOW)
    assert [row.address for row in parsed.rows].count("ada@example.com") == 1
    assert [problem.row for problem in parsed.problems] == [5]
    both = (
        "email,subscribed_to_emails,created_at\n"
        "x@example.com,true,2022-01-01\n"
        "x@example.com,false,2022-01-01\n"  # unsubscribed later in the same file: that wins
    )
    parsed = parse(both.encode(), "g.csv", format="ghost", now=NOW)
    assert [row.status for row in parsed.rows] == ["unsubscribed"]


def test_bom_utf16_and_wrong_encodings() -> None:
    assert rows_by_address("\ufeff" + GHOST)["ada@example.com"].status == "subscribed"
    assert parse(GHOST.encode("utf-16"), "g.csv", now=NOW).format == "ghost"
    with pytest.raises(CsvFormatError, match="not UTF-8"):
        parse("email,subscribed_to_emails,created_at\nrené@example.com,true,2022-01-01\n".encode("latin-1"), "g")
    with pytest.raises(CsvFormatError, match="NUL"):
        parse(b"email,subscribed_to_emails\x00\n", "g.csv")
    with pytest.raises(CsvFormatError, match="empty"):
        parse(b"", "g.csv")
    with pytest.raises(CsvFormatError, match="repeats"):
        parse(b"email,email,subscribed_to_emails\n", "g.csv")


def test_a_huge_field_is_one_problem_and_the_rows_before_it_count() -> None:
    text = "email,subscribed_to_emails,created_at,note\n" + "a@example.com,true,2022-01-01,hi\n"
    text += "b@example.com,true,2022-01-01," + "x" * 200_000 + "\n"
    parsed = parse(text.encode(), "g.csv", format="ghost", now=NOW)
    assert [row.address for row in parsed.rows] == ["a@example.com"]
    assert len(parsed.problems) == 1 and parsed.problems[0].row == 3
    assert csv.field_size_limit() == 131072  # the process-wide limit is restored


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2_000))
def test_binary_junk_never_raises_anything_but_a_format_error(junk: bytes) -> None:
    try:
        parsed = parse(junk, "junk.csv", format="ghost", now=NOW)
    except CsvFormatError:
        return
    for problem in parsed.problems:
        assert problem.row >= 2


# --------------------------------------------------------------------------- export cells
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_a_cell_never_starts_a_formula_and_comes_back_exactly(value: str) -> None:
    cell = neutralize_cell(value)
    assert not cell.startswith(FORMULA_STARTS)
    assert restore_cell(cell) == value


def test_the_pressline_export_reads_back_with_status_tags_and_consent() -> None:
    from pressline.subscribers.imports import Consent, ExportedSubscriber

    consent = Consent(at=datetime(2019, 4, 1, 10, 5, tzinfo=UTC), how='=HYPERLINK("x")', source="@old.csv")
    written = [
        ExportedSubscriber(
            address="ada@example.com", status="confirmed", tags=("aws", "machine learning"), consent=consent
        ),
        ExportedSubscriber(address="-bob@example.com", status="pending", created_at=NOW),
        ExportedSubscriber(address="carol@example.com", status="confirmed", confirmed_at=NOW - timedelta(days=1)),
    ]
    text = "".join(export_csv(written))
    for row in csv.reader(io.StringIO(text)):
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row)
    rows = rows_by_address(text, "subscribers.csv")
    assert rows["ada@example.com"].consent == consent
    assert rows["ada@example.com"].tags == ("aws", "machine learning")
    assert rows["-bob@example.com"].status == "pending"
    carol = rows["carol@example.com"]
    assert carol.status == "subscribed" and carol.consent is not None and carol.consent.at == NOW - timedelta(days=1)


# --------------------------------------------------------------------------- decisions
ROW = ImportRow(row=2, address="a@example.com", status="subscribed")


@pytest.mark.parametrize(
    ("state", "status", "consented", "action"),
    [
        (ImportState(suppressed=True), "subscribed", True, "skip"),
        (ImportState(imported="invited"), "subscribed", True, "skip"),
        (ImportState(imported="unsubscribed"), "subscribed", True, "skip"),
        (ImportState(), "suppressed", False, "suppress"),
        (ImportState(confirmed=True), "suppressed", False, "suppress"),
        (ImportState(confirmed=True), "subscribed", True, "skip"),
        (ImportState(confirmed=True), "unsubscribed", False, "skip"),
        (ImportState(), "unsubscribed", False, "mark_left"),
        (ImportState(), "subscribed", True, "confirm"),
        (ImportState(pending=True), "subscribed", True, "confirm"),
        (ImportState(), "pending", False, "invite"),
        (ImportState(pending=True), "pending", False, "invite"),
    ],
)
def test_decide(state: ImportState, status: str, consented: bool, action: str) -> None:
    from pressline.subscribers.imports import Consent

    consent = Consent(at=NOW, how="x", source="y") if consented else None
    row = ROW.model_copy(update={"status": status, "consent": consent})
    assert decide(row, state).action == action


# --------------------------------------------------------------------------- applying
@pytest.fixture
def world(keys, site) -> tuple[MemoryRepository, MemoryMailer, Subscriptions]:  # type: ignore[no-untyped-def]
    repository, mailer = MemoryRepository(), MemoryMailer()
    subscriptions = Subscriptions(repository=repository, mailer=mailer, keys=keys, site=site, clock=FakeClock(NOW))
    return repository, mailer, subscriptions


def test_consented_rows_are_confirmed_the_rest_invited_once_and_unsubscribed_left_alone(world) -> None:  # type: ignore[no-untyped-def]
    repository, mailer, subscriptions = world
    for text, name in (
        (MAILCHIMP_SUBSCRIBED, "s.csv"),
        (MAILCHIMP_UNSUBSCRIBED, "u.csv"),
        (MAILCHIMP_CLEANED, "c.csv"),
    ):
        report = apply_import(parse(text.encode(), name, now=NOW), repository, subscriptions)
        assert not report.problems
    id_of = {
        name: subscriber_id(subscriptions.keys.id_key, f"{name}@example.com")
        for name in ["ada", "bob", "carol", "dan", "erin"]
    }
    assert repository.records[id_of["ada"]].subscriber.status == "confirmed"
    assert repository.records[id_of["ada"]].consent is not None
    assert repository.records[id_of["bob"]].subscriber.can_receive_posts
    assert id_of["carol"] not in repository.records  # pending until they click
    assert [email.recipient for email in mailer.sent] == ["carol@example.com"]
    assert id_of["dan"] not in repository.records and id_of["dan"] not in repository.suppressed
    assert id_of["erin"] in repository.suppressed
    # Everything again: nobody emailed twice, nothing changed.
    before = (dict(repository.records), dict(repository.imported), dict(repository.suppressed))
    for text, name in (
        (MAILCHIMP_SUBSCRIBED, "s.csv"),
        (MAILCHIMP_UNSUBSCRIBED, "u.csv"),
        (MAILCHIMP_CLEANED, "c.csv"),
    ):
        again = apply_import(parse(text.encode(), name, now=NOW), repository, subscriptions)
        assert set(again.counts) == {"skipped"}
    assert len(mailer.sent) == 1
    assert (dict(repository.records), dict(repository.imported), dict(repository.suppressed)) == before


def test_someone_who_unsubscribed_after_an_import_is_not_subscribed_again(world) -> None:  # type: ignore[no-untyped-def]
    repository, _, subscriptions = world
    apply_import(parse(GHOST.encode(), "g.csv", now=NOW), repository, subscriptions)
    sid = subscriber_id(subscriptions.keys.id_key, "ada@example.com")
    assert repository.delete(sid)  # the unsubscribe link
    report = apply_import(parse(GHOST.encode(), "g.csv", now=NOW), repository, subscriptions)
    assert sid not in repository.records and report.counts["confirmed"] == 0


def test_a_suppressed_address_is_never_subscribed_nor_emailed(world) -> None:  # type: ignore[no-untyped-def]
    repository, mailer, subscriptions = world
    for name in ("ada", "carol"):
        repository.suppress(subscriber_id(subscriptions.keys.id_key, f"{name}@example.com"), "Bounce", NOW)
    apply_import(parse(MAILCHIMP_SUBSCRIBED.encode(), "s.csv", now=NOW), repository, subscriptions)
    assert not mailer.sent
    assert {record.subscriber.address for record in repository.records.values()} == {"bob@example.com"}


def test_a_dry_run_writes_and_sends_nothing(world) -> None:  # type: ignore[no-untyped-def]
    repository, mailer, subscriptions = world
    report = apply_import(
        parse(MAILCHIMP_SUBSCRIBED.encode(), "s.csv", now=NOW), repository, subscriptions, dry_run=True
    )
    assert report.counts == {"confirmed": 2, "invited": 1}
    assert "would be confirmed" in report.summary()
    assert not mailer.sent and not repository.records and not repository.imported and not repository.requests


def invitation_file(count: int) -> bytes:
    return (
        "email,subscribed_to_emails,created_at\n" + "".join(f"r{n}@example.org,true,\n" for n in range(count))
    ).encode()


def test_invitations_are_paced_and_stop_at_the_quota_then_resume(world) -> None:  # type: ignore[no-untyped-def]
    repository, mailer, subscriptions = world
    slept: list[float] = []
    pace = Pace(interval=0.5, budget=3, sleep=slept.append)
    first = apply_import(parse(invitation_file(5), "g.csv", now=NOW), repository, subscriptions, pace=pace)
    assert first.counts == {"invited": 3, "deferred": 2} and first.stopped
    assert slept == [0.5, 0.5]  # between sends, not before the first
    second = apply_import(parse(invitation_file(5), "g.csv", now=NOW), repository, subscriptions, pace=Pace())
    assert second.counts == {"skipped": 3, "invited": 2}
    assert sorted(email.recipient for email in mailer.sent) == sorted(f"r{n}@example.org" for n in range(5))


def test_the_sign_up_limits_defer_invitations(keys, site) -> None:  # type: ignore[no-untyped-def]
    repository, mailer = MemoryRepository(), MemoryMailer()
    limits = SignupLimits(overall=Limit(2, timedelta(hours=1)))
    subscriptions = Subscriptions(
        repository=repository, mailer=mailer, keys=keys, site=site, clock=FakeClock(NOW), limits=limits
    )
    report = apply_import(parse(invitation_file(4), "g.csv", now=NOW), repository, subscriptions)
    assert report.counts == {"invited": 2, "deferred": 2}
    assert report.stopped and "sign-up limit" in report.stopped
    assert len(repository.imported) == 2  # the deferred ones carry no marker: the next run sends them


def test_a_throttled_send_defers_the_rest_and_is_not_marked(world) -> None:  # type: ignore[no-untyped-def]
    repository, mailer, subscriptions = world
    mailer.throttle = True
    report = apply_import(parse(invitation_file(3), "g.csv", now=NOW), repository, subscriptions)
    assert report.counts == {"deferred": 3} and not repository.imported
    mailer.throttle = False
    assert apply_import(parse(invitation_file(3), "g.csv", now=NOW), repository, subscriptions).counts == {"invited": 3}


def test_a_consent_ip_that_is_no_ip_address_is_not_kept() -> None:
    text = MAILCHIMP_SUBSCRIBED.replace("2019-04-01 10:05:00,198.51.100.7", "2019-04-01 10:05:00,=HYPERLINK(1)")
    consent = rows_by_address(text)["ada@example.com"].consent
    assert consent is not None and consent.how == "double opt-in confirmed on Mailchimp"


# Any text, control characters and formula starts included (the consent record is kept as one line).
_cell_text = st.text(st.one_of(st.characters(), st.sampled_from("\x00\r\n\t=+-@'\"")), min_size=1, max_size=30)
_exported = st.builds(
    ExportedSubscriber,
    address=st.sampled_from(["a@example.com", "-b@example.com", "=c@example.com", "+d@example.org", "@e@x.com"]),
    status=st.sampled_from(["confirmed", "pending"]),
    tags=st.lists(st.sampled_from(["aws", "machine learning", "=sum(1)", "café"]), unique=True, max_size=3).map(
        lambda tags: tuple(sorted(tags))
    ),
    consent=st.one_of(
        st.none(),
        st.builds(
            Consent,
            at=st.datetimes(max_value=datetime(2026, 1, 1), timezones=st.just(UTC)),
            how=_cell_text.filter(lambda text: bool(text.strip())),
            source=_cell_text.filter(lambda text: bool(text.strip())),
        ),
    ),
)


@settings(max_examples=100, deadline=None)
@given(_exported)
def test_any_exported_subscriber_reads_back_as_it_was(subscriber: ExportedSubscriber) -> None:
    text = "".join(export_csv([subscriber]))
    for row in csv.reader(io.StringIO(text)):
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row)
    parsed = parse(text.encode(), "subscribers.csv", now=NOW)
    if subscriber.address == "@e@x.com":  # no address: reported, never imported
        assert not parsed.rows and len(parsed.problems) == 1
        return
    assert not parsed.problems
    (row,) = parsed.rows
    assert row.address == subscriber.address and row.tags == subscriber.tags
    if subscriber.status == "confirmed" and subscriber.consent is not None:
        assert row.status == "subscribed" and row.consent == subscriber.consent
    else:
        assert row.status == "pending" and row.consent is None
