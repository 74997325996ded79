"""`pressline doctor` against a fake resolver: every record of the sending domain judged (DKIM
CNAMEs, the MAIL FROM MX and SPF, DMARC), what is missing or wrong named with the line to
create, exit 1 then and 0 when all is right; nothing is sent. The records come from the
stack's EmailDnsRecords output (here an outputs file, as `pressline local --outputs` writes) or
from SES for `--domain` (moto answers GetEmailIdentity without DKIM tokens, which is said)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pressline import cli
from pressline.ops import doctor

DOMAIN = "example.com"
TOKENS = ("tok1abc", "tok2def", "tok3ghi")
OUTPUT = " | ".join(
    [
        *(f"{t}._domainkey.{DOMAIN}. CNAME {t}.dkim.amazonses.com." for t in TOKENS),
        f"mail.{DOMAIN}. MX 10 feedback-smtp.eu-west-1.amazonses.com.",
        f'mail.{DOMAIN}. TXT "v=spf1 include:amazonses.com ~all"',
        f'_dmarc.{DOMAIN}. TXT "v=DMARC1; p=none; rua=mailto:dmarc@{DOMAIN}"',
    ]
)


def correct_zone() -> dict[tuple[str, str], list[str]]:
    """DNS as it should be: what a resolver answers once every record was created."""
    zone = {(f"{t}._domainkey.{DOMAIN}", "CNAME"): [f"{t}.dkim.amazonses.com."] for t in TOKENS}
    zone[(f"mail.{DOMAIN}", "MX")] = ["10 feedback-smtp.eu-west-1.amazonses.com."]
    zone[(f"mail.{DOMAIN}", "TXT")] = ["v=spf1 include:amazonses.com ~all"]
    zone[(f"_dmarc.{DOMAIN}", "TXT")] = ["v=DMARC1; p=quarantine; rua=mailto:reports@elsewhere.example"]
    return zone


class FakeResolver:
    def __init__(self, zone: dict[tuple[str, str], list[str]], failing: set[str] | None = None) -> None:
        self.zone = zone
        self.failing = failing or set()
        self.asked: list[tuple[str, str]] = []

    def lookup(self, name: str, rtype: str) -> list[str]:
        self.asked.append((name, rtype))
        if name in self.failing:
            raise doctor.LookupFailed("timed out")
        return list(self.zone.get((name, rtype), []))


def write_stack(tmp_path: Path, sender: str = f"news@{DOMAIN}") -> Path:
    """An outputs file and the functions' settings beside it, as `pressline local` writes them."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"EmailDnsRecords": OUTPUT, "SourceBucketName": "source"}), encoding="utf-8")
    functions = {"SubscriptionsFunction": {"environment": {"SENDER_EMAIL": sender}}}
    (tmp_path / "outputs.functions.json").write_text(json.dumps(functions), encoding="utf-8")
    return path


@pytest.fixture
def outputs_file(tmp_path: Path) -> Path:
    return write_stack(tmp_path)


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeResolver]:
    """The command's DNS: the fake, in place of dnspython's."""
    fake = FakeResolver(correct_zone())
    monkeypatch.setattr(doctor, "DnsPythonResolver", lambda: fake)
    yield fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["doctor", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_every_record_in_place_exits_0_and_asks_dns_for_each(
    outputs_file: Path, resolver: FakeResolver, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "--outputs", str(outputs_file))
    assert status == 0, out
    assert out.count("ok ") == 7 and "All records are in place." in out
    assert "ok      sender       news@example.com is at example.com (DMARC aligns)" in out
    assert "p=quarantine" in out  # a stricter DMARC policy than suggested is right too
    assert sorted(resolver.asked) == sorted(correct_zone())


@pytest.mark.parametrize(
    ("broken", "answer", "said"),
    [
        ((f"tok2def._domainkey.{DOMAIN}", "CNAME"), [], "MISSING DKIM         tok2def._domainkey.example.com CNAME"),
        ((f"tok1abc._domainkey.{DOMAIN}", "CNAME"), ["other.example.net."], "points at other.example.net"),
        ((f"mail.{DOMAIN}", "MX"), [], "MISSING MAIL FROM MX mail.example.com MX"),
        ((f"mail.{DOMAIN}", "MX"), ["10 mx.provider.example."], "MX is mx.provider.example"),
        ((f"mail.{DOMAIN}", "TXT"), ["google-site-verification=abc"], "MISSING SPF          mail.example.com TXT"),
        ((f"mail.{DOMAIN}", "TXT"), ["v=spf1 mx -all"], "does not include amazonses.com"),
        ((f"mail.{DOMAIN}", "TXT"), ["v=spf1 include:amazonses.com ~all", "v=spf1 mx ~all"], "2 records"),
        ((f"_dmarc.{DOMAIN}", "TXT"), [], "MISSING DMARC        _dmarc.example.com TXT"),
        ((f"_dmarc.{DOMAIN}", "TXT"), ["v=DMARC1; rua=mailto:a@example.com"], "has no policy"),
    ],
)
def test_a_missing_or_wrong_record_is_named_with_the_line_to_create(
    outputs_file: Path,
    resolver: FakeResolver,
    capsys: pytest.CaptureFixture[str],
    broken: tuple[str, str],
    answer: list[str],
    said: str,
) -> None:
    resolver.zone[broken] = answer
    status, out, _ = run(capsys, "--outputs", str(outputs_file))
    assert status == 1
    assert said in out and "1 problem(s)." in out
    (line,) = [
        line.strip() for line in out.split("Create or fix at your DNS provider:")[1].splitlines() if line.strip()
    ][:1]
    name, rtype = broken
    assert line.startswith(f"{name}. {rtype} ")  # the line from the output, ready to paste
    assert line in OUTPUT.split(" | ")


def test_an_unanswered_query_is_unknown_not_missing(
    outputs_file: Path, resolver: FakeResolver, capsys: pytest.CaptureFixture[str]
) -> None:
    resolver.failing.add(f"_dmarc.{DOMAIN}")
    status, out, _ = run(capsys, "--outputs", str(outputs_file))
    assert status == 1 and "UNKNOWN DMARC        _dmarc.example.com TXT: DNS did not answer (timed out)" in out


def test_a_stack_without_a_sending_domain_is_a_usage_error(
    tmp_path: Path, resolver: FakeResolver, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"EmailDnsRecords": "none: no EmailDomain (emails go from SenderEmail)"}))
    status, out, err = run(capsys, "--outputs", str(path))
    assert status == 2 and out == "" and "no sending domain" in err and "EmailDomain" in err
    path.write_text(json.dumps({"SourceBucketName": "source"}))  # a stack from before issue 15
    status, _, err = run(capsys, "--outputs", str(path))
    assert status == 2 and "no EmailDnsRecords output" in err
    assert resolver.asked == []


