"""What a wheel on an index contains, read without downloading it: its file names, and the
import names those files provide.

A zip keeps its table of contents (the central directory) at its end, so a few HTTP Range
requests read it: one for the last 64 KiB, which holds the end-of-central-directory record
and, for most wheels, the whole central directory; a second one only when the central
directory is larger than that (torch's is a few MiB out of a GiB). `tools/gen_import_map.py`
builds `envfix/data/import_map.json` from these names.

The directory also says where each member's bytes are, so one member (a wheel's
`*.dist-info/METADATA`) costs one more small request; `tools/gen_requires.py` builds
`envfix/data/requires.json` so.
"""

from __future__ import annotations

import http.client
import re
import struct
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from envfix.errors import EnvironmentProblemError

TAIL_BYTES = 64 * 1024
"""How much of a zip's end the first request asks for."""
MAX_DIRECTORY_BYTES = 256 * 1024 * 1024
"""A central directory larger than this is refused: torch's is about 1 MiB, and a broken
or hostile end record must not make the reader fetch gigabytes."""
MAX_MEMBER_BYTES = 64 * 1024 * 1024
"""A member larger than this (packed or unpacked) is not read: METADATA files are a few
KiB, and a broken or hostile directory must not make the reader fetch or inflate gigabytes."""

_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIG = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s4B4H3L5H2L")
_CENTRAL_SIG = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s5H3L2H")
_LOCAL_SIG = b"PK\x03\x04"
_ZIP64_EXTRA = 0x0001
_ZIP32_MAX = 0xFFFFFFFF
_MAX_COMMENT = 0xFFFF
# The most a zip's end can hold after its central directory: a ZIP64 locator, the
# end-of-central-directory record and the longest comment.
_MAX_END = _ZIP64_LOCATOR.size + _EOCD.size + _MAX_COMMENT
_UTF8_FLAG = 0x800
_USER_AGENT = "envfix-wheelfiles (+https://pypi.org/project/envfix/)"


class WheelReadError(EnvironmentProblemError):
    """The file list of a remote zip could not be read: not a zip, or not served as one."""


