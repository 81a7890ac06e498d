"""Reading a remote wheel's file list and METADATA with Range requests, and the import names
it gives.

The wheels are real zip files built here and served by a small local HTTP server that
honours `Range` the way files.pythonhosted.org does; nothing here reaches the internet
except the test marked `network`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import struct
import subprocess
import sys
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from envfix.scanner.wheelfiles import (
    TAIL_BYTES,
    ByteRange,
    RangeFetchError,
    WheelReadError,
    http_range,
    import_names,
    read_wheel_metadata,
    read_zip_directory,
    read_zip_member,
    read_zip_names,
    wheel_metadata_member,
)

ROOT = Path(__file__).resolve().parents[2]
IMPORT_MAP = ROOT / "envfix" / "data" / "import_map.json"

# --- a local server that honours Range --------------------------------------------------


class _RangeHandler(BaseHTTPRequestHandler):
    """Serves the files of `server.folder`; under `/norange/` it ignores `Range`, as some
    servers do."""

    server: _FileServer

    def do_GET(self) -> None:
        ignore_range = self.path.startswith("/norange/")
        name = self.path.removeprefix("/norange/").lstrip("/")
        path = self.server.folder / name
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        header = self.headers.get("Range")
        if header is None or ignore_range:
            self._send(200, data, {})
            return
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", header)
        if m is None or (not m[1] and not m[2]):
            self.send_error(400)
            return
        if not m[1]:
            start, end = max(0, len(data) - int(m[2])), len(data) - 1
        else:
            start = int(m[1])
            end = min(int(m[2]), len(data) - 1) if m[2] else len(data) - 1
        if start >= len(data) or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.end_headers()
            return
        content_range = f"bytes {start}-{end}/{len(data)}"
        self._send(206, data[start : end + 1], {"Content-Range": content_range})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # The client stops reading a whole body it did not ask for.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), _RangeHandler)
        self.folder = folder


@dataclass
class Served:
    folder: Path
    base: str

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    server = _FileServer(folder)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Served(folder, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Counting:
    """The real HTTP opener, counting requests and bytes."""

    requests: list[str] = field(default_factory=list)
    fetched: int = 0

    def __call__(self, url: str, byte_range: ByteRange) -> bytes:
        data = http_range(url, byte_range, timeout=30)
        self.requests.append(byte_range.header)
        self.fetched += len(data)
        return data


def make_zip(path: Path, members: dict[str, bytes], comment: bytes = b"") -> list[str]:
    """Write a zip as a wheel builder would; returns `namelist()` to compare with."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if name.endswith("/"):
                zf.writestr(zipfile.ZipInfo(name), b"")
            else:
                zf.writestr(name, data)
        zf.comment = comment
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


WHEEL_MEMBERS = {
    "demo_pkg/": b"",
    "demo_pkg/__init__.py": b"VERSION = 1\n",
    "demo_pkg/sub/__init__.py": b"",
    "demo_pkg/sub/mod.py": b"x = 1\n",
    "demo_pkg/__pycache__/mod.cpython-313.pyc": b"\0",
    "single_mod.py": b"y = 2\n",
    "fastext.cpython-313-x86_64-linux-gnu.so": b"\x7fELF",
    "nsroot/inner/__init__.py": b"",
    "nsroot/inner/deep.py": b"",
    "demo-1.0.data/purelib/purelib_mod.py": b"",
    "demo-1.0.data/platlib/platpkg/__init__.py": b"",
    "demo-1.0.data/scripts/demo-tool": b"#!python\n",
    "demo-1.0.data/headers/demo.h": b"",
    "demo-1.0.dist-info/METADATA": b"Name: demo\nVersion: 1.0\n",
    "demo-1.0.dist-info/RECORD": b"",
    "tests/__init__.py": b"",
    "tests/test_demo.py": b"def test(): pass\n",
    "démo_data/ünïcode.txt": "é".encode(),
    "demo.pth": b"import demo_pkg\n",
}
WHEEL_IMPORTS = {
    "demo_pkg",
    "single_mod",
    "fastext",
    "nsroot.inner",
    "purelib_mod",
    "platpkg",
}


