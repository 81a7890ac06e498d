"""A real package index on loopback, made of tiny wheels the tests build: names, versions,
Requires-Dist, Requires-Python, wheel tags and upload dates as each test needs them.

It speaks the JSON simple API (PEP 691) that pip, uv and envfix's own index client read.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Dist:
    """One release file to publish: a wheel (with `tag`) or, with `sdist=True`, an sdist."""

    name: str
    version: str
    requires: tuple[str, ...] = ()
    requires_python: str | None = None
    tag: str = "py3-none-any"
    uploaded: str = "2020-01-01T00:00:00Z"
    sdist: bool = False
    module: str | None = None

    @property
    def normalized(self) -> str:
        return self.name.replace("-", "_")

    @property
    def filename(self) -> str:
        if self.sdist:
            return f"{self.normalized}-{self.version}.tar.gz"
        return f"{self.normalized}-{self.version}-{self.tag}.whl"

    @property
    def extras(self) -> list[str]:
        """The extras its requirements' markers name (`pygame; extra == "classic-control"`)."""
        found = (Requirement(req).marker for req in self.requires)
        named = (re.findall(r"extra\s*==\s*['\"]([^'\"]+)['\"]", str(m)) for m in found if m)
        return sorted({extra for names in named for extra in names})

    def metadata(self) -> str:
        lines = ["Metadata-Version: 2.1", f"Name: {self.name}", f"Version: {self.version}"]
        if self.requires_python:
            lines.append(f"Requires-Python: {self.requires_python}")
        lines.extend(f"Provides-Extra: {extra}" for extra in self.extras)
        lines.extend(f"Requires-Dist: {req}" for req in self.requires)
        return "\n".join(lines) + "\n"

    def build(self) -> bytes:
        buffer = io.BytesIO()
        if self.sdist:
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                data = self.metadata().encode()
                info = tarfile.TarInfo(f"{self.normalized}-{self.version}/PKG-INFO")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            return buffer.getvalue()
        info_dir = f"{self.normalized}-{self.version}.dist-info"
        module = self.module or self.normalized
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
            wheel.writestr(f"{module}/__init__.py", f"__version__ = {self.version!r}\n")
            wheel.writestr(f"{info_dir}/METADATA", self.metadata())
            wheel.writestr(
                f"{info_dir}/WHEEL",
                f"Wheel-Version: 1.0\nGenerator: envfix-tests\nRoot-Is-Purelib: true\n"
                f"Tag: {self.tag}\n",
            )
            wheel.writestr(f"{info_dir}/RECORD", "")
        return buffer.getvalue()


@dataclass
class FakeIndex:
    """The files of a fake index, and the URL it is served at once started."""

    dists: list[Dist] = field(default_factory=list)
    url: str = ""
    requests: list[str] = field(default_factory=list)

    def files(self) -> dict[str, bytes]:
        return {d.filename: d.build() for d in self.dists}

    def project_document(self, name: str, base: str, blobs: dict[str, bytes]) -> dict[str, object]:
        wanted = canonicalize_name(name)
        entries = [d for d in self.dists if canonicalize_name(d.name) == wanted]
        return {
            "meta": {"api-version": "1.1"},
            "name": wanted,
            "versions": sorted({d.version for d in entries}),
            "files": [
                {
                    "filename": d.filename,
                    "url": f"{base}/files/{d.filename}",
                    "hashes": {"sha256": hashlib.sha256(blobs[d.filename]).hexdigest()},
                    "requires-python": d.requires_python,
                    "upload-time": d.uploaded,
                    "yanked": False,
                    "size": len(blobs[d.filename]),
                }
                for d in entries
            ],
        }

    def names(self) -> set[str]:
        return {canonicalize_name(d.name) for d in self.dists}


@contextmanager
def serve(dists: Iterable[Dist]) -> Iterator[FakeIndex]:
    """Serve the dists at http://127.0.0.1:<port>/simple until the block ends."""
    index = FakeIndex(list(dists))
    blobs = index.files()

    class Handler(http.server.BaseHTTPRequestHandler):
        head_only = False

        def do_HEAD(self) -> None:
            self.head_only = True
            self.do_GET()

        def do_GET(self) -> None:
            index.requests.append(self.path)
            base = f"http://{self.headers['Host']}"
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if (
                len(parts) == 2
                and parts[0] == "simple"
                and canonicalize_name(parts[1]) in index.names()
            ):
                body = json.dumps(index.project_document(parts[1], base, blobs)).encode()
                self._send(200, body, "application/vnd.pypi.simple.v1+json")
            elif parts == ["simple"]:
                doc = {
                    "meta": {"api-version": "1.1"},
                    "projects": [{"name": n} for n in sorted(index.names())],
                }
                self._send(200, json.dumps(doc).encode(), "application/vnd.pypi.simple.v1+json")
            elif len(parts) == 2 and parts[0] == "files" and parts[1] in blobs:
                self._send_file(blobs[parts[1]])
            else:
                self._send(404, b"not found", "text/plain")

        def _send_file(self, blob: bytes) -> None:
            # Resolvers read a wheel's metadata with Range requests when the server allows.
            wanted = self.headers.get("Range", "")
            if wanted.startswith("bytes="):
                first, _, last = wanted[6:].partition("-")
                start = len(blob) - int(last) if not first else int(first)
                end = len(blob) - 1 if not first or not last else min(int(last), len(blob) - 1)
                start = max(start, 0)
                self._send(
                    206,
                    blob[start : end + 1],
                    "application/octet-stream",
                    {"Content-Range": f"bytes {start}-{end}/{len(blob)}"},
                )
            else:
                self._send(200, blob, "application/octet-stream", {"Accept-Ranges": "bytes"})

        def _send(
            self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not self.head_only:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple"
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()


def write_freeze(path: Path, pins: dict[str, str]) -> Path:
    path.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()))
    return path
