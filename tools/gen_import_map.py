"""Generate envfix's import-name map from the file lists of real wheels on PyPI.

    python tools/gen_import_map.py [--out envfix/data/import_map.json] [--cache DIR] [--jobs N]

The distributions are every one in the bundled Colab profiles (`envfix/data/profiles/`, at the
version of the newest profile that has it) and the pins in `tools/import_map_extra.txt`. For
each, one wheel of that version is chosen and its central directory read with HTTP Range
requests (`envfix.scanner.wheelfiles`), so no wheel is downloaded whole. The ties between
distributions that provide the same module are broken by `tools/import_map_preferred.txt`.

Results are cached under `--cache` (the index answers per version under `index/`, the file
names per wheel file name), so a rerun reads nothing from the network. The output is
deterministic: the same inputs give a byte-identical file, and
tests/scan/test_wheelfiles.py checks the committed file against a fresh run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from envfix.runtime import manylinux_platforms
from envfix.scanner.wheelfiles import (
    ByteRange,
    RangeFetchError,
    WheelReadError,
    http_range,
    import_names,
    read_zip_names,
)

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "envfix" / "data" / "profiles"
DEFAULT_OUT = ROOT / "envfix" / "data" / "import_map.json"
EXTRA = ROOT / "tools" / "import_map_extra.txt"
PREFERRED = ROOT / "tools" / "import_map_preferred.txt"
DEFAULT_CACHE = Path.home() / ".cache" / "envfix-tools" / "wheel-names"
INDEX = "https://pypi.org/simple/"
MAP_SCHEMA = 1
# Wheels for these Pythons are read when a version has no pure-Python wheel: Colab's, newest
# first. Older ones come last, through "any wheel of that version".
PYTHONS = ((3, 13), (3, 12), (3, 11))
ATTEMPTS = 4
_USER_AGENT = "envfix-tools/gen_import_map (+https://pypi.org/project/envfix/)"
_LOCAL_LABEL = re.compile(r"\+.*$")
_PYTHON_TAG = re.compile(r"^(?:cp|py)(\d)(\d*)$")
_EGG = re.compile(r"^([A-Za-z0-9_.]+)-([^-]+)-py[23](?:\.\d+)?(?:-.+)?\.egg$")

T = TypeVar("T")


@dataclass(frozen=True)
class Wanted:
    """A distribution to read, at one version."""

    name: str
    version: str
    source: str
    """Where the pin came from: a profile's name or the extra list."""


@dataclass(frozen=True)
class IndexFile:
    """A file of a release, as PyPI's JSON simple API lists it."""

    filename: str
    url: str
    size: int | None
    yanked: bool

    @property
    def kind(self) -> str:
        if self.filename.endswith(".whl"):
            return "wheel"
        if self.filename.endswith(".egg"):
            return "egg"
        if self.filename.endswith(".zip"):
            return "zip"
        return "other"


@dataclass(frozen=True)
class Read:
    """What one wheel (or egg, or zip sdist) gave."""

    wanted: Wanted
    file: IndexFile
    names: tuple[str, ...]
    fetched: int
    """Bytes read from the network in this run (0 when the cache answered)."""


class Unavailable(Exception):
    """A distribution left out of the map, with the reason recorded in its `unavailable`."""


# --- inputs -----------------------------------------------------------------------------


def strip_local(version: str) -> str:
    """`2.11.0+cpu` -> `2.11.0`: PyPI has no local versions."""
    return _LOCAL_LABEL.sub("", version)


def profile_pins(folder: Path) -> tuple[dict[str, Wanted], dict[str, str], tuple[int, int]]:
    """(name -> pin, name -> why left out, the newest profile's glibc) from the profiles.

    A name's version comes from the newest profile (by `released`) that has it with one.
    """
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    if not docs:
        raise SystemExit(f"{folder}: no profiles")
    docs.sort(key=lambda d: (d["released"], d["name"]), reverse=True)
    pins: dict[str, Wanted] = {}
    no_version: dict[str, str] = {}
    for doc in docs:
        for dist in doc["distributions"]:
            name = canonicalize_name(dist["name"])
            if name in pins:
                continue
            if dist.get("version"):
                pins[name] = Wanted(name, strip_local(dist["version"]), doc["name"])
                no_version.pop(name, None)
            else:
                no_version.setdefault(
                    name, f"no version in the Colab profiles (installed from {dist.get('url')})"
                )
    major, minor = (int(p) for p in docs[0]["glibc"].split(".")[:2])
    return pins, no_version, (major, minor)


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if line:
            yield number, line


