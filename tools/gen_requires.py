"""Generate what every distribution of the bundled Colab profiles requires, from the METADATA of
its wheel.

    python -m tools.gen_requires [--out envfix/data/requires.json] [--cache DIR] [--jobs N]
                                 [--skip-host HOST ...]

For every (name, version) in any profile of `envfix/data/profiles/`, one wheel is chosen and
only its central directory and `*.dist-info/METADATA` are read, with HTTP Range requests
(`envfix.scanner.wheelfiles`). The wheel is the one the distribution was installed from when
the profile records a wheel URL on a host in `URL_HOSTS` (its METADATA is that build's, a
`+cpu` torch's among them); else PyPI's wheel of the public version (local label dropped) for
the profile's Python on manylinux x86_64, else a pure-Python one, else any wheel of that
version (the choice of `tools/gen_import_map.py`, ranked for one Python). A pair found in
several profiles is read as the newest of them has it. Distributions installed from a git or
file URL, and versions with no wheel on PyPI, are listed under `unavailable` with the reason.

`--skip-host HOST` reads the distributions installed from HOST as if they had no URL (from
PyPI): for a machine that cannot reach HOST. The committed file was made with
`--skip-host download.pytorch.org --skip-host pypi.nvidia.com`, as the network test does.

Index answers and METADATA headers are cached under `--cache` (`index/` per release,
`metadata/<host>/<wheel>.json`), so a rerun reads nothing from the network. A fetch that still
fails after retries stops the run, so a network hiccup never changes the output; the output
is deterministic, and tests/tools/test_gen_requires.py checks it against a fresh run.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.metadata import parse_email
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envfix.scanner.wheelfiles import (
    RangeFetchError,
    WheelReadError,
    read_wheel_metadata,
)
from tools.gen_import_map import (
    CountingOpener,
    IndexFile,
    Unavailable,
    Wanted,
    choose_file,
    index_document,
    preferred_tags,
    release_files,
    strip_local,
    with_retries,
    write_atomic,
)

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "envfix" / "data" / "profiles"
DEFAULT_OUT = ROOT / "envfix" / "data" / "requires.json"
DEFAULT_CACHE = Path.home() / ".cache" / "envfix-tools" / "requires"
SCHEMA = 1
URL_HOSTS = ("download.pytorch.org", "pypi.nvidia.com")
"""Hosts whose wheel URLs in the profiles are read; any other URL host (github.com) is not,
so that the output does not depend on which hosts a machine happens to reach."""
_SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")


@dataclass(frozen=True)
class Target:
    """One (name, version) of the profiles, as the newest profile that has it installed it."""

    name: str
    version: str | None
    """As in the profile, local label kept; None for a distribution installed from a VCS
    URL without one."""
    url: str | None
    python: tuple[int, int]
    glibc: tuple[int, int]
    profile: str

    @property
    def key(self) -> str:
        return f"{self.name}=={self.version}" if self.version else self.name


@dataclass(frozen=True)
class Found:
    """What one wheel's METADATA says."""

    target: Target
    requires_dist: tuple[str, ...]
    requires_python: str | None
    source: str
    """The wheel's file name."""
    from_url: bool
    """Read from the profile's URL rather than from PyPI."""
    size: int
    fetched: int
    """Bytes read from the network in this run (0 when the cache answered)."""
    names: tuple[str, str]
    """The Name and Version the METADATA gives."""


@dataclass(frozen=True)
class Missing:
    target: Target
    reason: str


@dataclass(frozen=True)
class Failure:
    """A fetch that failed after its retries: the run stops rather than record it."""

    target: Target
    message: str


Outcome = Found | Missing | Failure


# --- inputs -----------------------------------------------------------------------------