# --- read_zip_names ---------------------------------------------------------------------


@pytest.mark.parametrize("pass_size", [True, False], ids=["size-known", "size-unknown"])
def test_small_wheel_with_comment(served: Served, pass_size: bool) -> None:
    path = served.folder / "demo-1.0-py3-none-any.whl"
    expected = make_zip(path, WHEEL_MEMBERS, comment=b"built for a test")
    opener = Counting()
    size = path.stat().st_size if pass_size else None
    names = read_zip_names(served.url(path.name), size, opener=opener)
    assert names == expected
    # Smaller than the tail: one request reads all of it.
    assert opener.requests == [f"bytes=0-{size - 1}" if size else f"bytes=-{TAIL_BYTES}"]
    assert import_names(names, "demo") == WHEEL_IMPORTS


@pytest.mark.parametrize("pass_size", [True, False], ids=["size-known", "size-unknown"])
def test_big_wheel_reads_only_its_end(served: Served, pass_size: bool) -> None:
    path = served.folder / "big-1.0-cp313-cp313-manylinux_2_28_x86_64.whl"
    members = {f"big/part{i}.py": b"" for i in range(50)}
    # Incompressible payload: the file is 8 MiB, its central directory a few KiB.
    members["big/_blob.so"] = os.urandom(8 * 1024 * 1024)
    expected = make_zip(path, members, comment=b"c" * 1000)
    size = path.stat().st_size
    opener = Counting()
    names = read_zip_names(served.url(path.name), size if pass_size else None, opener=opener)
    assert names == expected
    assert len(opener.requests) == 1
    assert opener.fetched == TAIL_BYTES
    assert opener.fetched * 100 < size


@pytest.fixture(scope="module")
def zip64_wheel(served: Served) -> tuple[Path, list[str]]:
    path = served.folder / "many-1.0-py3-none-any.whl"
    # More entries than a ZIP32 end record can count: zipfile writes a ZIP64 record and
    # locator, and the central directory (~3 MiB) is far larger than the first read.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(70_000):
            zf.writestr(f"m/{i}.py", b"")
        zf.writestr("many/__init__.py", b"")
        zf.comment = b"zip64 test"
    with zipfile.ZipFile(path) as zf:
        return path, zf.namelist()


@pytest.mark.parametrize("pass_size", [True, False], ids=["size-known", "size-unknown"])
def test_zip64_with_central_directory_before_the_tail(
    served: Served, zip64_wheel: tuple[Path, list[str]], pass_size: bool
) -> None:
    path, expected = zip64_wheel
    data = path.read_bytes()
    assert b"PK\x06\x06" in data[-200:], "the test zip should have a ZIP64 end record"
    size = len(data)
    opener = Counting()
    names = read_zip_names(served.url(path.name), size if pass_size else None, opener=opener)
    assert names == expected
    assert len(opener.requests) == 2
    # The tail, then the rest of the central directory; never the local entries.
    assert opener.fetched < size * 0.75
    assert "many" in import_names(names)


def test_longest_comment_needs_a_second_tail_read(served: Served) -> None:
    path = served.folder / "commented-1.0-py3-none-any.whl"
    members = {"commented.py": b"", "pad.bin": os.urandom(200_000)}
    expected = make_zip(path, members, comment=b"#" * 0xFFFF)
    opener = Counting()
    names = read_zip_names(served.url(path.name), None, opener=opener, tail=4096)
    assert names == expected
    assert len(opener.requests) == 2


def test_server_ignoring_range_on_a_big_file_is_an_error(served: Served) -> None:
    path = served.folder / "norange_big-1.0-py3-none-any.whl"
    make_zip(path, {"big.py": b"", "blob.bin": os.urandom(300_000)})
    url = f"{served.base}/norange/{path.name}"
    with pytest.raises(WheelReadError, match="ignored the Range header"):
        read_zip_names(url, path.stat().st_size)
    with pytest.raises(WheelReadError, match="ignored the Range header"):
        read_zip_names(url)


