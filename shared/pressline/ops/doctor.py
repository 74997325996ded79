"""``pressline doctor``: are the sending domain's DNS records there, and right? (issue 15)

Gmail and Yahoo want bulk mail authenticated: SPF at the MAIL FROM domain, DKIM signatures,
and a DMARC record at the sending domain that they align with. SES signs and sends; the
records are the operator's to create, at their DNS provider. This command reads what to expect
and asks DNS for each record, sending nothing:

- the stack's ``EmailDnsRecords`` output (template.yaml: the three DKIM CNAMEs with SES's
  tokens, the MAIL FROM domain's MX and SPF, and DMARC), or
- ``--domain D``: the DKIM tokens and MAIL FROM domain from SES (v2 ``GetEmailIdentity``; moto
  5.2.5 answers it but gives neither, which the output then says).

What counts as right: each DKIM name is a CNAME to SES's value; the MAIL FROM domain has an MX
to SES's feedback host and exactly one SPF record, which includes ``amazonses.com``; the domain
has exactly one DMARC record with a policy (any of none, quarantine, reject: a stricter policy
than the one suggested is the operator's choice). Exit status 0 when every record is right, 1
when one is missing or wrong (each is named with what to create), 2 for a usage error.

DNS goes through a ``Resolver`` (one method); the real one is dnspython's (the ``doctor``
extra; email-validator already brings it), tests give a fake.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

OUTPUT = "EmailDnsRecords"
SEPARATOR = " | "  # between the output's zone-file lines (template.yaml)
SES_SPF_INCLUDE = "include:amazonses.com"
DMARC_POLICIES = ("none", "quarantine", "reject")

Kind = Literal["dkim", "mail-from-mx", "spf", "dmarc"]
Verdict = Literal["ok", "missing", "wrong", "unknown"]


class LookupFailed(Exception):
    """Raised by a resolver when DNS gave no answer at all (timeout, SERVFAIL): not 'missing'."""


class Resolver(Protocol):
    def lookup(self, name: str, rtype: str) -> list[str]:
        """The record data of ``name``'s ``rtype`` records as text (CNAME/MX targets as written,
        a TXT record's strings joined); [] when the name or the type does not exist."""
        ...


@dataclass(frozen=True)
class Expected:
    """A record the domain needs: ``kind`` says how an answer is judged."""

    kind: Kind
    name: str
    rtype: str
    value: str
    line: str  # the zone-file line to create, ready to paste

    @classmethod
    def of(cls, kind: Kind, name: str, rtype: str, value: str, data: str | None = None) -> Expected:
        data = data or (f'"{value}"' if rtype == "TXT" else f"{value}.")
        return cls(kind, name, rtype, value, f"{name}. {rtype} {data}")


@dataclass(frozen=True)
class Finding:
    expected: Expected
    verdict: Verdict
    detail: str


class DoctorError(ValueError):
    """Raised when there is nothing to check: no domain, or an output this command cannot read."""


def _host(value: str) -> str:
    return value.strip().rstrip(".").lower()


def parse_output(value: str) -> list[Expected]:
    """The records of an ``EmailDnsRecords`` output (zone-file lines separated by `` | ``)."""
    if not value.strip() or value.strip().startswith("none"):
        raise DoctorError(
            f"the stack has no sending domain ({OUTPUT}: {value.strip() or 'empty'}); deploy with"
            " EmailDomain, or give --domain"
        )
    records = []
    for line in value.split(SEPARATOR):
        parts = line.strip().split(None, 2)
        if len(parts) != 3:
            raise DoctorError(f"{OUTPUT}: {line.strip()!r} is not 'name TYPE value'")
        name, rtype, data = _host(parts[0]), parts[1].upper(), parts[2].strip()
        if rtype == "CNAME":
            records.append(Expected.of("dkim", name, rtype, _host(data), data))
        elif rtype == "MX":
            records.append(Expected.of("mail-from-mx", name, rtype, _host(data.split()[-1]), data))
        elif rtype == "TXT" and data.strip('"').startswith("v=spf1"):
            records.append(Expected.of("spf", name, rtype, data.strip('"'), data))
        elif rtype == "TXT" and data.strip('"').startswith("v=DMARC1"):
            records.append(Expected.of("dmarc", name, rtype, data.strip('"'), data))
        else:
            raise DoctorError(f"{OUTPUT}: {line.strip()!r} is not a record this command knows")
    return records


Note = tuple[Verdict, str]  # a check that is not a DNS record's: its verdict and one line


