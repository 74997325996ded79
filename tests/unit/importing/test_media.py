"""media: downloads against an HTTP server on 127.0.0.1 started here. Allowed only with
--allow-local and an allow-listed host; refused otherwise, and for every other scheme, a
redirect to a host or scheme not allowed, too many redirects, too many bytes, too slow a
server, and bytes that are not an image whatever the name. The address connected to is the
one checked (a name that no DNS knows still reaches the test server through the resolver
that checked it), every address of a name is checked, and each URL is downloaded once and
kept for the next run. ``--connect-to`` (curl's) sends a host's requests to another address,
and refuses everything it refused before: the allow-list is of the URL's host, and the
address it names is checked like any DNS answer."""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pressline.cli import main
from pressline.importing.media import (
    ConnectTo,
    Downloader,
    DownloadError,
    DownloadPolicy,
    download,
    refused_address,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


class Server:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Host", "")))
                route = self.path.split("?")[0]
                if route in ("/ok.png", "/photo.jpg.png"):
                    self._send(200, PNG)
                elif route == "/svg.png":
                    self._send(200, SVG, "image/png")
                elif route == "/html.png":
                    self._send(200, b"<!doctype html><script>alert(1)</script>", "image/png")
                elif route == "/declared-big.png":
                    self._send(200, PNG + b"\x00" * 5000)
                elif route == "/streamed-big.png":
                    self.send_response(200)
                    self.end_headers()  # no Content-Length: read until the limit
                    self.wfile.write(PNG + b"\x00" * 5000)
                elif route == "/slow.png":
                    server.release.wait(10)
                    self._send(200, PNG)
                elif route == "/drip.png":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(PNG)))
                    self.end_headers()
                    for byte in PNG:
                        if server.release.wait(0.05):
                            break
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                elif route.startswith("/hops/"):
                    left = int(route.rsplit("/", 1)[1])
                    self._redirect("/ok.png" if left == 0 else f"/hops/{left - 1}")
                elif route == "/to-other-host":
                    self._redirect(f"http://elsewhere.test:{server.port}/ok.png")
                elif route == "/to-file":
                    self._redirect("file:///etc/passwd")
                elif route == "/to-localhost":
                    self._redirect(f"http://localhost:{server.port}/ok.png")
                else:
                    self._send(404, b"not found", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str = "image/png") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


LOCAL = DownloadPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_local=True, timeout=5)


def test_an_allowed_local_download(server: Server) -> None:
    got = download(server.url("/ok.png"), LOCAL)
    assert (got.data, got.content_type) == (PNG, "image/png")
    assert server.requests == [("/ok.png", f"127.0.0.1:{server.port}")]


def test_loopback_is_refused_without_allow_local(server: Server) -> None:
    policy = DownloadPolicy(allowed_hosts=frozenset({"127.0.0.1"}))
    with pytest.raises(DownloadError, match=r"loopback address .*--allow-local"):
        download(server.url("/ok.png"), policy)
    assert server.requests == []


def test_a_host_not_on_the_allow_list_is_refused(server: Server) -> None:
    policy = DownloadPolicy(allowed_hosts=frozenset({"old.example"}), allow_local=True)
    with pytest.raises(DownloadError, match=r"not in the allow-list .*--allow-host 127\.0\.0\.1"):
        download(server.url("/ok.png"), policy)
    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1/ok.png", "gopher://127.0.0.1/", "javascript:alert(1)", "//127.0.0.1/x"],
)
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(DownloadError, match="only http and https"):
        download(url, LOCAL)


def test_credentials_in_the_url_are_refused(server: Server) -> None:
    with pytest.raises(DownloadError, match="user name"):
        download(f"http://user:pw@127.0.0.1:{server.port}/ok.png", LOCAL)


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/to-other-host", "elsewhere.test, which is not in the allow-list"), ("/to-file", "only http and https")],
)
def test_a_redirect_is_checked_by_the_same_rules(server: Server, path: str, reason: str) -> None:
    with pytest.raises(DownloadError, match=reason):
        download(server.url(path), LOCAL)
    assert [request[0] for request in server.requests] == [path]