def test_domain_reads_the_identity_from_ses_and_says_what_moto_leaves_out(
    monkeypatch: pytest.MonkeyPatch, resolver: FakeResolver, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from moto import mock_aws

    from pressline.adapters.aws import reset_clients

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .local/outputs.json here: the command reads SES only
    with mock_aws():
        reset_clients()
        import boto3

        boto3.client("sesv2", region_name="eu-west-1").create_email_identity(
            EmailIdentity=DOMAIN, DkimSigningAttributes={"NextSigningKeyLength": "RSA_2048_BIT"}
        )
        status, out, _ = run(capsys, "--domain", DOMAIN, "--region", "eu-west-1")
        missing, _, err = run(capsys, "--domain", "other.example", "--region", "eu-west-1")
    reset_clients()
    # moto 5.2.5's GetEmailIdentity has no DKIM tokens and no MAIL FROM: DMARC alone is checked.
    assert status == 1
    assert "UNKNOWN SES gave no DKIM tokens for example.com" in out
    assert "UNKNOWN SES names no MAIL FROM domain" in out
    assert "ok      DMARC        _dmarc.example.com TXT" in out
    assert missing == 2 and "SES has no identity other.example in eu-west-1" in err


def test_the_identity_s_tokens_and_mail_from_give_the_records_of_the_output() -> None:
    identity = {
        "DkimAttributes": {"Tokens": list(TOKENS), "SigningEnabled": True},
        "MailFromAttributes": {"MailFromDomain": f"mail.{DOMAIN}"},
    }
    records, unknown = doctor.from_identity(DOMAIN, identity, "eu-west-1")
    assert unknown == []
    from_output = doctor.parse_output(OUTPUT)
    # The same names and types to check, whichever way they were learnt (DMARC's value may differ).
    assert [(r.kind, r.name, r.rtype) for r in records] == [(r.kind, r.name, r.rtype) for r in from_output]
    findings = doctor.examine(records, FakeResolver(correct_zone()))
    assert [f.verdict for f in findings] == ["ok"] * 6


@pytest.mark.parametrize(
    ("sender", "aligned"),
    [
        ("news@example.com", True),
        ("news@mail.example.com", True),
        ("news@gmail.com", False),
        ("a@badexample.com", False),
    ],
)
def test_the_sender_must_be_at_the_domain_for_dmarc(
    tmp_path: Path, resolver: FakeResolver, capsys: pytest.CaptureFixture[str], sender: str, aligned: bool
) -> None:
    status, out, _ = run(capsys, "--outputs", str(write_stack(tmp_path, sender)))
    assert status == (0 if aligned else 1), out
    if not aligned:
        assert f"WRONG   sender       SenderEmail {sender} is not at example.com: DMARC fails" in out


@pytest.fixture
def dns_server() -> Iterator[int]:
    """A DNS server on 127.0.0.1 answering from correct_zone() (UDP, one thread): what the fake
    resolver stands for, spoken in the wire protocol."""
    import socket
    import threading

    import dns.message
    import dns.rcode
    import dns.rrset

    zone = correct_zone()
    zone[(f"split.{DOMAIN}", "TXT")] = ['"v=spf1 include:amazon" "ses.com ~all"']  # one record, two strings
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, client = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name, rtype = question.name.to_text().rstrip("."), dns.rdatatype.to_text(question.rdtype)
            answers = zone.get((name, rtype))
            if answers:
                texts = [a if rtype != "TXT" or a.startswith('"') else f'"{a}"' for a in answers]
                response.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", rtype, texts))
            elif not any(key[0] == name for key in zone):
                response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), client)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(sock.getsockname()[1])
    stop.set()
    thread.join()
    sock.close()


def test_the_dnspython_resolver_answers_as_the_fake_does(dns_server: int) -> None:
    real = doctor.DnsPythonResolver(timeout=2, nameservers=["127.0.0.1"], port=dns_server)
    fake = FakeResolver(correct_zone())
    records = doctor.parse_output(OUTPUT)
    assert [f.verdict for f in doctor.examine(records, real)] == ["ok"] * 6
    for record in records:
        real_answer, fake_answer = real.lookup(record.name, record.rtype), fake.lookup(record.name, record.rtype)
        assert [doctor._host(a) for a in real_answer] == [doctor._host(a) for a in fake_answer], record.line
    assert real.lookup(f"nothing.{DOMAIN}", "TXT") == []  # NXDOMAIN: missing, not an error
    assert real.lookup(f"mail.{DOMAIN}", "CNAME") == []  # the name exists, not that type
    assert real.lookup(f"split.{DOMAIN}", "TXT") == ["v=spf1 include:amazonses.com ~all"]  # strings joined
