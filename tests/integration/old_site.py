"""An old site's images, served by an HTTP server on 127.0.0.1 that a test starts.

The import fixtures name their old site ``http://old.example`` (a name that never resolves).
A test points the importer at this server with ``--connect-to old.example:80:127.0.0.1:PORT``
and ``--allow-local``, as an author would point it at an old server their domain no longer
names; the URLs, and so the aliases and the old-site checks, stay the fixture's own.

Every image is real and different from every other (its path is in it), so a test can tell
which old image a file on the new site is: ``OldSite.which(data)``.
"""

from __future__ import annotations

import struct
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

# What the generated images are, by the extension of the path asked for.
_GENERATED = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def png(label: str, width: int = 3, height: int = 2) -> bytes:
    """A real RGB PNG, its colour from ``label``, which it also carries in a ``tEXt`` chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rgb = bytes(zlib.crc32(label.encode()).to_bytes(4, "big")[:3])
    rows = b"".join(b"\x00" + rgb * width for _ in range(height))  # filter 0, then the pixels
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", b"Comment\x00" + label.encode("utf-8"))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg(label: str) -> bytes:
    """A real baseline JPEG: one 8x8 grey block (its DC coefficient alone), ``label`` in a COM
    segment. The Huffman tables have one code each ("0"): the DC category, then end of block."""

    def segment(marker: int, data: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data

    level = zlib.crc32(label.encode()) % 64 + 1  # the block's grey is 128 + level
    dc = 8 * level  # DCT of a flat block, quantised by 1; less than 2**10
    category = dc.bit_length()
    bits = "0" + format(dc, f"0{category}b") + "0"  # DC code, its value, the EOB code
    bits += "1" * (-len(bits) % 8)  # padded with ones, as the standard says
    scan = int(bits, 2).to_bytes(len(bits) // 8, "big").replace(b"\xff", b"\xff\x00")
    one_code = bytes([1] + [0] * 15)  # one code of length 1
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xFE, label.encode("utf-8"))
        + segment(0xDB, b"\x00" + b"\x01" * 64)  # table 0: every coefficient quantised by 1
        + segment(0xC0, struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00")  # 8x8, 1 component
        + segment(0xC4, b"\x00" + one_code + bytes([category]))  # DC table 0
        + segment(0xC4, b"\x10" + one_code + b"\x00")  # AC table 0: EOB only
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + scan
        + b"\xff\xd9"
    )


@dataclass
class OldSite:
    """Serves ``GET /path``: a file under ``root`` at that path when ``root`` is given, else a
    generated image for ``.png``/``.jpg``/``.jpeg`` paths; 404 for ``missing`` paths and
    anything else. ``requests`` holds (path, Host header) of every request."""

    root: Path | None = None
    missing: frozenset[str] = frozenset()
    requests: list[tuple[str, str]] = field(default_factory=list)
    served: dict[str, bytes] = field(default_factory=dict)  # path -> bytes answered with 200
    port: int = 0

    def body(self, path: str) -> tuple[bytes, str] | None:
        if path in self.missing:
            return None
        if self.root is not None:
            base = self.root.resolve()
            file = (base / path.lstrip("/")).resolve()
            if not file.is_relative_to(base) or not file.is_file():
                return None
            return file.read_bytes(), "application/octet-stream"  # the importer goes by the bytes
        suffix = path[path.rfind(".") :].lower() if "." in path else ""
        if suffix not in _GENERATED:
            return None
        return (png(path) if suffix == ".png" else jpeg(path)), _GENERATED[suffix]

    def which(self, data: bytes) -> str | None:
        """The path this server answered ``data`` for, or None."""
        return next((path for path, served in self.served.items() if served == data), None)

    def __enter__(self) -> OldSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                site.requests.append((path, self.headers.get("Host", "")))
                found = site.body(path)
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data, content_type = found
                site.served[path] = data
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def connect_to(self, host: str = "old.example", port: int = 80) -> str:
        """The importer's ``--connect-to`` that sends ``host:port`` here."""
        return f"{host}:{port}:127.0.0.1:{self.port}"