def test_a_redirect_to_a_local_name_is_checked_too(server: Server) -> None:
    policy = DownloadPolicy(allowed_hosts=frozenset({"127.0.0.1", "localhost"}), allow_local=False)
    # The first hop itself is loopback: refused before anything is sent.
    with pytest.raises(DownloadError, match="loopback"):
        download(server.url("/to-localhost"), policy)
    assert server.requests == []


def test_at_most_three_redirects(server: Server) -> None:
    assert download(server.url("/hops/2"), LOCAL).data == PNG  # /hops/N answers N + 1 redirects
    server.requests.clear()
    with pytest.raises(DownloadError, match="redirects more than 3 times"):
        download(server.url("/hops/3"), LOCAL)
    assert len(server.requests) == 4  # the fourth redirect is not followed


@pytest.mark.parametrize("path", ["/declared-big.png", "/streamed-big.png"])
def test_too_many_bytes_are_refused(server: Server, path: str) -> None:
    policy = DownloadPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_local=True, max_bytes=1000)
    with pytest.raises(DownloadError, match="limit for images"):
        download(server.url(path), policy)


@pytest.mark.parametrize("path", ["/slow.png", "/drip.png"])
def test_a_slow_server_times_out(server: Server, path: str) -> None:
    policy = DownloadPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_local=True, timeout=0.3)
    with pytest.raises(DownloadError, match="timed out"):
        download(server.url(path), policy)


@pytest.mark.parametrize("path", ["/svg.png", "/html.png"])
def test_only_image_bytes_whatever_the_name(server: Server, path: str) -> None:
    with pytest.raises(DownloadError, match="not a PNG, JPEG, GIF or WebP"):
        download(server.url(path), LOCAL)


def test_an_error_status_is_a_failure(server: Server) -> None:
    with pytest.raises(DownloadError, match="404"):
        download(server.url("/missing.png"), LOCAL)


def test_the_checked_address_is_the_one_connected_to(server: Server) -> None:
    # images.test is in no DNS: the download reaches the server only through the address the
    # resolver gave and the policy checked, with the name as the Host.
    policy = DownloadPolicy(allowed_hosts=frozenset({"images.test"}), allow_local=True)
    got = download(f"http://images.test:{server.port}/ok.png", policy, resolver=lambda host, port: ["127.0.0.1"])
    assert got.data == PNG
    assert server.requests == [("/ok.png", f"images.test:{server.port}")]


def test_every_address_of_a_name_is_checked(server: Server) -> None:
    policy = DownloadPolicy(allowed_hosts=frozenset({"images.test"}))
    with pytest.raises(DownloadError, match="loopback"):
        download(
            f"http://images.test:{server.port}/ok.png",
            policy,
            resolver=lambda host, port: ["93.184.216.34", "127.0.0.1"],
        )
    assert server.requests == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
        "169.254.169.254", "fe80::1", "fd00::1", "224.0.0.1", "ff02::1", "0.0.0.0", "::", "240.0.0.1",
        "100.64.0.1", "192.0.2.1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refused_address(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_are_fetched(address: str) -> None:
    assert refused_address(address) is None


def test_the_old_sites_host_is_allowed_with_or_without_www() -> None:
    policy = DownloadPolicy.for_site("https://www.Old.Example/blog/", ["cdn.example"])
    assert policy.allows_host("old.example") and policy.allows_host("www.old.example")
    assert policy.allows_host("CDN.example")
    assert not policy.allows_host("evil.example") and not policy.allows_host("old.example.evil.test")