def test_server_ignoring_range_is_fine_for_a_file_smaller_than_the_tail(served: Served) -> None:
    path = served.folder / "norange_demo-1.0-py3-none-any.whl"
    expected = make_zip(path, WHEEL_MEMBERS)
    url = f"{served.base}/norange/{path.name}"
    assert read_zip_names(url) == expected
    assert read_zip_names(url, path.stat().st_size) == expected


def test_not_a_zip(served: Served) -> None:
    (served.folder / "fake.whl").write_bytes(os.urandom(100_000))
    with pytest.raises(WheelReadError, match="not a zip file"):
        read_zip_names(served.url("fake.whl"), 100_000)


def test_too_small_for_a_zip(served: Served) -> None:
    with pytest.raises(WheelReadError, match="too small"):
        read_zip_names(served.url("tiny.whl"), 10)


def test_corrupt_central_directory(served: Served) -> None:
    path = served.folder / "broken-1.0-py3-none-any.whl"
    make_zip(path, {"a.py": b"", "b.py": b""})
    data = bytearray(path.read_bytes())
    first_entry = data.index(b"PK\x01\x02")
    data[first_entry : first_entry + 4] = b"XXXX"
    path.write_bytes(bytes(data))
    with pytest.raises(WheelReadError, match="bad central directory entry"):
        read_zip_names(served.url(path.name), len(data))


def test_missing_file_is_a_fetch_error(served: Served) -> None:
    with pytest.raises(RangeFetchError) as caught:
        read_zip_names(served.url("absent.whl"), 1000)
    assert caught.value.transient is False


def test_wrong_length_from_an_opener_is_caught() -> None:
    def sloppy(url: str, byte_range: ByteRange) -> bytes:
        return b"\0" * (byte_range.length + 10)

    with pytest.raises(WheelReadError, match="got"):
        read_zip_names("memory://x.whl", 100_000, opener=sloppy)


def test_byte_range_headers() -> None:
    assert ByteRange.last(65536).header == "bytes=-65536"
    assert ByteRange(100, 200).header == "bytes=100-199"
    assert ByteRange(100, 200).length == 100
    assert ByteRange.last(10).length == 10


# --- read_zip_member / read_wheel_metadata ----------------------------------------------

METADATA = (
    b"Metadata-Version: 2.1\n"
    b"Name: demo\n"
    b"Version: 1.0\n"
    b"Requires-Python: >=3.9\n"
    b"Requires-Dist: numpy>=1.22\n"
    b'Requires-Dist: torch; extra == "torch"\n'
    b"\n" + b"A long description that compresses well. " * 400
)