def from_identity(domain: str, identity: dict[str, Any], region: str) -> tuple[list[Expected], list[Note]]:
    """The records SES's ``GetEmailIdentity`` answer implies, and what it left unknown."""
    domain = _host(domain)
    records: list[Expected] = []
    unknown: list[Note] = []
    tokens = (identity.get("DkimAttributes") or {}).get("Tokens") or []
    if not tokens:
        unknown.append(
            ("unknown", f"SES gave no DKIM tokens for {domain} (GetEmailIdentity): the DKIM records are not checked")
        )
    records += [
        Expected.of("dkim", f"{token}._domainkey.{domain}", "CNAME", f"{token}.dkim.amazonses.com") for token in tokens
    ]
    mail_from = _host((identity.get("MailFromAttributes") or {}).get("MailFromDomain") or "")
    if mail_from:
        host = f"feedback-smtp.{region}.amazonses.com"
        records.append(Expected.of("mail-from-mx", mail_from, "MX", host, f"10 {host}."))
        records.append(Expected.of("spf", mail_from, "TXT", f"v=spf1 {SES_SPF_INCLUDE} ~all"))
    else:
        unknown.append(("unknown", f"SES names no MAIL FROM domain for {domain}: its MX and SPF are not checked"))
    records.append(Expected.of("dmarc", f"_dmarc.{domain}", "TXT", "v=DMARC1; p=none"))
    return records, unknown


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            tags[key.strip().lower()] = value.strip()
    return tags


def judge(expected: Expected, answers: list[str]) -> Finding:
    """Whether DNS's ``answers`` for ``expected.name`` / ``rtype`` satisfy it (pure)."""
    if expected.kind == "dkim":
        found = {_host(answer) for answer in answers}
        if not found:
            return Finding(
                expected,
                "missing",
                "no CNAME: SES verifies DKIM once all three are there; until then mail is not signed for the domain",
            )
        if expected.value not in found:
            return Finding(expected, "wrong", f"points at {', '.join(sorted(found))}")
        return Finding(expected, "ok", "")
    if expected.kind == "mail-from-mx":
        hosts = {_host(answer.split()[-1]) for answer in answers if answer.split()}
        if not hosts:
            return Finding(
                expected, "missing", "no MX: SES falls back to amazonses.com's MAIL FROM (SPF does not align)"
            )
        if expected.value not in hosts:
            return Finding(expected, "wrong", f"MX is {', '.join(sorted(hosts))}")
        return Finding(expected, "ok", "")
    prefix = "v=spf1" if expected.kind == "spf" else "v=dmarc1"
    records = [answer.strip() for answer in answers if answer.strip().lower().split(";")[0].split(" ")[0] == prefix]
    if not records:
        return Finding(expected, "missing", f"no {'SPF' if expected.kind == 'spf' else 'DMARC'} record")
    if len(records) > 1:
        # RFC 7208 4.5 and RFC 7489 6.6.3: more than one record is an error, as if there were none.
        return Finding(expected, "wrong", f"{len(records)} records, where receivers take exactly one: keep one")
    record = records[0]
    if expected.kind == "spf":
        if SES_SPF_INCLUDE not in record.lower().split():
            return Finding(expected, "wrong", f"{record!r} does not include amazonses.com")
        return Finding(expected, "ok", "")
    policy = _tags(record).get("p", "").lower()
    if policy not in DMARC_POLICIES:
        return Finding(expected, "wrong", f"{record!r} has no policy (p=none, quarantine or reject)")
    return Finding(expected, "ok", f"p={policy}")


def examine(records: list[Expected], resolver: Resolver) -> list[Finding]:
    findings = []
    for expected in records:
        try:
            answers = resolver.lookup(expected.name, expected.rtype)
        except LookupFailed as error:
            findings.append(Finding(expected, "unknown", f"DNS did not answer ({error})"))
            continue
        findings.append(judge(expected, answers))
    return findings


def sender_alignment(sender: str, domain: str) -> Note:
    """DMARC passes only when the From address's domain is the DKIM/SPF domain or under it
    (relaxed alignment): SenderEmail must be at EmailDomain for the identity to count."""
    at = _host(sender.rpartition("@")[2])
    if at == domain or at.endswith(f".{domain}"):
        return ("ok", f"sender       {sender} is at {domain} (DMARC aligns)")
    return (
        "wrong",
        f"sender       SenderEmail {sender} is not at {domain}: DMARC fails; deploy with SenderEmail at {domain}",
    )