def test_each_url_once_and_kept_for_the_next_run(server: Server, tmp_path: Path) -> None:
    first = Downloader(LOCAL, cache=tmp_path)
    assert first.get(server.url("/ok.png")).data == PNG
    assert first.get(server.url("/ok.png")).data == PNG
    with pytest.raises(DownloadError):
        first.get(server.url("/missing.png"))
    with pytest.raises(DownloadError):
        first.get(server.url("/missing.png"))
    assert [path for path, _ in server.requests] == ["/ok.png", "/missing.png"]
    assert first.downloaded == 1

    resumed = Downloader(LOCAL, cache=tmp_path)
    assert resumed.get(server.url("/ok.png")).data == PNG
    with pytest.raises(DownloadError):
        resumed.get(server.url("/missing.png"))  # a failure is tried again by the next run
    assert [path for path, _ in server.requests] == ["/ok.png", "/missing.png", "/missing.png"]
    assert (resumed.downloaded, resumed.cached) == (0, 1)


def test_a_dry_run_leaves_the_cache_alone(server: Server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    downloader = Downloader(LOCAL, cache=cache, write_cache=False)
    assert downloader.get(server.url("/ok.png")).data == PNG
    assert downloader.get(server.url("/ok.png")).data == PNG
    assert not cache.exists()
    assert len(server.requests) == 1


def test_a_cache_file_that_is_not_an_image_is_downloaded_again(server: Server, tmp_path: Path) -> None:
    Downloader(LOCAL, cache=tmp_path).get(server.url("/ok.png"))
    [kept] = list(tmp_path.iterdir())
    kept.write_bytes(SVG)
    assert Downloader(LOCAL, cache=tmp_path).get(server.url("/ok.png")).data == PNG
    assert len(server.requests) == 2


# --------------------------------------------------------------------------- --connect-to
def _old_site(
    server: Server, *, allow_local: bool = True, hosts: frozenset[str] = frozenset({"old.example"})
) -> DownloadPolicy:
    route = ConnectTo.parse(f"old.example:80:127.0.0.1:{server.port}")
    return DownloadPolicy(allowed_hosts=hosts, allow_local=allow_local, timeout=5, connect_to=(route,))


def test_connect_to_reaches_the_old_sites_files_under_the_old_sites_name(server: Server) -> None:
    # old.example is in no DNS (and the system resolver is asked for 127.0.0.1 only).
    got = download("http://old.example/ok.png", _old_site(server))
    assert got.data == PNG and got.url == "http://old.example/ok.png"
    assert server.requests == [("/ok.png", "old.example")]  # the Host is the URL's


def test_connect_to_follows_redirects_through_the_same_route(server: Server) -> None:
    assert download("http://old.example/hops/1", _old_site(server)).data == PNG
    assert server.requests == [("/hops/1", "old.example"), ("/hops/0", "old.example"), ("/ok.png", "old.example")]


def test_connect_to_a_local_address_still_needs_allow_local(server: Server) -> None:
    with pytest.raises(
        DownloadError, match=r"old\.example \(connected to 127\.0\.0\.1:\d+ by --connect-to\) resolves to a loopback"
    ):
        download("http://old.example/ok.png", _old_site(server, allow_local=False))
    assert server.requests == []


def test_connect_to_does_not_add_a_host_to_the_allow_list(server: Server) -> None:
    policy = _old_site(server, hosts=frozenset({"cdn.example"}))
    with pytest.raises(DownloadError, match=r"old\.example, which is not in the allow-list"):
        download("http://old.example/ok.png", policy)
    assert server.requests == []


def test_a_redirect_off_the_route_is_checked_as_ever(server: Server) -> None:
    # /to-other-host sends to elsewhere.test, neither allowed nor routed: refused, never resolved.
    with pytest.raises(DownloadError, match=r"elsewhere\.test, which is not in the allow-list"):
        download("http://old.example/to-other-host", _old_site(server))
    policy = _old_site(server, hosts=frozenset({"old.example", "localhost"}))
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    # /to-localhost names localhost on the server's port: no route applies, DNS is asked for it.
    assert download("http://old.example/to-localhost", policy, resolver).data == PNG
    assert asked == [("127.0.0.1", server.port), ("localhost", server.port)]


@pytest.mark.parametrize(
    ("url", "asked"),
    [
        ("http://old.example/x.png", ("127.0.0.2", 8080)),  # the route's host and port
        ("http://OLD.example./x.png", ("127.0.0.2", 8080)),  # the same name, spelt otherwise
        ("http://old.example:81/x.png", ("old.example", 81)),  # another port: not this route
        ("https://old.example/x.png", ("old.example", 443)),
        ("http://www.old.example/x.png", ("www.old.example", 80)),  # another name: not this route
    ],
)
def test_a_route_applies_to_its_host_and_port_only(url: str, asked: tuple[str, int]) -> None:
    route = ConnectTo.parse("old.example:80:127.0.0.2:8080")
    policy = DownloadPolicy(allowed_hosts=frozenset({"old.example"}), allow_local=True, connect_to=(route,))
    calls: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append((host, port))
        raise DownloadError("resolved no further in this test")

    with pytest.raises(DownloadError, match="no further"):
        download(url, policy, resolver)
    assert calls == [asked]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("old.example:80:127.0.0.1:8080", ConnectTo("old.example", 80, "127.0.0.1", 8080)),
        ("Old.Example.::[::1]:", ConnectTo("old.example", None, "::1", None)),  # any port, the same port
        ("old.example:443::8443", ConnectTo("old.example", 443, "old.example", 8443)),  # the same host
        ("[2001:db8::1]:80:files.example:80", ConnectTo("2001:db8::1", 80, "files.example", 80)),
    ],
)
def test_connect_to_is_read_as_curl_writes_it(text: str, parsed: ConnectTo) -> None:
    assert ConnectTo.parse(text) == parsed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("old.example:127.0.0.1", "is not HOST1:PORT1:HOST2:PORT2"),
        ("old.example:80:127.0.0.1:8080:9", "is not HOST1:PORT1:HOST2:PORT2"),
        ("old.example:80:[::1:8080", "is not HOST1:PORT1:HOST2:PORT2"),
        ("old.example:80:[::1]x:8080", "is not HOST1:PORT1:HOST2:PORT2"),
        (":80:127.0.0.1:8080", "names no host"),
        ("old.example:http:127.0.0.1:8080", "'http' is not a port"),
        ("old.example:80:127.0.0.1:65536", "'65536' is not a port"),
        ("old.example:0:127.0.0.1:1", "'0' is not a port"),
    ],
)
def test_a_connect_to_that_is_not_curls_form_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        ConnectTo.parse(text)


