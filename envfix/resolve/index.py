"""What a package index knows of a project: its files, versions, upload dates and wheel tags.

Reads the simple repository API as JSON (PEP 691), from PyPI or any index that speaks it, and
keeps every answer on disk: a second lock of the same repo needs no network, and when the
network is down the cached answers are used, however old.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from envfix.errors import NetworkError

PYPI_SIMPLE = "https://pypi.org/simple"
CACHE_SECONDS = 24 * 3600
_ACCEPT = "application/vnd.pypi.simple.v1+json"
_USER_AGENT = "envfix (+https://pypi.org/project/envfix/)"

Fetch = Callable[[str], bytes | None]
"""GET a URL: its body, None for 404, NetworkError when the host cannot be reached."""


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a project on the index."""

    filename: str
    version: Version
    tags: frozenset[Tag]
    """Empty for an sdist."""
    requires_python: str | None = None
    upload_time: datetime | None = None
    yanked: bool = False

    @property
    def is_wheel(self) -> bool:
        return bool(self.tags)

    @property
    def is_pure(self) -> bool:
        return any(tag.platform == "any" for tag in self.tags)

    def supports_python(self, python_version: str) -> bool:
        if not self.requires_python:
            return True
        try:
            return SpecifierSet(self.requires_python).contains(python_version, prereleases=True)
        except InvalidSpecifier:
            return True


Install = Literal["wheel", "sdist", "compiled-sdist"]
"""How a version installs on a runtime: a compatible wheel; an sdist of a pure-Python
project (builds anywhere); an sdist of a project with compiled code (needs a compiler and
usually fails for old releases on a new Python)."""


@dataclass(frozen=True)
class Project:
    """A project's files on the index."""

    name: str
    files: tuple[ReleaseFile, ...]

    @cached_property
    def versions(self) -> dict[Version, tuple[ReleaseFile, ...]]:
        by_version: dict[Version, list[ReleaseFile]] = {}
        for f in self.files:
            by_version.setdefault(f.version, []).append(f)
        return {v: tuple(by_version[v]) for v in sorted(by_version)}

    @cached_property
    def has_compiled_code(self) -> bool:
        """Whether any release ships platform wheels: its sdists then need a compiler."""
        return any(f.is_wheel and not f.is_pure for f in self.files)

    def upload_time(self, version: Version) -> datetime | None:
        times = [f.upload_time for f in self.versions.get(version, ()) if f.upload_time]
        return min(times) if times else None

    def how_installs(
        self, version: Version, tags: Iterable[Tag], python_version: str
    ) -> Install | None:
        """How `version` installs for a runtime with these wheel `tags`; None if it cannot."""
        files = [f for f in self.versions.get(version, ()) if f.supports_python(python_version)]
        supported = tags if isinstance(tags, frozenset) else frozenset(tags)
        if any(f.tags & supported for f in files):
            return "wheel"
        if any(not f.is_wheel for f in files):
            return "compiled-sdist" if self.has_compiled_code else "sdist"
        return None

    def yanked(self, version: Version) -> bool:
        files = self.versions.get(version, ())
        return bool(files) and all(f.yanked for f in files)


class PackageIndex(Protocol):
    def project(self, name: str) -> Project | None:
        """The project's files, or None when the index has no such project."""
        ...


def release_file(entry: dict[str, Any]) -> ReleaseFile | None:
    """A PEP 691 file entry as a `ReleaseFile`; None for files that are not wheels or sdists."""
    filename = str(entry.get("filename", ""))
    try:
        if filename.endswith(".whl"):
            _, version, _, tags = parse_wheel_filename(filename)
        else:
            _, version = parse_sdist_filename(filename)
            tags = frozenset()
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    uploaded = entry.get("upload-time")
    yanked = entry.get("yanked", False)
    return ReleaseFile(
        filename=filename,
        version=version,
        tags=frozenset(tags),
        requires_python=entry.get("requires-python") or None,
        upload_time=datetime.fromisoformat(uploaded.replace("Z", "+00:00")) if uploaded else None,
        yanked=bool(yanked),
    )


def default_cache_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("envfix") / "index"


class SimpleIndex:
    """A PEP 691 index with an on-disk cache.

    Answers younger than `max_age` seconds are used without asking the index; older ones are
    refreshed, and used anyway when the index cannot be reached (`stale` then says so).
    """

    def __init__(
        self,
        url: str = PYPI_SIMPLE,
        cache_dir: Path | None = None,
        *,
        max_age: float = CACHE_SECONDS,
        offline: bool = False,
        fetch: Fetch | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.cache_dir = (cache_dir or default_cache_dir()) / hashlib.sha256(
            self.url.encode()
        ).hexdigest()[:16]
        self.max_age = max_age
        self.offline = offline
        self.fetch = fetch or _http_get
        self.stale = False
        """Set when an answer came from the cache because the index could not be reached."""
        self._projects: dict[str, Project | None] = {}

    def project(self, name: str) -> Project | None:
        key = canonicalize_name(name)
        if key not in self._projects:
            doc = self._document(key)
            self._projects[key] = None if doc is None else _project(key, doc)
        return self._projects[key]

    def _document(self, name: str) -> dict[str, Any] | None:
        path = self.cache_dir / f"{name}.json"
        cached = _read_cache(path)
        if cached is not None and (self.offline or time.time() - cached["fetched"] < self.max_age):
            return cached["document"]  # type: ignore[no-any-return]
        if self.offline:
            raise NetworkError(
                f"no cached index data for {name}, and envfix is offline",
                hint="run once with the network on, or drop --offline",
            )
        try:
            body = self.fetch(f"{self.url}/{name}/")
        except NetworkError:
            if cached is None:
                raise
            self.stale = True
            return cached["document"]  # type: ignore[no-any-return]
        document = json.loads(body) if body is not None else None
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name of this process's own: parallel envfix processes (a batch) share the cache.
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"fetched": time.time(), "document": document}))
        temporary.replace(path)
        return document


def _read_cache(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "document" in data else None


def _project(name: str, doc: dict[str, Any]) -> Project:
    files = (release_file(entry) for entry in doc.get("files", []) if isinstance(entry, dict))
    return Project(name, tuple(f for f in files if f is not None))


def _http_get(url: str) -> bytes | None:
    request = urllib.request.Request(url, headers={"Accept": _ACCEPT, "User-Agent": _USER_AGENT})
    for attempt in range(3):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                content_type = response.headers.get("Content-Type", "")
                body: bytes = response.read()
                if "json" not in content_type:
                    raise NetworkError(f"{url} did not answer with the JSON simple API")
                return body
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code < 500 or attempt == 2:
                raise NetworkError(f"{url} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if attempt == 2:
                host = urllib.parse.urlsplit(url).hostname
                raise NetworkError(
                    f"cannot reach the package index ({host})",
                    hint="check the network; results envfix has seen before still work offline",
                ) from exc
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")