class RangeFetchError(WheelReadError):
    """The HTTP request for a byte range failed; `transient` when a retry may succeed."""

    def __init__(self, message: str, *, transient: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.transient = transient


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end` (exclusive) of a file; `end` None asks for its last `-start`
    bytes, for a file whose size is not known yet."""

    start: int
    end: int | None = None

    @classmethod
    def last(cls, length: int) -> ByteRange:
        return cls(-length)

    @property
    def is_suffix(self) -> bool:
        return self.end is None

    @property
    def length(self) -> int:
        return -self.start if self.end is None else self.end - self.start

    @property
    def header(self) -> str:
        """The value of the HTTP `Range` header (RFC 9110 counts the last byte in)."""
        if self.end is None:
            return f"bytes={self.start}"
        return f"bytes={self.start}-{self.end - 1}"


RangeOpener = Callable[[str, ByteRange], bytes]
"""Fetches a byte range of a URL. For a suffix range it returns the whole file when the file
is shorter than asked; otherwise exactly the bytes asked for."""


def http_range(url: str, byte_range: ByteRange, *, timeout: float = 60.0) -> bytes:
    """`RangeOpener` over HTTP(S) with urllib."""
    request = urllib.request.Request(
        url,
        headers={
            "Range": byte_range.header,
            "User-Agent": _USER_AGENT,
            "Accept-Encoding": "identity",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
            if status == 200 and byte_range.start > 0:
                raise WheelReadError(f"{url}: the server ignored the Range header")
            # Reading one byte more than asked tells a whole body apart from the range
            # without reading all of a large file.
            data: bytes = response.read(byte_range.length + 1)
            if status == 206:
                _check_content_range(url, response.headers.get("Content-Range"), byte_range)
    except urllib.error.HTTPError as exc:
        transient = exc.code in (408, 425, 429) or exc.code >= 500
        raise RangeFetchError(
            f"{url}: HTTP {exc.code} for {byte_range.header}", transient=transient
        ) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise RangeFetchError(f"{url}: {reason}", transient=True) from exc
    if len(data) > byte_range.length:
        raise WheelReadError(
            f"{url}: the server ignored the Range header and sent the whole file"
            if status == 200
            else f"{url}: the server sent more than the range asked for"
        )
    return data


def _check_content_range(url: str, value: str | None, byte_range: ByteRange) -> None:
    m = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if m is None:
        raise WheelReadError(f"{url}: partial response without a readable Content-Range")
    if not byte_range.is_suffix and int(m[1]) != byte_range.start:
        raise WheelReadError(f"{url}: asked for {byte_range.header}, got {m[0].strip()}")


def _fetch(opener: RangeOpener, url: str, byte_range: ByteRange) -> bytes:
    data = opener(url, byte_range)
    if byte_range.is_suffix:
        if len(data) > byte_range.length:
            raise WheelReadError(f"{url}: got {len(data)} bytes for {byte_range.header}")
    elif len(data) != byte_range.length:
        raise WheelReadError(
            f"{url}: got {len(data)} bytes for {byte_range.header}, expected {byte_range.length}"
        )
    return data


@dataclass(frozen=True)
class ZipEntry:
    """One member as the central directory describes it."""

    name: str
    header_offset: int
    """Where the member's local header starts, as the directory records it."""
    compressed_size: int
    size: int
    crc: int
    method: int
    flags: int
    header_hint: int
    """The local header's likely length: its fixed part with the central entry's name and
    extra field (a local extra field is usually the same or shorter)."""


@dataclass(frozen=True)
class ZipDirectory:
    """The central directory of a remote zip, with the tail of the file already fetched."""

    url: str
    entries: tuple[ZipEntry, ...]
    tail: bytes = field(repr=False)
    tail_start: int
    """Where `tail` starts in the file; it runs to the file's end."""
    start: int
    """Where the central directory starts in the file; every member lies before it."""
    shift: int
    """Bytes before the zip proper (where the directory is less where it says it is), added
    to every recorded offset as `zipfile` does; 0 for wheels."""

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.entries]

    @property
    def file_size(self) -> int:
        return self.tail_start + len(self.tail)

    def entry(self, name: str) -> ZipEntry:
        # The last of duplicate names wins, as in `ZipFile.getinfo`.
        for entry in reversed(self.entries):
            if entry.name == name:
                return entry
        raise WheelReadError(f"{self.url}: no member {name!r}")


def read_zip_names(
    url: str,
    size: int | None = None,
    *,
    opener: RangeOpener = http_range,
    tail: int = TAIL_BYTES,
) -> list[str]:
    """The member names of a remote zip, in central-directory order (as `ZipFile.namelist()`).

    `size` is the file's length when the index says it (PyPI's JSON API does); without it
    the first request is a suffix range and the layout of the zip's end gives the rest.
    """
    return read_zip_directory(url, size, opener=opener, tail=tail).names


def read_zip_directory(
    url: str,
    size: int | None = None,
    *,
    opener: RangeOpener = http_range,
    tail: int = TAIL_BYTES,
) -> ZipDirectory:
    """The central directory of a remote zip, read as `read_zip_names` says."""
    if size is not None and size < _EOCD.size:
        raise WheelReadError(f"{url}: {size} bytes is too small for a zip file")
    data, tail_start = _read_tail(opener, url, size, tail)
    found = _find_eocd(data)
    if found is None and tail_start != 0:
        # A comment of up to 64 KiB may hide the record past the first read; ask again for
        # the most the end of a zip can hold, and the tail's worth before it.
        data, tail_start = _read_tail(opener, url, size, tail + _MAX_END)
        found = _find_eocd(data)
    if found is None:
        raise WheelReadError(f"{url}: not a zip file (no end of central directory record)")
    end = _read_end(opener, url, data, found, tail_start)
    if end.cd_size > MAX_DIRECTORY_BYTES:
        raise WheelReadError(f"{url}: a central directory of {end.cd_size} bytes is too large")
    # Offsets into `data` from here on; negative ones lie before it in the file.
    cd_start = end.cd_end - end.cd_size
    if end.tail_start + cd_start < 0 or end.cd_end > len(data):
        raise WheelReadError(f"{url}: the central directory lies outside the file")
    directory = data[max(0, cd_start) : max(0, end.cd_end)]
    if cd_start < 0:
        missing = ByteRange(end.tail_start + cd_start, end.tail_start + min(0, end.cd_end))
        directory = _fetch(opener, url, missing) + directory
    entries = _parse_central_directory(url, directory, end.entries)
    start = end.tail_start + cd_start
    return ZipDirectory(url, tuple(entries), data, end.tail_start, start, start - end.cd_offset)


def _read_tail(
    opener: RangeOpener, url: str, size: int | None, tail: int
) -> tuple[bytes, int | None]:
    """The last `tail` bytes, and where they start in the file when that is known."""
    if size is not None:
        start = max(0, size - tail)
        return _fetch(opener, url, ByteRange(start, size)), start
    data = _fetch(opener, url, ByteRange.last(tail))
    # Fewer bytes than asked for: the file is shorter than the tail, and this is all of it.
    return data, 0 if len(data) < tail else None


def _find_eocd(data: bytes) -> int | None:
    """Where the end-of-central-directory record starts in `data`, the end of a zip.

    The record's comment length must reach exactly to the end; failing that, the last
    record whose comment fits is taken (as `zipfile` does for trailing junk).
    """
    lowest = max(0, len(data) - _EOCD.size - _MAX_COMMENT)
    fallback: int | None = None
    at = data.rfind(_EOCD_SIG, lowest)
    while at >= 0:
        if at + _EOCD.size <= len(data):
            comment = _EOCD.unpack_from(data, at)[-1]
            if at + _EOCD.size + comment == len(data):
                return at
            if fallback is None and at + _EOCD.size + comment < len(data):
                fallback = at
        at = data.rfind(_EOCD_SIG, lowest, at) if at > lowest else -1
    return fallback


@dataclass(frozen=True)
class _End:
    entries: int | None
    """Number of central-directory entries; None when the record cannot say (ZIP32 limit)."""
    cd_size: int
    cd_end: int
    """Where the central directory ends, as an offset into the tail data: negative when
    it ends before the data (a ZIP64 record read apart)."""
    tail_start: int
    """Where the tail data starts in the file."""
    cd_offset: int
    """Where the end record says the central directory starts in the file."""


def _read_end(opener: RangeOpener, url: str, data: bytes, at: int, tail_start: int | None) -> _End:
    _, disk, cd_disk, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(data, at)
    locator = at - _ZIP64_LOCATOR.size
    if locator >= 0 and data[locator : locator + 4] == _ZIP64_LOCATOR_SIG:
        return _read_zip64_end(opener, url, data, locator, tail_start)
    if disk != 0 or cd_disk != 0:
        raise WheelReadError(f"{url}: a multi-disk zip is not supported")
    if cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        raise WheelReadError(f"{url}: ZIP64 sizes without a ZIP64 locator")
    if tail_start is None:
        # Wheels have nothing before their first entry, so the central directory ends at
        # offset + size, right where this record starts.
        tail_start = cd_offset + cd_size - at
        if tail_start < 0:
            raise WheelReadError(f"{url}: the central directory offset is past the record")
    return _End(None if entries == 0xFFFF else entries, cd_size, at, tail_start, cd_offset)


def _read_zip64_end(
    opener: RangeOpener, url: str, data: bytes, locator: int, tail_start: int | None
) -> _End:
    _, z64_disk, record_offset, disks = _ZIP64_LOCATOR.unpack_from(data, locator)
    if z64_disk != 0 or disks > 1:
        raise WheelReadError(f"{url}: a multi-disk zip is not supported")
    if tail_start is None:
        # The ZIP64 record sits right before its locator; where it is in the data pins
        # down where the data starts in the file.
        at = locator - _ZIP64_EOCD.size
        if at < 0 or data[at : at + 4] != _ZIP64_EOCD_SIG:
            at = data.rfind(_ZIP64_EOCD_SIG, 0, locator)
        if at < 0:
            raise WheelReadError(f"{url}: ZIP64 locator without its end of central directory")
        tail_start = record_offset - at
    at = record_offset - tail_start
    if at >= 0 and at + _ZIP64_EOCD.size <= len(data):
        record = data[at : at + _ZIP64_EOCD.size]
    else:
        record = _fetch(opener, url, ByteRange(record_offset, record_offset + _ZIP64_EOCD.size))
    sig, _, _, _, disk, cd_disk, _, entries, cd_size, cd_offset = _ZIP64_EOCD.unpack(record)
    if sig != _ZIP64_EOCD_SIG:
        raise WheelReadError(f"{url}: bad ZIP64 end of central directory record")
    if disk != 0 or cd_disk != 0:
        raise WheelReadError(f"{url}: a multi-disk zip is not supported")
    return _End(entries, cd_size, at, tail_start, cd_offset)


def _parse_central_directory(url: str, directory: bytes, entries: int | None) -> list[ZipEntry]:
    found: list[ZipEntry] = []
    pos = 0
    while pos < len(directory):
        if directory[pos : pos + 4] != _CENTRAL_SIG:
            if entries is None or len(found) < entries:
                raise WheelReadError(f"{url}: bad central directory entry at {pos}")
            break  # a ZIP64 record or padding after the last entry
        if pos + _CENTRAL.size > len(directory):
            raise WheelReadError(f"{url}: truncated central directory")
        fields = _CENTRAL.unpack_from(directory, pos)
        flags, method = fields[5:7]
        crc, compressed, size = fields[9:12]
        name_length, extra_length, comment_length = fields[12:15]
        offset = fields[18]
        start = pos + _CENTRAL.size
        raw = directory[start : start + name_length]
        if len(raw) != name_length:
            raise WheelReadError(f"{url}: truncated central directory")
        extra = directory[start + name_length : start + name_length + extra_length]
        size, compressed, offset = _zip64_values(extra, size, compressed, offset)
        # As `zipfile` reads names: UTF-8 when the entry says so, else code page 437.
        name = raw.decode("utf-8" if flags & _UTF8_FLAG else "cp437")
        hint = _LOCAL.size + name_length + extra_length
        found.append(ZipEntry(name, offset, compressed, size, crc, method, flags, hint))
        pos = start + name_length + extra_length + comment_length
    if entries is not None and len(found) != entries:
        raise WheelReadError(
            f"{url}: the central directory lists {len(found)} entries, the zip says {entries}"
        )
    return found


def _zip64_values(extra: bytes, size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    """(size, compressed size, header offset) with the ZIP64 extra field's values in place
    of the 32-bit placeholders. A missing or short field leaves a placeholder, which
    `read_zip_member` then refuses: the names are still worth having."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, pos)
        if tag == _ZIP64_EXTRA:
            body = extra[pos + 4 : pos + 4 + length]
            values = [size, compressed, offset]
            at = 0
            # The field holds only the values that overflowed, in this order.
            for i, value in enumerate(values):
                if value == _ZIP32_MAX and at + 8 <= len(body):
                    values[i] = struct.unpack_from("<Q", body, at)[0]
                    at += 8
            return values[0], values[1], values[2]
        pos += 4 + length
    return size, compressed, offset


# --- one member -----------------------------------------------------------------------

_HEADER_SLACK = 256
"""Bytes asked for beyond the expected local header and data, so that a local extra field
a little longer than the central one costs no second request."""
_STORED = 0
_DEFLATED = 8
_ENCRYPTED_FLAG = 0x1


def read_zip_member(
    directory: ZipDirectory, name: str, *, opener: RangeOpener = http_range
) -> bytes:
    """The uncompressed bytes of one member (stored or deflated) of the zip `directory`
    was read from: its local header and data only, in one request (two when the local
    header is longer than the directory suggests); nothing when they lie in the tail
    already fetched."""
    url = directory.url
    entry = directory.entry(name)
    if entry.flags & _ENCRYPTED_FLAG:
        raise WheelReadError(f"{url}: {name} is encrypted")
    if entry.method not in (_STORED, _DEFLATED):
        raise WheelReadError(f"{url}: {name} uses compression method {entry.method}")
    if max(entry.compressed_size, entry.size) > MAX_MEMBER_BYTES:
        raise WheelReadError(f"{url}: {name} is too large to read ({entry.size} bytes)")
    start = entry.header_offset + directory.shift
    if not 0 <= start < directory.start:
        raise WheelReadError(f"{url}: {name} lies outside the file")
    wanted = entry.header_hint + entry.compressed_size + _HEADER_SLACK
    chunk = _read_range(opener, directory, start, min(start + wanted, directory.start))
    if len(chunk) < _LOCAL.size or chunk[:4] != _LOCAL_SIG:
        raise WheelReadError(f"{url}: no local header for {name} at {start}")
    name_length, extra_length = _LOCAL.unpack_from(chunk)[-2:]
    data_start = _LOCAL.size + name_length + extra_length
    data_end = data_start + entry.compressed_size
    if start + data_end > directory.start:
        raise WheelReadError(f"{url}: {name} runs into the central directory")
    if data_end > len(chunk):
        chunk += _read_range(opener, directory, start + len(chunk), start + data_end)
    packed = chunk[data_start:data_end]
    if entry.method == _STORED:
        data = packed
    else:
        inflater = zlib.decompressobj(-15)
        try:
            # One byte more than the directory says tells a lying size apart.
            data = inflater.decompress(packed, entry.size + 1)
        except zlib.error as exc:
            raise WheelReadError(f"{url}: {name} does not inflate: {exc}") from exc
    if len(data) != entry.size or zlib.crc32(data) != entry.crc:
        raise WheelReadError(f"{url}: {name} does not match its size and CRC")
    return data


def _read_range(opener: RangeOpener, directory: ZipDirectory, start: int, end: int) -> bytes:
    """Bytes `start` to `end` of the file, fetching only what the tail does not hold."""
    if end <= start:
        return b""
    offset = directory.tail_start
    held = directory.tail[max(0, start - offset) : end - offset] if end > offset else b""
    if start >= offset:
        return held
    return _fetch(opener, directory.url, ByteRange(start, min(end, offset))) + held


@dataclass(frozen=True)
class WheelMetadata:
    """A wheel's `*.dist-info/METADATA`, read from its URL."""

    member: str
    data: bytes
    file_size: int
    """The wheel's length in bytes, as its zip structure gives it."""


def wheel_metadata_member(names: Iterable[str], filename: str | None = None) -> str:
    """The name of a wheel's METADATA among its members: the only top-level
    `*.dist-info/METADATA`, or, when a wheel ships several, the one of the project the
    wheel's `filename` names."""
    found = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
    if len(found) > 1 and filename:
        try:
            project = parse_wheel_filename(filename)[0]
        except InvalidWheelFilename:
            pass
        else:
            found = [n for n in found if _dist_info_project(n) == project]
    if len(found) != 1:
        where = filename or "the wheel"
        raise WheelReadError(
            f"{where}: {'no' if not found else len(found)} *.dist-info/METADATA members"
        )
    return found[0]


def _dist_info_project(member: str) -> str:
    folder = member.partition("/")[0].removesuffix(".dist-info")
    return canonicalize_name(folder.rpartition("-")[0])


def read_wheel_metadata(
    url: str,
    size: int | None = None,
    *,
    opener: RangeOpener = http_range,
    tail: int = TAIL_BYTES,
) -> WheelMetadata:
    """The METADATA of a remote wheel: its central directory, then that one member."""
    directory = read_zip_directory(url, size, opener=opener, tail=tail)
    filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rpartition("/")[2])
    member = wheel_metadata_member(directory.names, filename)
    data = read_zip_member(directory, member, opener=opener)
    return WheelMetadata(member, data, directory.file_size)


# --- import names ---------------------------------------------------------------------

JUNK_NAMES = frozenset(
    {
        "_foo",
        "bench",
        "benchmark",
        "benchmarks",
        "bin",
        "build",
        "conftest",
        "demo",
        "demos",
        "dist",
        "doc",
        "docs",
        "example",
        "examples",
        "foo",
        "include",
        "install",
        "lib",
        "lib64",
        "notebooks",
        "projects",
        "sample",
        "samples",
        "scripts",
        "setup",
        "share",
        "src",
        "test",
        "testing",
        "tests",
        "tools",
        "tutorials",
        "utils",
    }
)
"""Top-level names that sloppy wheels ship by mistake (a `tests/` package, a `setup.py`,
a `bin/` folder of scripts): mapping them to that wheel would send every repo with its own
`utils` or `tests` there. Names starting `test_` are left out as well."""

LEGACY_NAMESPACES = frozenset({"azure", "backports", "google", "google.cloud", "nvidia", "zope"})
"""Namespace packages that some wheels still ship with an `__init__.py` (an empty one, or a
pkg_resources/pkgutil declaration): taken as namespaces all the same, so that every
`nvidia-*-cu12` wheel gives `nvidia.cublas`, ..., not all the bare `nvidia`."""

# `name.cpython-313-x86_64-linux-gnu.so`, `name.abi3.so`, `name.cp313-win_amd64.pyd`,
# `name.so`, `name.pyd`.
_EXTENSION = re.compile(r"^([^.]+)(?:\.[^.]+)?\.(?:so|pyd)$")
_SOURCE = re.compile(r"^([^.]+)\.pyc?$")
_INSTALL_SCHEMES = ("purelib", "platlib")
_DATA_SITE_PACKAGES = re.compile(
    r"^data/(?:lib(?:64)?/python3\.\d+|Lib)/site-packages/(.+)$", re.IGNORECASE
)


def _module_of(filename: str) -> str | None:
    """The module a file in a package directory defines, or None for a data file."""
    m = _SOURCE.match(filename) or _EXTENSION.match(filename)
    if m and m[1].isidentifier():
        return m[1]
    return None


def _install_path(name: str) -> tuple[str, ...] | None:
    """Where a wheel member lands relative to site-packages, split; None if not there."""
    parts = tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
    if not parts or name.endswith("/"):
        return None
    top = parts[0]
    if top.endswith(".data"):
        if len(parts) >= 3 and parts[1] in _INSTALL_SCHEMES:
            parts = parts[2:]
        elif m := _DATA_SITE_PACKAGES.match("/".join(parts[1:])):
            # The `data` scheme installs under the prefix, and a few wheels (Intel's
            # scikit-learn-intelex) put their packages in the prefix's site-packages so.
            parts = tuple(m[1].split("/"))
        else:
            return None  # scripts, headers, other data: not importable
        top = parts[0]
    if top.endswith((".dist-info", ".egg-info")) or top == "EGG-INFO":
        return None
    if "__pycache__" in parts or parts[-1].endswith(".pth"):
        return None
    return parts


def import_names(
    files: Iterable[str],
    dist_name: str | None = None,
    *,
    namespaces: Collection[str] = LEGACY_NAMESPACES,
) -> set[str]:
    """The names a wheel with these members makes importable.

    A top-level module or package gives its name; a namespace package (a directory without
    `__init__`) gives the dotted path down to the first real package or module under it
    (`google.protobuf`, not `google`); so do the dotted `namespaces`, `__init__` or not.
    Stub-only and other non-identifier directories, and the `JUNK_NAMES`, are left out; a
    junk name is kept when the distribution is named so.
    """
    packages: set[tuple[str, ...]] = set()
    modules: set[tuple[str, ...]] = set()
    for member in files:
        parts = _install_path(member)
        if parts is None:
            continue
        *dirs, filename = parts
        module = _module_of(filename)
        if module is None or not all(d.isidentifier() for d in dirs):
            continue
        if module == "__init__":
            if dirs and ".".join(dirs) not in namespaces:
                packages.add(tuple(dirs))
        else:
            modules.add((*dirs, module))
    own = canonicalize_name(dist_name) if dist_name else None
    names: set[str] = set()
    for path in packages | modules:
        for length in range(1, len(path) + 1):
            prefix = path[:length]
            if prefix in packages or length == len(path):
                break
        top = prefix[0]
        if top.startswith("__"):
            continue
        junk = top.lower() in JUNK_NAMES or top.lower().startswith("test_")
        if junk and canonicalize_name(top) != own:
            continue
        names.add(".".join(prefix))
    return names