def _tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, names: list[str]) -> Server:
    """An HTTPS server on 127.0.0.1 whose self-signed certificate, for ``names``, this process
    trusts (SSL_CERT_FILE): what is tested is which name the download verifies."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alternatives: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(name)) if name[0].isdigit() else x509.DNSName(name) for name in names
    ]
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-other-certificates"))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    return Server(tls)


def _over_tls(server: Server) -> DownloadPolicy:
    route = ConnectTo.parse(f"old.example:443:127.0.0.1:{server.port}")
    return DownloadPolicy(allowed_hosts=frozenset({"old.example"}), allow_local=True, timeout=5, connect_to=(route,))


def test_connect_to_over_https_verifies_the_urls_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = _tls_server(tmp_path, monkeypatch, ["old.example"])
    try:
        assert download("https://old.example/ok.png", _over_tls(server)).data == PNG
        assert server.requests == [("/ok.png", "old.example")]
    finally:
        server.stop()


def test_connect_to_over_https_refuses_a_certificate_for_the_address_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Valid for where the connection goes, not for the host the URL names: refused.
    server = _tls_server(tmp_path, monkeypatch, ["localhost", "127.0.0.1"])
    try:
        with pytest.raises(
            DownloadError,
            match=r"TLS failed \(certificate: Hostname mismatch, certificate is not valid for .old\.example.",
        ):
            download("https://old.example/ok.png", _over_tls(server))
        assert server.requests == []
    finally:
        server.stop()


def test_the_command_refuses_a_bad_connect_to_as_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["import", str(tmp_path), "--out", str(tmp_path / "o"), "--connect-to", "old.example:127.0.0.1"])
    assert stopped.value.code == 2
    assert "is not HOST1:PORT1:HOST2:PORT2" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
