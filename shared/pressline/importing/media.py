"""Downloading the images an imported post references by URL, without being a way in.

An export is input from elsewhere: its image URLs may point anywhere, including at this
machine's own services or a cloud metadata endpoint. So a download:

- is ``http`` or ``https`` only, to a host on the allow-list (the old site's by default);
- resolves the host, refuses it when **any** of its addresses is loopback, private,
  link-local, multicast, reserved or unspecified (unless ``allow_local``), and connects to
  the address it checked, never resolving again (no DNS rebinding between check and use);
- follows at most ``max_redirects`` redirects, each checked by the same rules;
- may be sent elsewhere than DNS says by ``connect_to`` (curl's ``--connect-to``: the old
  site's files still on a server the domain no longer points at), and what it names is
  checked by the same rules: the allow-list is still of the URL's host, and the address
  connected to is still refused when it is local (unless ``allow_local``);
- stops at ``max_bytes`` and after ``timeout`` seconds in all (a server dripping bytes
  cannot hold it), and keeps only PNG, JPEG, GIF and WebP by their bytes (SVG, HTML
  named ``.png`` and anything else are refused).

Each URL is downloaded once per import; what was downloaded is kept in a cache folder, so
an interrupted import resumes without downloading again.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pressline.posts.images import MAX_IMAGE_BYTES, sniff

DEFAULT_TIMEOUT = 20.0
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
USER_AGENT = "pressline-import/1 (+moving a blog in)"

Resolver = Callable[[str, int], list[str]]


class DownloadError(Exception):
    """Why one URL was not downloaded (the message is for the author)."""


@dataclass(frozen=True)
class ConnectTo:
    """curl's ``--connect-to HOST1:PORT1:HOST2:PORT2``: a request for ``host`` (on ``port``, or
    on any port when None) connects to ``to_host`` (on ``to_port``, or the same port) instead;
    the URL, the ``Host`` header and the name TLS verifies stay the URL's. Only where to
    connect changes: ``to_host`` is resolved and its addresses checked like any other."""

    host: str
    port: int | None
    to_host: str
    to_port: int | None

    @classmethod
    def parse(cls, text: str) -> ConnectTo:
        """``HOST1:PORT1:HOST2:PORT2`` (a port may be empty; an IPv6 address in brackets), or
        ValueError saying what is wrong."""
        fields = _colon_fields(text.strip())
        if fields is None or len(fields) != 4:
            raise ValueError(f"{text!r} is not HOST1:PORT1:HOST2:PORT2 (a port may be empty, IPv6 in brackets)")
        host, port, to_host, to_port = fields
        if not host:
            raise ValueError(f"{text!r} names no host to connect for (HOST1)")
        return cls(_bare_name(host), _port(port, text), _bare_name(to_host or host), _port(to_port, text))

    def applies(self, host: str, port: int) -> bool:
        return _bare_name(host) == self.host and self.port in (None, port)


def _colon_fields(text: str) -> list[str] | None:
    """``a:b:[::1]:c`` as ["a", "b", "::1", "c"]; None when a bracket is not closed, or is
    followed by anything but a colon."""
    fields: list[str] = []
    rest = text
    while True:
        if not rest.startswith("["):
            value, colon, rest = rest.partition(":")
            fields.append(value)
            if not colon:
                return fields
            continue
        end = rest.find("]")
        if end < 0 or rest[end + 1 : end + 2] not in ("", ":"):
            return None
        fields.append(rest[1:end])
        rest = rest[end + 1 :]
        if not rest:
            return fields
        rest = rest[1:]  # the colon after the bracket


def _port(text: str, whole: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r}: {text!r} is not a port (1 to 65535)")
    return int(text)


def _bare_name(host: str) -> str:
    return host.strip().lower().rstrip(".")


@dataclass(frozen=True)
class Downloaded:
    url: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class DownloadPolicy:
    """What may be downloaded, and where to connect for it. Hosts are compared in lower case,
    ``www.`` or not."""

    allowed_hosts: frozenset[str]
    allow_local: bool = False
    max_bytes: int = MAX_IMAGE_BYTES
    timeout: float = DEFAULT_TIMEOUT
    max_redirects: int = MAX_REDIRECTS
    connect_to: tuple[ConnectTo, ...] = ()  # the first that applies to a URL's host and port

    @classmethod
    def for_site(cls, site_url: str | None, extra_hosts: Iterable[str] = (), **options: object) -> DownloadPolicy:
        hosts = {_bare(host) for host in extra_hosts if host.strip()}
        site_host = urlsplit(site_url).hostname if site_url else None
        if site_host:
            hosts.add(_bare(site_host))
        return cls(allowed_hosts=frozenset(hosts), **options)  # type: ignore[arg-type]

    def allows_host(self, host: str) -> bool:
        return _bare(host) in self.allowed_hosts


def _bare(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("www.")


def refused_address(address: str) -> str | None:
    """Why an IP address may not be fetched from without ``allow_local``, or None."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for test, name in (
        (ip.is_loopback, "a loopback"),
        (ip.is_private, "a private"),
        (ip.is_link_local, "a link-local"),
        (ip.is_multicast, "a multicast"),
        (ip.is_reserved, "a reserved"),
        (ip.is_unspecified, "an unspecified"),
    ):
        if test:
            return f"{name} address ({ip})"
    if not ip.is_global:
        return f"a non-public address ({ip})"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise DownloadError(f"cannot resolve {host} ({error.strerror or error})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL's scheme, host, port and path (with its query), and
    the checked address and port to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str
    connect_port: int


def checked_target(url: str, policy: DownloadPolicy, resolver: Resolver) -> Target:
    """Where to send the request for ``url``, or the DownloadError that refuses it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DownloadError("is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DownloadError(f"uses {scheme or 'no'} scheme: only http and https are downloaded")
    host = parts.hostname
    if not host:
        raise DownloadError("has no host")
    if parts.username or parts.password:
        raise DownloadError("carries a user name or password")
    if not policy.allows_host(host):
        raise DownloadError(f"is on {host}, which is not in the allow-list (add it with --allow-host {host})")
    port = port or (443 if scheme == "https" else 80)
    route = next((route for route in policy.connect_to if route.applies(host, port)), None)
    to_host, to_port = (route.to_host, route.to_port or port) if route else (host, port)
    shown = f"{host} (connected to {to_host}:{to_port} by --connect-to)" if route else host
    addresses = resolver(to_host, to_port)
    if not addresses:
        raise DownloadError(f"{shown} has no address")
    if not policy.allow_local:
        for address in addresses:
            reason = refused_address(address)
            if reason:
                raise DownloadError(f"{shown} resolves to {reason}; pass --allow-local to download from it")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port, path, addresses[0], to_port)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to the checked address, whatever DNS says now (Host: the name)."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._connect = (target.address, target.connect_port)

    def connect(self) -> None:
        self.sock = socket.create_connection(self._connect, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate is verified against the host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._connect = (target.address, target.connect_port)

    def connect(self) -> None:
        sock = socket.create_connection(self._connect, self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def download(url: str, policy: DownloadPolicy, resolver: Resolver = system_resolver) -> Downloaded:
    """The image at ``url`` under ``policy``; raises DownloadError saying why not."""
    deadline = time.monotonic() + policy.timeout
    current = url
    for _ in range(policy.max_redirects + 1):
        target = checked_target(current, policy, resolver)
        remaining = max(deadline - time.monotonic(), 0.001)
        connection: http.client.HTTPConnection = (
            _PinnedHTTPSConnection(target, remaining)
            if target.scheme == "https"
            else _PinnedHTTPConnection(target, remaining)
        )
        try:
            connection.request("GET", target.path, headers={"User-Agent": USER_AGENT, "Accept": "image/*"})
            response = connection.getresponse()
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise DownloadError(f"answered {response.status} without a Location")
                current = urljoin(current, location)
                continue
            if response.status != 200:
                raise DownloadError(f"answered {response.status} {response.reason}")
            data = _read_limited(response, policy, deadline)
        except TimeoutError:
            raise DownloadError(f"timed out (limit {policy.timeout:g} s)") from None
        except ssl.SSLCertVerificationError as error:  # says why: untrusted, expired, another name
            raise DownloadError(f"TLS failed (certificate: {error.verify_message or error.reason})") from None
        except ssl.SSLError as error:
            raise DownloadError(f"TLS failed ({error.reason or error})") from None
        except (OSError, http.client.HTTPException) as error:
            raise DownloadError(f"failed ({type(error).__name__}: {error})") from None
        finally:
            connection.close()
        content_type = sniff(data)
        if content_type is None:
            raise DownloadError("is not a PNG, JPEG, GIF or WebP image (SVG and other types are not imported)")
        return Downloaded(url=url, data=data, content_type=content_type)
    raise DownloadError(f"redirects more than {policy.max_redirects} times")


def _read_limited(response: http.client.HTTPResponse, policy: DownloadPolicy, deadline: float) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise DownloadError(f"is {int(declared):,} bytes; the limit for images is {policy.max_bytes:,}")
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > policy.max_bytes:
            raise DownloadError(f"is more than {policy.max_bytes:,} bytes, the limit for images")
        chunks.append(chunk)


@dataclass
class Downloader:
    """Downloads each URL once per import, and keeps what it downloaded in ``cache`` (when
    given and ``write_cache``) for the next run. Failures are remembered for this run only:
    a resumed import tries them again."""

    policy: DownloadPolicy
    cache: Path | None = None
    write_cache: bool = True
    resolver: Resolver = system_resolver
    downloaded: int = 0  # fetched from the network in this run
    cached: int = 0  # read from the cache
    _seen: dict[str, Downloaded | DownloadError] = field(default_factory=dict)
    _from_cache: set[str] = field(default_factory=set)
    _fetched_now: set[str] = field(default_factory=set)

    def get(self, url: str) -> Downloaded:
        if url in self._seen:
            seen = self._seen[url]
            if isinstance(seen, DownloadError):
                raise seen
            return seen
        try:
            result = self._cached(url) or self._fetch(url)
        except DownloadError as error:
            self._seen[url] = error
            raise
        if self._path(url) is None or not self.write_cache:
            self._seen[url] = result  # no cache to read it back from: held for this run
        return result

    def _path(self, url: str) -> Path | None:
        if self.cache is None:
            return None
        return self.cache / hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()

    def _cached(self, url: str) -> Downloaded | None:
        path = self._path(url)
        if path is None or not path.is_file():
            return None
        data = path.read_bytes()
        content_type = sniff(data)
        if content_type is None or len(data) > self.policy.max_bytes:
            return None  # not something this module wrote: download again
        if url not in self._from_cache:  # counted once: read again for each item that shows it
            self._from_cache.add(url)
            if url not in self._fetched_now:
                self.cached += 1
        return Downloaded(url=url, data=data, content_type=content_type)

    def _fetch(self, url: str) -> Downloaded:
        result = download(url, self.policy, self.resolver)
        self.downloaded += 1
        self._fetched_now.add(url)
        path = self._path(url)
        if path is not None and self.write_cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            partial.write_bytes(result.data)
            os.replace(partial, path)  # a crash leaves a .part, never a truncated image
        return result


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/pressline/downloads`` (``~/.cache/...``): outside the export and the output."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pressline" / "downloads"


__all__ = ["ConnectTo", "DownloadError", "DownloadPolicy", "Downloaded", "Downloader", "default_cache", "download"]