def extra_pins(path: Path) -> dict[str, Wanted]:
    """`name==version` lines of the curated list."""
    pins: dict[str, Wanted] = {}
    for number, line in _lines(path):
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*(\S+)", line)
        if m is None:
            raise SystemExit(f"{path}:{number}: expected 'name==version', got {line!r}")
        name = canonicalize_name(m[1])
        if name in pins:
            raise SystemExit(f"{path}:{number}: {name} is listed twice")
        pins[name] = Wanted(name, m[2], "extra")
    return pins


def preferred_table(path: Path) -> dict[str, str]:
    """`module = distribution` lines of the curated tie-breakers."""
    table: dict[str, str] = {}
    for number, line in _lines(path):
        m = re.fullmatch(r"([A-Za-z_][\w.]*)\s*=\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if m is None:
            raise SystemExit(f"{path}:{number}: expected 'module = distribution', got {line!r}")
        if m[1] in table:
            raise SystemExit(f"{path}:{number}: {m[1]} is listed twice")
        table[m[1]] = canonicalize_name(m[2])
    return table


# --- network, with retries and a disk cache --------------------------------------------


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, RangeFetchError):
        return exc.transient
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in (408, 425, 429) or exc.code >= 500
    return isinstance(exc, OSError)


def with_retries(call: Callable[[], T], what: str) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call()
        except (OSError, RangeFetchError) as exc:
            if attempt == ATTEMPTS or not _transient(exc):
                raise
            # Jitter keeps the parallel workers from retrying in step.
            time.sleep(2 ** (attempt - 1) + random.random())
    raise AssertionError(f"unreachable: {what}")


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temp, path)