def make_wheel(
    path: Path, *, metadata_first: bool, compression: int, blob: int = 8 * 1024 * 1024
) -> None:
    """A wheel with an incompressible payload and its METADATA before or after it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        members: list[tuple[str, bytes, int]] = [
            ("demo/__init__.py", b"", zipfile.ZIP_DEFLATED),
            ("demo/_blob.so", os.urandom(blob), zipfile.ZIP_STORED),
        ]
        metadata = ("demo-1.0.dist-info/METADATA", METADATA, compression)
        members.insert(0 if metadata_first else len(members), metadata)
        for name, data, method in members:
            zf.writestr(name, data, compress_type=method)
        zf.writestr("demo-1.0.dist-info/RECORD", b"")


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED], ids=["deflated", "stored"]
)
@pytest.mark.parametrize("pass_size", [True, False], ids=["size-known", "size-unknown"])
def test_metadata_before_the_payload_costs_one_more_small_request(
    served: Served, compression: int, pass_size: bool
) -> None:
    path = served.folder / f"first{compression}-1.0-py3-none-any.whl"
    make_wheel(path, metadata_first=True, compression=compression)
    size = path.stat().st_size
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("demo-1.0.dist-info/METADATA")
        assert info.compress_type == compression
        assert info.header_offset == 0
    opener = Counting()
    read = read_wheel_metadata(served.url(path.name), size if pass_size else None, opener=opener)
    assert read.member == "demo-1.0.dist-info/METADATA"
    assert read.data == METADATA
    assert read.file_size == size
    assert len(opener.requests) == 2
    assert opener.requests[1].startswith("bytes=0-")
    # The tail and the member, not the 8 MiB between them.
    assert opener.fetched < TAIL_BYTES + info.compress_size + 1024
    assert opener.fetched * 50 < size


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED], ids=["deflated", "stored"]
)
def test_metadata_in_the_tail_needs_no_second_request(served: Served, compression: int) -> None:
    path = served.folder / f"last{compression}-1.0-cp313-cp313-manylinux_2_28_x86_64.whl"
    make_wheel(path, metadata_first=False, compression=compression)
    size = path.stat().st_size
    opener = Counting()
    read = read_wheel_metadata(served.url(path.name), size, opener=opener)
    assert read.data == METADATA
    assert opener.requests == [f"bytes={size - TAIL_BYTES}-{size - 1}"]


def test_member_partly_in_the_tail_fetches_only_the_part_before_it(served: Served) -> None:
    path = served.folder / "straddle-1.0-py3-none-any.whl"
    # A stored member larger than the tail ends right before the central directory.
    big = os.urandom(3 * TAIL_BYTES)
    make_zip(path, {"pad.bin": os.urandom(100_000)})
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("straddle-1.0.dist-info/METADATA", big, compress_type=zipfile.ZIP_STORED)
    size = path.stat().st_size
    opener = Counting()
    directory = read_zip_directory(served.url(path.name), size, opener=opener)
    assert read_zip_member(directory, "straddle-1.0.dist-info/METADATA", opener=opener) == big
    assert len(opener.requests) == 2
    assert opener.fetched < len(big) + TAIL_BYTES
    assert opener.fetched < size - 90_000


def test_small_wheel_is_read_in_one_request(served: Served) -> None:
    path = served.folder / "small-1.0-py3-none-any.whl"
    make_wheel(path, metadata_first=True, compression=zipfile.ZIP_DEFLATED, blob=1000)
    size = path.stat().st_size
    assert size < TAIL_BYTES
    opener = Counting()
    assert read_wheel_metadata(served.url(path.name), None, opener=opener).data == METADATA
    assert opener.requests == [f"bytes=-{TAIL_BYTES}"]
    assert opener.fetched == size


def test_member_of_a_zip64_directory(served: Served, zip64_wheel: tuple[Path, list[str]]) -> None:
    path, _ = zip64_wheel
    directory = read_zip_directory(served.url(path.name), path.stat().st_size)
    assert read_zip_member(directory, "many/__init__.py") == b""
    assert read_zip_member(directory, "m/69999.py") == b""


def hand_zip(
    members: list[tuple[str, bytes]], *, local_extra: int = 0, zip64_central: bool = False
) -> bytes:
    """A deflated zip written field by field, for layouts `zipfile` does not make: a local
    extra field longer than the central one, and ZIP64 values in the central extra field."""
    local_parts: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for name, data in members:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = packer.compress(data) + packer.flush()
        raw_name = name.encode()
        crc = zlib.crc32(data)
        extra = struct.pack("<2H", 0xCAFE, local_extra) + bytes(local_extra) if local_extra else b""
        # version, flags, method (deflate), time, date; crc, sizes; name and extra lengths
        fixed = (20, 0, 8, 0, 0, crc, len(packed), len(data), len(raw_name), len(extra))
        local_parts.append(struct.pack("<4s5H3L2H", b"PK\x03\x04", *fixed) + raw_name + extra)
        local_parts.append(packed)
        sizes = (len(packed), len(data), offset)
        central_extra = b""
        if zip64_central:
            central_extra = struct.pack("<2H3Q", 1, 24, len(data), len(packed), offset)
            sizes = (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        versions = (20, 3, 20, 0)
        fields = (0, 8, 0, 0, crc, sizes[0], sizes[1], len(raw_name), len(central_extra))
        rest = (0, 0, 0, 0, sizes[2])  # comment length, disk, attributes, header offset
        entry = struct.pack("<4s4B4H3L5H2L", b"PK\x01\x02", *versions, *fields, *rest)
        central.append(entry + raw_name + central_extra)
        offset += len(local_parts[-2]) + len(packed)
    directory = b"".join(central)
    count = len(members)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), offset, 0)
    return b"".join(local_parts) + directory + end


def test_local_extra_field_longer_than_the_central_one(served: Served) -> None:
    path = served.folder / "hand-1.0-py3-none-any.whl"
    pad = os.urandom(200_000)
    path.write_bytes(
        hand_zip([("hand-1.0.dist-info/METADATA", METADATA), ("pad", pad)], local_extra=3000)
    )
    opener = Counting()
    read = read_wheel_metadata(served.url(path.name), path.stat().st_size, opener=opener)
    assert read.data == METADATA
    # The tail, the guessed header and data, then the rest the long header pushed out.
    assert len(opener.requests) == 3
    assert opener.fetched < TAIL_BYTES + 10_000


def test_zip64_sizes_and_offsets_in_the_central_extra_field(served: Served) -> None:
    path = served.folder / "hand64-1.0-py3-none-any.whl"
    pad = os.urandom(200_000)
    members = [("pad", pad), ("hand64-1.0.dist-info/METADATA", METADATA)]
    path.write_bytes(hand_zip(members, zip64_central=True))
    with zipfile.ZipFile(path) as zf:
        assert zf.read("hand64-1.0.dist-info/METADATA") == METADATA
    directory = read_zip_directory(served.url(path.name), path.stat().st_size)
    entry = directory.entry("hand64-1.0.dist-info/METADATA")
    assert entry.size == len(METADATA)
    assert entry.header_offset > len(pad)
    assert read_zip_member(directory, entry.name) == METADATA


def test_unsupported_compression_is_an_error(served: Served) -> None:
    path = served.folder / "bz-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bz-1.0.dist-info/METADATA", METADATA, compress_type=zipfile.ZIP_BZIP2)
    with pytest.raises(WheelReadError, match="compression method 12"):
        read_wheel_metadata(served.url(path.name))


def test_corrupt_member_is_an_error(served: Served) -> None:
    path = served.folder / "crc-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("crc-1.0.dist-info/METADATA", METADATA, compress_type=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.index(b"Requires-Dist")
    data[at] = ord("r")
    path.write_bytes(bytes(data))
    with pytest.raises(WheelReadError, match="CRC"):
        read_wheel_metadata(served.url(path.name))


def test_missing_member_is_an_error(served: Served) -> None:
    path = served.folder / "nometa-1.0-py3-none-any.whl"
    make_zip(path, {"nometa.py": b""})
    directory = read_zip_directory(served.url(path.name))
    with pytest.raises(WheelReadError, match="no member"):
        read_zip_member(directory, "nometa-1.0.dist-info/METADATA")
    with pytest.raises(WheelReadError, match=r"no \*\.dist-info/METADATA"):
        read_wheel_metadata(served.url(path.name))


def test_choosing_the_metadata_member() -> None:
    names = [
        "pkg/__init__.py",
        "pkg/vendored/other-2.0.dist-info/METADATA",
        "other-2.0.dist-info/METADATA",
        "My_Pkg-1.0.dist-info/METADATA",
    ]
    assert wheel_metadata_member(names, "my_pkg-1.0-py3-none-any.whl") == (
        "My_Pkg-1.0.dist-info/METADATA"
    )
    assert wheel_metadata_member(names[:3]) == "other-2.0.dist-info/METADATA"
    with pytest.raises(WheelReadError, match="2 "):
        wheel_metadata_member(names)


# --- import_names -----------------------------------------------------------------------


def test_top_level_modules_and_packages() -> None:
    files = ["six.py", "attr/__init__.py", "attr/_make.py", "attrs/__init__.py"]
    assert import_names(files) == {"six", "attr", "attrs"}


def test_extension_modules() -> None:
    files = [
        "_cffi_backend.cpython-313-x86_64-linux-gnu.so",
        "_brotli.abi3.so",
        "winmod.pyd",
        "winmod2.cp313-win_amd64.pyd",
        "plain.so",
        "sourceless.pyc",
        "pkg/__init__.cpython-313-x86_64-linux-gnu.so",
    ]
    assert import_names(files) == {
        "_cffi_backend",
        "_brotli",
        "winmod",
        "winmod2",
        "plain",
        "sourceless",
        "pkg",
    }


def test_data_files_and_libraries_are_not_modules() -> None:
    files = [
        "README.md",
        "foo.pyi",
        "libgomp-a34b3233.so.1",
        "numpy.libs/libopenblas.so",
        "pkg/py.typed",
        "data.json",
    ]
    assert import_names(files) == set()


def test_install_schemes_of_the_data_folder() -> None:
    files = [
        "demo-1.0.data/purelib/pure.py",
        "demo-1.0.data/platlib/plat/__init__.py",
        "demo-1.0.data/scripts/tool.py",
        "demo-1.0.data/headers/demo.h",
        "demo-1.0.data/data/share/demo/conf.py",
    ]
    assert import_names(files) == {"pure", "plat"}


def test_site_packages_under_the_data_scheme() -> None:
    files = [
        "sklx-1.0.data/data/lib/python3.13/site-packages/daal4py/__init__.py",
        "sklx-1.0.data/data/lib/python3.13/site-packages/sklearnex/__init__.py",
        "sklx-1.0.data/data/Lib/site-packages/winonly.py",
        "sklx-1.0.data/data/lib/libonedal.so",
        "sklx-1.0.data/data/share/doc/conf.py",
    ]
    assert import_names(files) == {"daal4py", "sklearnex", "winonly"}


def test_metadata_caches_and_pth_files_are_skipped() -> None:
    files = [
        "demo-1.0.dist-info/METADATA",
        "demo-1.0.dist-info/entry_points.py",
        "demo.egg-info/PKG-INFO",
        "EGG-INFO/top_level.py",
        "__pycache__/demo.cpython-313.pyc",
        "pkg/__pycache__/__init__.cpython-313.pyc",
        "distutils-precedence.pth",
        "demo.pth",
    ]
    assert import_names(files) == set()


def test_namespace_packages_give_the_first_real_level() -> None:
    protobuf = ["google/protobuf/__init__.py", "google/protobuf/message.py"]
    assert import_names(protobuf) == {"google.protobuf"}
    storage = [
        "google/cloud/storage/__init__.py",
        "google/cloud/storage/blob.py",
        "google/cloud/storage/_http.py",
    ]
    assert import_names(storage) == {"google.cloud.storage"}
    matplotlib = [
        "matplotlib/__init__.py",
        "mpl_toolkits/mplot3d/__init__.py",
        "mpl_toolkits/axes_grid1/__init__.py",
        "pylab.py",
    ]
    assert import_names(matplotlib) == {
        "matplotlib",
        "mpl_toolkits.mplot3d",
        "mpl_toolkits.axes_grid1",
        "pylab",
    }
    # A module right inside a namespace is the first real level.
    assert import_names(["google/_upb/_message.abi3.so"]) == {"google._upb._message"}


def test_legacy_namespaces_with_an_init_are_namespaces_still() -> None:
    files = ["nvidia/__init__.py", "nvidia/cublas/__init__.py", "nvidia/cublas/lib/x.so"]
    assert import_names(files) == {"nvidia.cublas"}
    old_google = ["google/__init__.py", "google/cloud/__init__.py", "google/cloud/x/__init__.py"]
    assert import_names(old_google) == {"google.cloud.x"}
    # Any other package with subpackages stays itself.
    assert import_names(["ours/__init__.py", "ours/sub/__init__.py"]) == {"ours"}
    assert import_names(files, namespaces=()) == {"nvidia"}


def test_stub_only_and_non_identifier_folders_are_skipped() -> None:
    files = [
        "foo-stubs/__init__.pyi",
        "foo-stubs/__init__.py",
        "my-dir/mod.py",
        "2fast/__init__.py",
        "pkg.with.dots/__init__.py",
    ]
    assert import_names(files) == set()


def test_junk_names_are_dropped() -> None:
    files = [
        "real/__init__.py",
        "tests/__init__.py",
        "test/__init__.py",
        "testing/__init__.py",
        "docs/conf.py",
        "doc/__init__.py",
        "examples/demo.py",
        "example/__init__.py",
        "benchmarks/__init__.py",
        "scripts/__init__.py",
        "build/lib/real/__init__.py",
        "src/real/__init__.py",
        "utils/__init__.py",
        "tools/__init__.py",
        "setup.py",
        "conftest.py",
        "bin/helper.py",
        "test_everything.py",
        "Tests/__init__.py",
        "__main__.py",
    ]
    assert import_names(files, "real") == {"real"}


def test_a_junk_name_is_kept_when_the_distribution_is_named_so() -> None:
    assert import_names(["testing/__init__.py"], "Testing") == {"testing"}
    assert import_names(["test_tube/__init__.py"], "test-tube") == {"test_tube"}
    assert import_names(["utils/__init__.py", "tests/__init__.py"], "utils") == {"utils"}


def test_windows_separators_and_directory_entries() -> None:
    assert import_names(["winpkg\\__init__.py", "winpkg/", "./dotted.py"]) == {
        "winpkg",
        "dotted",
    }


def test_case_is_kept() -> None:
    assert import_names(["PIL/__init__.py", "Crypto/Cipher/__init__.py", "Crypto/__init__.py"]) == {
        "PIL",
        "Crypto",
    }


# --- the committed map ------------------------------------------------------------------


@pytest.fixture(scope="module")
def import_map() -> dict[str, object]:
    doc: dict[str, object] = json.loads(IMPORT_MAP.read_text(encoding="utf-8"))
    return doc


WELL_KNOWN = {
    "cv2": "opencv-python",
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "skimage": "scikit-image",
    "google.protobuf": "protobuf",
    "bs4": "beautifulsoup4",
}


def test_committed_map_has_the_well_known_mappings(import_map: dict[str, object]) -> None:
    modules = import_map["modules"]
    assert isinstance(modules, dict)
    for module, dist in WELL_KNOWN.items():
        assert dist in modules[module], module
    assert set(modules["cv2"]) >= {
        "opencv-python",
        "opencv-python-headless",
        "opencv-contrib-python",
        "opencv-contrib-python-headless",
    }
    assert "google" not in modules
    assert "tests" not in modules


def test_committed_map_is_consistent(import_map: dict[str, object]) -> None:
    assert import_map["schema_version"] == 1
    modules = import_map["modules"]
    preferred = import_map["preferred"]
    dists = import_map["distributions"]
    unavailable = import_map["unavailable"]
    assert isinstance(modules, dict)
    assert isinstance(preferred, dict)
    assert isinstance(dists, dict)
    assert isinstance(unavailable, dict)
    for module, dist in preferred.items():
        assert dist in modules[module], f"preferred {module} = {dist} is not a candidate"
    for module, candidates in modules.items():
        assert candidates == sorted(set(candidates)), module
        assert all(c in dists for c in candidates), module
    assert not set(dists) & set(unavailable)
    # Every conflict the map knows of has a tie-breaker.
    assert {m for m, c in modules.items() if len(c) > 1} <= set(preferred)


def test_committed_map_is_rendered_deterministically(import_map: dict[str, object]) -> None:
    text = IMPORT_MAP.read_text(encoding="utf-8")
    assert text == json.dumps(import_map, indent=1, sort_keys=True) + "\n"


@pytest.mark.network
def test_regenerating_the_map_gives_the_committed_file(tmp_path: Path) -> None:
    out = tmp_path / "import_map.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_import_map.py"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.read_bytes() == IMPORT_MAP.read_bytes()