def report(findings: list[Finding], notes: list[Note]) -> tuple[str, int]:
    """The text to print and the exit status (0: every record is right)."""
    lines = []
    for finding in findings:
        mark = {"ok": "ok     ", "missing": "MISSING", "wrong": "WRONG  ", "unknown": "UNKNOWN"}[finding.verdict]
        what = {"dkim": "DKIM", "mail-from-mx": "MAIL FROM MX", "spf": "SPF", "dmarc": "DMARC"}[finding.expected.kind]
        detail = f": {finding.detail}" if finding.detail else ""
        lines.append(f"{mark} {what:<12} {finding.expected.name} {finding.expected.rtype}{detail}")
    marks = {"ok": "ok     ", "missing": "MISSING", "wrong": "WRONG  ", "unknown": "UNKNOWN"}
    lines += [f"{marks[verdict]} {text}" for verdict, text in notes]
    bad = [finding for finding in findings if finding.verdict != "ok"]
    if bad:
        lines += ["", "Create or fix at your DNS provider:", *(f"  {finding.expected.line}" for finding in bad)]
    problems = len(bad) + sum(verdict != "ok" for verdict, _ in notes)
    lines += ["", "All records are in place." if not problems else f"{problems} problem(s)."]
    return "\n".join(lines) + "\n", 0 if not problems else 1


class DnsPythonResolver:
    """DNS through dnspython: the system's resolvers (or ``nameservers`` on ``port``), 5 s a query."""

    def __init__(self, timeout: float = 5.0, nameservers: list[str] | None = None, port: int = 53) -> None:
        try:
            import dns.resolver
        except ImportError:  # pragma: no cover - email-validator depends on it
            raise DoctorError("dnspython is not installed: pip install 'pressline[doctor]'") from None
        try:
            self._resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration as error:
            raise DoctorError(f"no DNS resolver configured on this machine ({error})") from None
        self._resolver.lifetime = timeout
        if nameservers:
            self._resolver.nameservers, self._resolver.port = nameservers, port

    def lookup(self, name: str, rtype: str) -> list[str]:
        import dns.exception
        import dns.resolver

        try:
            answer = self._resolver.resolve(name, rtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []  # no such name: the record is missing
        except dns.exception.DNSException as error:  # timeouts, SERVFAIL from every server: no verdict
            raise LookupFailed(str(error) or type(error).__name__) from None
        if rtype == "TXT":
            return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
        return [record.to_text() for record in answer]


# --------------------------------------------------------------------------- the command
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check the sending domain's DNS records (DKIM, MAIL FROM MX and SPF, DMARC) and say what is missing;"
        " sends nothing. Exit status: 0 all in place, 1 something missing or wrong, 2 a usage error."
    )
    parser.add_argument("--stack-name", default=None, help="a deployed stack: read its EmailDnsRecords output")
    parser.add_argument(
        "--outputs", type=Path, default=None, help="stack outputs JSON (pressline local writes .local/outputs.json)"
    )
    parser.add_argument(
        "--domain", default=None, help="check this domain, with its DKIM tokens and MAIL FROM domain from SES"
    )


def expected_records(args: argparse.Namespace) -> tuple[list[Expected], list[Note]]:
    if args.domain:
        from botocore.exceptions import ClientError

        from pressline.adapters.aws import client

        sesv2 = client("sesv2")
        try:
            identity = sesv2.get_email_identity(EmailIdentity=args.domain)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFoundException":
                raise
            raise DoctorError(f"SES has no identity {args.domain} in {sesv2.meta.region_name}") from None
        return from_identity(args.domain, identity, sesv2.meta.region_name)
    # The outputs, and the functions' settings for the sender (as `pressline status` reads them).
    from pressline.ops.status import StackNotFound, stack_inputs

    try:
        outputs, environment, unread = stack_inputs(args)
    except StackNotFound:
        raise DoctorError(f"no stack named {args.stack_name!r} here") from None
    if OUTPUT not in outputs:
        raise DoctorError(
            f"no {OUTPUT} output to read: give --stack-name (a stack deployed with EmailDomain), --local, or --domain"
        )
    records = parse_output(outputs[OUTPUT])
    domain = next(record.name.removeprefix("_dmarc.") for record in records if record.kind == "dmarc")
    sender = environment.get("SENDER_EMAIL")
    if sender:
        return records, [sender_alignment(sender, domain)]
    return records, [("unknown", f"sender       SenderEmail is not known here ({unread or 'no function settings'})")]


def run(args: argparse.Namespace, resolver: Resolver | None = None) -> int:
    try:
        records, unknown = expected_records(args)
        text, status = report(examine(records, resolver or DnsPythonResolver()), unknown)
    except DoctorError as error:
        print(f"pressline doctor: {error}", file=sys.stderr)
        return 2
    print(text, end="")
    return status