def _file_version(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        if m := _EGG.match(filename):
            return Version(m[2])
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def index_document(name: str) -> dict[str, Any] | None:
    request = urllib.request.Request(
        urljoin(INDEX, f"{name}/"),
        headers={"Accept": "application/vnd.pypi.simple.v1+json", "User-Agent": _USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            doc: dict[str, Any] = json.load(response)
            return doc
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


IndexFetcher = Callable[[str], dict[str, Any] | None]
"""Gets a project's PEP 691 index document, None when PyPI has no such project."""


def release_files(
    wanted: Wanted, cache: Path, fetch: IndexFetcher = index_document
) -> list[IndexFile]:
    """The files of one release on PyPI; raises `Unavailable` when there is none.

    `fetch` may share one index document among the versions of a project.
    """
    path = cache / "index" / f"{wanted.name}=={wanted.version}.json"
    if path.exists():
        cached = json.loads(path.read_text(encoding="utf-8"))
    else:
        doc = with_retries(lambda: fetch(wanted.name), wanted.name)
        if doc is None:
            cached = {"missing": "not on PyPI"}
        else:
            version = Version(wanted.version)
            cached = {
                "files": [
                    {
                        "filename": f["filename"],
                        "url": urljoin(INDEX, f["url"]),
                        "size": f.get("size"),
                        "yanked": bool(f.get("yanked")),
                    }
                    for f in doc["files"]
                    if _file_version(f["filename"]) == version
                ]
            }
            if not cached["files"]:
                cached = {"missing": f"version {wanted.version} not on PyPI"}
        write_atomic(path, json.dumps(cached, indent=1, sort_keys=True) + "\n")
    if "missing" in cached:
        raise Unavailable(cached["missing"])
    return sorted(
        (IndexFile(f["filename"], f["url"], f["size"], f["yanked"]) for f in cached["files"]),
        key=lambda f: f.filename,
    )


def preferred_tags(
    glibc: tuple[int, int], pythons: Iterable[tuple[int, int]] = PYTHONS
) -> list[list[Tag]]:
    """For each of `pythons`, the tags its Colab installs, most preferred first."""
    platforms = manylinux_platforms(glibc, "x86_64")
    return [
        [*cpython_tags(python, platforms=platforms), *compatible_tags(python, platforms=platforms)]
        for python in pythons
    ]


def _is_pure_py3(tags: Iterable[Tag]) -> bool:
    return any(
        t.interpreter.startswith("py3") and t.abi == "none" and t.platform == "any" for t in tags
    )


def choose_file(
    files: list[IndexFile], ranked: list[list[Tag]], *, pure_first: bool = True
) -> IndexFile:
    """One file to read: a py3-none-any wheel, else a wheel for Colab's Python (newest
    first), else any wheel, else an egg, else a zip sdist; unyanked before yanked.

    Without `pure_first` a pure wheel takes its place among the tags of `ranked` (after
    the wheels built for that Python), as pip would choose.
    """
    wheels = [f for f in files if f.kind == "wheel"]
    if wheels:
        positions = [{tag: i for i, tag in enumerate(tags)} for tags in ranked]

        def rank(f: IndexFile) -> tuple[bool, int, tuple[int, ...], str]:
            tags = parse_wheel_filename(f.filename)[3]
            if pure_first and _is_pure_py3(tags):
                return (f.yanked, 0, (), f.filename)
            for python, position in enumerate(positions, start=1):
                found = [position[t] for t in tags if t in position]
                if found:
                    return (f.yanked, python, (min(found),), f.filename)
            return (f.yanked, len(positions) + 1, _fallback_rank(tags), f.filename)

        return min(wheels, key=rank)
    for kind in ("egg", "zip"):
        candidates = [f for f in files if f.kind == kind]
        if candidates:
            # Eggs are per Python: the newest Python 3 one holds what Python 3 imports.
            return min(
                candidates, key=lambda f: (f.yanked, "py3" not in f.filename, _egg_python(f))
            )
    if any(f.filename.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")) for f in files):
        raise Unavailable("sdist only")
    raise Unavailable("no wheel, egg or zip sdist")


def _fallback_rank(tags: Iterable[Tag]) -> tuple[bool, bool, int]:
    """Among wheels for none of Colab's Pythons: Python 3 first, then Linux x86_64 (the file
    list Colab would install), then the newest Python."""
    pythons = [m for t in tags if (m := _PYTHON_TAG.match(t.interpreter))]
    versions = [(int(m[1]), int(m[2] or 0)) for m in pythons]
    major, minor = max(versions, default=(0, 0))
    linux = any("linux" in t.platform and t.platform.endswith("x86_64") for t in tags)
    return (major != 3, not linux, -minor)


def _egg_python(f: IndexFile) -> tuple[int, ...]:
    """Sort key putting the highest `pyX.Y` of an egg first, then the file name."""
    m = re.search(r"-py(\d+)\.(\d+)", f.filename)
    return (-int(m[1]), -int(m[2])) if m else (0, 0)


class CountingOpener:
    """`RangeOpener` that adds up what it fetched, for the summary."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.fetched: dict[str, int] = {}

    def __call__(self, url: str, byte_range: ByteRange) -> bytes:
        data = http_range(url, byte_range)
        with self._lock:
            self.fetched[url] = self.fetched.get(url, 0) + len(data)
        return data


def read_names(wanted: Wanted, file: IndexFile, cache: Path, opener: CountingOpener) -> Read:
    path = cache / f"{file.filename}.json"
    if path.exists():
        cached = json.loads(path.read_text(encoding="utf-8"))
        return Read(wanted, file, tuple(cached["names"]), 0)
    names = with_retries(lambda: read_zip_names(file.url, file.size, opener=opener), file.filename)
    fetched = opener.fetched.get(file.url, 0)
    doc = {"names": names, "size": file.size, "fetched": fetched, "url": file.url}
    write_atomic(path, json.dumps(doc, indent=0, sort_keys=True) + "\n")
    return Read(wanted, file, tuple(names), fetched)


def sdist_members(names: Iterable[str]) -> list[str]:
    """An sdist's members as they would install: without the `name-version/` folder, and
    with `src/` layouts lifted to the top."""
    stripped = [n.partition("/")[2] for n in names if "/" in n]
    return [n[4:] if n.startswith("src/") else n for n in stripped]


def provided(read: Read) -> set[str]:
    names = sdist_members(read.names) if read.file.kind == "zip" else read.names
    return import_names(names, read.wanted.name)


# --- the map ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    document: dict[str, Any]
    reads: tuple[Read, ...]
    extras_in_profiles: tuple[str, ...]


def _parallel(jobs: int, call: Callable[[Wanted], T], items: list[Wanted]) -> list[T | Exception]:
    def guarded(item: Wanted) -> T | Exception:
        try:
            return call(item)
        except (Unavailable, WheelReadError, OSError) as exc:
            return exc

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(guarded, items))


def _reason(wanted: Wanted, exc: Exception, failures: list[str]) -> str | None:
    """Why a distribution is unavailable; None (and a failure noted) when the cause may
    pass, since recording it would make the output depend on the network's mood."""
    if isinstance(exc, Unavailable):
        return str(exc)
    if isinstance(exc, WheelReadError) and not isinstance(exc, RangeFetchError):
        return f"unreadable: {exc.message}"
    failures.append(f"{wanted.name}=={wanted.version}: {exc}")
    return None


def build(cache: Path, jobs: int) -> Result:
    pins, unavailable, glibc = profile_pins(PROFILES)
    extras = extra_pins(EXTRA)
    overlap = tuple(sorted(set(extras) & set(pins)))
    for name, wanted in extras.items():
        pins.setdefault(name, wanted)
        unavailable.pop(name, None)
    wanted_list = [pins[name] for name in sorted(pins)]
    ranked = preferred_tags(glibc)
    opener = CountingOpener()

    def pick(wanted: Wanted) -> IndexFile:
        return choose_file(release_files(wanted, cache), ranked)

    failures: list[str] = []
    chosen: dict[Wanted, IndexFile] = {}
    for wanted, picked in zip(wanted_list, _parallel(jobs, pick, wanted_list), strict=True):
        if not isinstance(picked, Exception):
            chosen[wanted] = picked
        elif (reason := _reason(wanted, picked, failures)) is not None:
            unavailable[wanted.name] = reason

    def read(wanted: Wanted) -> Read:
        return read_names(wanted, chosen[wanted], cache, opener)

    to_read = list(chosen)
    reads: list[Read] = []
    for wanted, got in zip(to_read, _parallel(jobs, read, to_read), strict=True):
        if not isinstance(got, Exception):
            reads.append(got)
        elif (reason := _reason(wanted, got, failures)) is not None:
            unavailable[wanted.name] = reason
    if failures:
        raise SystemExit(
            "could not reach PyPI for (run again; the cache keeps what was read):\n  "
            + "\n  ".join(failures)
        )

    modules: dict[str, set[str]] = {}
    for r in reads:
        for module in provided(r):
            modules.setdefault(module, set()).add(r.wanted.name)
    preferred = preferred_table(PREFERRED)
    problems = [
        f"{module} = {dist}: "
        + (
            f"not among its candidates {sorted(modules[module])}"
            if module in modules
            else "no distribution read provides that module"
        )
        for module, dist in sorted(preferred.items())
        if dist not in modules.get(module, ())
    ]
    if problems:
        raise SystemExit(f"{PREFERRED}:\n  " + "\n  ".join(problems))
    document = {
        "schema_version": MAP_SCHEMA,
        "modules": {module: sorted(dists) for module, dists in sorted(modules.items())},
        "preferred": dict(sorted(preferred.items())),
        "distributions": {
            r.wanted.name: {"version": r.wanted.version, "wheel": r.file.filename}
            for r in sorted(reads, key=lambda r: r.wanted.name)
        },
        "unavailable": dict(sorted(unavailable.items())),
    }
    return Result(document, tuple(reads), overlap)


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def summary(result: Result, seconds: float) -> list[str]:
    doc = result.document
    modules: dict[str, list[str]] = doc["modules"]
    conflicts = {m: d for m, d in modules.items() if len(d) > 1}
    unresolved = sorted(m for m in conflicts if m not in doc["preferred"])
    fetched = sum(r.fetched for r in result.reads)
    network_reads = [r for r in result.reads if r.fetched]
    size_read = sum(r.file.size or 0 for r in network_reads)
    lines = [
        f"distributions read: {len(doc['distributions'])}"
        f" ({len(network_reads)} from the network, the rest from the cache)",
        f"modules: {len(modules)}; provided by more than one distribution: {len(conflicts)}"
        f" ({len(conflicts) - len(unresolved)} with a preferred one)",
        f"fetched {fetched:,} bytes of wheels totalling {size_read:,} bytes"
        f" ({100 * fetched / size_read:.2f}%)"
        if size_read
        else "fetched no wheel bytes",
        f"extra pins already in the profiles (their profile version used):"
        f" {len(result.extras_in_profiles)} {' '.join(result.extras_in_profiles)}".rstrip(),
        f"time: {seconds:.1f} s",
        "conflicts without a preferred distribution:",
        *(f"  {m}: {', '.join(conflicts[m])}" for m in unresolved),
        f"unavailable: {len(doc['unavailable'])}",
        *(f"  {name}: {why}" for name, why in doc["unavailable"].items()),
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    started = time.monotonic()
    result = build(args.cache, args.jobs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(result.document), encoding="utf-8")
    print(f"wrote {args.out}")
    print("\n".join(summary(result, time.monotonic() - started)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
