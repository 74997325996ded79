"""Downloading the images an imported post references by URL, without being a way in.

An export is input from elsewhere: its image URLs may point anywhere, including at this
machine's own services or a cloud metadata endpoint. So a download:

- is ``http`` or ``https`` only, to a host on the allow-list (the old site's by default);
- resolves the host, refuses it when **any** of its addresses is loopback, private,
  link-local, multicast, reserved or unspecified (unless ``allow_local``), and connects to
  the address it checked, never resolving again (no DNS rebinding between check and use);
- follows at most ``max_redirects`` redirects, each checked by the same rules;
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
class Downloaded:
    url: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class DownloadPolicy:
    """What may be downloaded. Hosts are compared in lower case, ``www.`` or not."""

    allowed_hosts: frozenset[str]
    allow_local: bool = False
    max_bytes: int = MAX_IMAGE_BYTES
    timeout: float = DEFAULT_TIMEOUT
    max_redirects: int = MAX_REDIRECTS

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


def checked_target(url: str, policy: DownloadPolicy, resolver: Resolver) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, path with query, the address to connect to) for ``url``, or the
    DownloadError that refuses it."""
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
    addresses = resolver(host, port)
    if not addresses:
        raise DownloadError(f"{host} has no address")
    if not policy.allow_local:
        for address in addresses:
            reason = refused_address(address)
            if reason:
                raise DownloadError(f"{host} resolves to {reason}; pass --allow-local to download from it")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, path, addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to the checked address, whatever DNS says now (Host: the name)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate is verified against the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def download(url: str, policy: DownloadPolicy, resolver: Resolver = system_resolver) -> Downloaded:
    """The image at ``url`` under ``policy``; raises DownloadError saying why not."""
    deadline = time.monotonic() + policy.timeout
    current = url
    for _ in range(policy.max_redirects + 1):
        scheme, host, port, path, address = checked_target(current, policy, resolver)
        remaining = max(deadline - time.monotonic(), 0.001)
        connection: http.client.HTTPConnection = (
            _PinnedHTTPSConnection(host, port, address, remaining)
            if scheme == "https"
            else _PinnedHTTPConnection(host, port, address, remaining)
        )
        try:
            connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "image/*"})
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


__all__ = ["DownloadError", "DownloadPolicy", "Downloaded", "Downloader", "default_cache", "download"]