def _major_minor(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def profile_targets(folder: Path) -> list[Target]:
    """Every distinct (canonical name, version) of the profiles, sorted."""
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    if not docs:
        raise SystemExit(f"{folder}: no profiles")
    # Newest first, so that a pair in several profiles is read as the newest installed it.
    docs.sort(key=lambda d: (d["released"], d["name"]), reverse=True)
    targets: dict[tuple[str, str | None], Target] = {}
    for doc in docs:
        python = _major_minor(doc["python_version"])
        glibc = _major_minor(doc["glibc"])
        for dist in doc["distributions"]:
            name = canonicalize_name(dist["name"])
            version = dist.get("version") or None
            if (name, version) not in targets:
                url = dist.get("url") or None
                targets[name, version] = Target(name, version, url, python, glibc, doc["name"])
    return [targets[k] for k in sorted(targets, key=lambda k: (k[0], k[1] or ""))]


# --- reading --------------------------------------------------------------------------


class IndexMemo:
    """One index document per project for the whole run, however many of its versions are
    wanted; only the fields `release_files` reads are kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._docs: dict[str, dict[str, Any] | None] = {}
        self.fetched = 0

    def __call__(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._docs:
                doc = index_document(name)
                fields = ("filename", "url", "size", "yanked")
                self._docs[name] = (
                    None
                    if doc is None
                    else {"files": [{k: f.get(k) for k in fields} for f in doc["files"]]}
                )
                with self._lock:
                    self.fetched += 1
            return self._docs[name]


def _headers(metadata: bytes) -> str:
    """METADATA without its body (the long description), which nothing here reads."""
    text = metadata.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return text.split("\n\n", 1)[0] + "\n"


def read_metadata(
    url: str, size: int | None, cache: Path, opener: CountingOpener, *, may_be_gone: bool
) -> dict[str, Any]:
    """The cache entry of one wheel: its METADATA headers, or the error that made it
    unreadable. Fetch failures are raised, never cached, except the lasting ones (an HTTP
    4xx such as 403 or 404) of a URL that `may_be_gone`: a profile's URL may outlive its
    file, a file PyPI lists may not."""
    parts = urlsplit(url)
    filename = unquote(parts.path.rpartition("/")[2])
    path = cache / "metadata" / (parts.hostname or "local") / f"{filename}.json"
    if path.exists():
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return {**cached, "fetched": 0}
    try:
        read = with_retries(lambda: read_wheel_metadata(url, size, opener=opener), filename)
    except RangeFetchError as exc:
        if exc.transient or not may_be_gone:
            raise
        entry: dict[str, Any] = {"error": exc.message, "filename": filename, "url": url}
    except WheelReadError as exc:
        entry = {"error": f"unreadable: {exc.message}", "filename": filename, "url": url}
    else:
        entry = {
            "filename": filename,
            "headers": _headers(read.data),
            "member": read.member,
            "size": read.file_size,
            "url": url,
        }
    write_atomic(path, json.dumps(entry, indent=1, sort_keys=True) + "\n")
    return {**entry, "fetched": opener.fetched.get(url, 0)}


def _found(target: Target, entry: Mapping[str, Any], from_url: bool) -> Found | Missing:
    raw, unparsed = parse_email(entry["headers"])
    bad = sorted({"requires-dist", "requires-python"} & set(unparsed))
    if bad:
        return Missing(target, f"unreadable METADATA field {', '.join(bad)} in {entry['filename']}")
    return Found(
        target,
        tuple(raw.get("requires_dist", [])),
        raw.get("requires_python"),
        entry["filename"],
        from_url,
        entry["size"],
        entry["fetched"],
        (raw.get("name", ""), raw.get("version", "")),
    )


def _url_kind(url: str) -> str:
    if url.startswith(_VCS_PREFIXES):
        return f"{url.partition('+')[0]} URL"
    return f"{urlsplit(url).scheme or 'path'} URL"


def read_target(
    target: Target, cache: Path, skip: frozenset[str], opener: CountingOpener, index: IndexMemo
) -> Outcome:
    try:
        return _read_target(target, cache, skip, opener, index)
    except (RangeFetchError, OSError) as exc:
        message = exc.message if isinstance(exc, RangeFetchError) else str(exc)
        return Failure(target, message)


def _read_target(
    target: Target, cache: Path, skip: frozenset[str], opener: CountingOpener, index: IndexMemo
) -> Outcome:
    prefix = ""
    if target.url is not None:
        parts = urlsplit(target.url)
        if parts.scheme not in ("http", "https") or target.url.startswith(_VCS_PREFIXES):
            return Missing(target, f"installed from {_url_kind(target.url)}")
        host = parts.hostname or ""
        if host in URL_HOSTS and host not in skip and parts.path.endswith(".whl"):
            url = parts._replace(fragment="").geturl()
            entry = read_metadata(url, None, cache, opener, may_be_gone=True)
            if "headers" in entry:
                return _found(target, entry, from_url=True)
            prefix = f"installed from {host} ({entry['error']}); "
        else:
            prefix = f"installed from {host} ({'skipped' if host in skip else 'not read'}); "
    if target.version is None:
        return Missing(target, f"{prefix}no version in the profile")
    public = strip_local(target.version)
    try:
        Version(public)
    except InvalidVersion:
        return Missing(target, f"{prefix}{public!r} is not a PEP 440 version")
    try:
        files = release_files(Wanted(target.name, public, target.profile), cache, index)
    except Unavailable as exc:
        return Missing(target, f"{prefix}{exc}")
    wheels = [f for f in files if f.kind == "wheel"]
    if not wheels:
        sdist = any(f.filename.endswith(_SDIST_SUFFIXES) for f in files)
        return Missing(target, f"{prefix}{'sdist only' if sdist else 'no wheel or sdist'}")
    ranked = preferred_tags(target.glibc, [target.python])
    wheel: IndexFile = choose_file(wheels, ranked, pure_first=False)
    entry = read_metadata(wheel.url, wheel.size, cache, opener, may_be_gone=False)
    if "headers" not in entry:
        return Missing(target, f"{prefix}{entry['error']}")
    return _found(target, entry, from_url=False)


# --- the document -------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    document: dict[str, Any]
    found: tuple[Found, ...]
    index_fetched: int


def _parallel(jobs: int, call: Callable[[Target], Outcome], items: list[Target]) -> list[Outcome]:
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(call, items))


def build(
    cache: Path, jobs: int, skip: frozenset[str] = frozenset(), profiles: Path = PROFILES
) -> Result:
    targets = profile_targets(profiles)
    opener = CountingOpener()
    index = IndexMemo()
    outcomes = _parallel(jobs, lambda t: read_target(t, cache, skip, opener, index), targets)
    failures = [o for o in outcomes if isinstance(o, Failure)]
    if failures:
        hosts = sorted(
            {urlsplit(f.target.url or "").hostname or "" for f in failures} & set(URL_HOSTS)
        )
        hint = "".join(
            f"\nif {host} cannot be reached from here, --skip-host {host} reads its"
            " distributions from PyPI instead"
            for host in hosts
        )
        raise SystemExit(
            "could not fetch, after retries (run again; the cache keeps what was read):\n  "
            + "\n  ".join(f"{f.target.key}: {f.message}" for f in failures)
            + hint
        )
    found = tuple(o for o in outcomes if isinstance(o, Found))
    distributions: dict[str, dict[str, dict[str, Any]]] = {}
    for f in found:
        distributions.setdefault(f.target.name, {})[f.target.version or ""] = {
            "requires_dist": list(f.requires_dist),
            "requires_python": f.requires_python,
            "source": f.source,
        }
    unavailable = {o.target.key: o.reason for o in outcomes if isinstance(o, Missing)}
    document = {
        "schema_version": SCHEMA,
        "distributions": distributions,
        "unavailable": unavailable,
    }
    return Result(document, found, index.fetched)


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def _differs(found: Found) -> bool:
    """Whether the METADATA names another project or version than the profile does."""
    name, version = found.names
    wanted = found.target.version or ""
    try:
        same_version = Version(version) in (Version(wanted), Version(strip_local(wanted)))
    except InvalidVersion:
        same_version = version == wanted
    return canonicalize_name(name) != found.target.name or not same_version


def summary(result: Result, text: str, seconds: float) -> list[str]:
    doc = result.document
    versions = sum(len(v) for v in doc["distributions"].values())
    network = [f for f in result.found if f.fetched]
    fetched = sum(f.fetched for f in network)
    size = sum(f.size for f in network)
    lists = {tuple(v["requires_dist"]) for d in doc["distributions"].values() for v in d.values()}
    lines = sum(len(v["requires_dist"]) for d in doc["distributions"].values() for v in d.values())
    from_url = sorted(f.source for f in result.found if f.from_url)
    # Installed from a URL, read from PyPI: their METADATA may not be that build's.
    instead = sorted(
        f"{f.target.key} <- {f.source}" for f in result.found if f.target.url and not f.from_url
    )
    odd = sorted(
        f"  {f.target.key}: METADATA says {f.names[0]} {f.names[1]}"
        for f in result.found
        if _differs(f)
    )
    return [
        f"distributions: {len(doc['distributions'])} projects, {versions} versions"
        f" ({len(network)} wheels read from the network, the rest from the cache;"
        f" {result.index_fetched} index documents fetched)",
        f"read from the profile's URL: {len(from_url)}",
        f"installed from a URL but read from PyPI: {len(instead)}",
        *(f"  {line}" for line in instead),
        f"Requires-Dist lines: {lines}, distinct lists: {len(lists)}",
        f"output: {len(text.encode()):,} bytes",
        f"fetched {fetched:,} bytes of wheels totalling {size:,} bytes"
        f" ({100 * fetched / size:.2f}%)"
        if size
        else "fetched no wheel bytes",
        f"time: {seconds:.1f} s",
        *(["METADATA naming another project or version:", *odd] if odd else []),
        f"unavailable: {len(doc['unavailable'])}",
        *(f"  {key}: {why}" for key, why in doc["unavailable"].items()),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument(
        "--skip-host",
        action="append",
        default=[],
        choices=URL_HOSTS,
        help="read the distributions installed from this host from PyPI instead",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    started = time.monotonic()
    result = build(args.cache, args.jobs, frozenset(args.skip_host))
    text = render(result.document)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    print("\n".join(summary(result, text, time.monotonic() - started)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
