"""What the parsers of declared requirements share: finding codes, their result type, and
the step from a PEP 508 string to a `DeclaredRequirement`.

Each parser is a pure function of one file's path and text. It never opens another file:
files it names (`-r base.txt`, `open("requirements.txt")` in setup.py) come back as
`Include`s, which `envfix.scanner.declared` resolves, so that cycles, files outside the repo and
files reached twice are handled in one place.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envfix.model import DeclaredRequirement, Finding, Location, RequirementKind, Severity

UNPARSABLE_REQUIREMENT = "unparsable-requirement"
SETUP_PY_DYNAMIC = "setup-py-dynamic"
MISSING_REQUIREMENTS_FILE = "missing-requirements-file"
CUSTOM_INDEX = "custom-index"
CONDA_SYSTEM_PACKAGE = "conda-system-package"
INCLUDE_OUTSIDE_REPO = "include-outside-repo"
INCLUDE_CYCLE = "include-cycle"
UNREADABLE_FILE = "unreadable-file"

FINDING_CODES = (
    UNPARSABLE_REQUIREMENT,
    SETUP_PY_DYNAMIC,
    MISSING_REQUIREMENTS_FILE,
    CUSTOM_INDEX,
    CONDA_SYSTEM_PACKAGE,
    INCLUDE_OUTSIDE_REPO,
    INCLUDE_CYCLE,
    UNREADABLE_FILE,
)

CONSTRAINTS_GROUP = "constraints"
"""Group of requirements read from a constraints file (`-c`, `constraints*.txt`): they only
cap versions of what something else installs, so they must not be installed on their own."""

# A URL scheme as pip recognises one; anything else in a requirement's URL is a local path.
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Include:
    """A file another file tells pip (or setup.py) to read."""

    path: str
    """As written, e.g. `requirements/base.txt` or `../shared.txt`."""
    location: Location
    """The line that names the file."""
    bases: tuple[str, ...]
    """Folders (relative to the repo root) to resolve `path` against, first match wins."""
    constraint: bool = False
    group: str | None = None
    """The group its requirements belong to, unless the file's own name says otherwise."""


@dataclass(frozen=True)
class Parsed:
    """What one parser read from one file."""

    requirements: tuple[DeclaredRequirement, ...] = ()
    findings: tuple[Finding, ...] = ()
    python_versions: tuple[tuple[str, Location], ...] = ()
    includes: tuple[Include, ...] = ()
    project_names: tuple[str, ...] = ()


@dataclass
class Collector:
    """Gathers a parser's results while it runs; `result()` freezes them."""

    requirements: list[DeclaredRequirement] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    python_versions: list[tuple[str, Location]] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    system_packages: list[tuple[str, Location]] = field(default_factory=list)
    project_names: list[str] = field(default_factory=list)
    """The repo's own distribution name, where setup.py or pyproject.toml states it."""
    """Non-Python conda packages, reported together as one finding by `result()`."""

    def finding(
        self, code: str, message: str, location: Location | None, severity: Severity = "warning"
    ) -> None:
        self.findings.append(Finding(code, message, location, severity))

    def unparsable(self, text: str, location: Location, why: str = "") -> None:
        why = why.strip().splitlines()[0] if why.strip() else ""
        if "$" in text:
            why = "it uses a shell or environment variable, whose value is unknown here"
        detail = f": {why}" if why else ""
        self.finding(UNPARSABLE_REQUIREMENT, f"cannot read requirement '{text}'{detail}", location)

    def project_name(self, name: object) -> None:
        if isinstance(name, str) and name.strip():
            self.project_names.append(canonicalize_name(name.strip()))

    def python_version(self, version: str, location: Location) -> None:
        version = version.strip()
        if version:
            self.python_versions.append((version, location))

    def add_pep508(
        self,
        text: str,
        location: Location,
        source: str,
        *,
        group: str | None = None,
        extra_marker: str | None = None,
    ) -> None:
        """Add the PEP 508 requirement `text`, or a finding when it is not one."""
        try:
            req = Requirement(text.strip())
            marker = combine_markers(str(req.marker) if req.marker else None, extra_marker)
        except (InvalidRequirement, InvalidMarker) as exc:
            self.unparsable(text.strip(), location, str(exc))
            return
        self.requirements.append(
            from_requirement(
                req, location, source, group=group, original=text.strip(), marker=marker
            )
        )

    def extend(self, parsed: Parsed) -> None:
        self.requirements.extend(parsed.requirements)
        self.findings.extend(parsed.findings)
        self.python_versions.extend(parsed.python_versions)
        self.includes.extend(parsed.includes)
        self.project_names.extend(parsed.project_names)

    def result(self) -> Parsed:
        return Parsed(
            tuple(self.requirements),
            (*self.findings, *self._system_package_finding()),
            tuple(self.python_versions),
            tuple(self.includes),
            tuple(dict.fromkeys(self.project_names)),
        )

    def _system_package_finding(self) -> list[Finding]:
        """One finding for all the non-Python conda packages of a file or command, not one
        per package (an exported environment lists dozens: blas, openssl, zlib, ...)."""
        if not self.system_packages:
            return []
        names = sorted(
            {name for name, _ in self.system_packages},
            key=lambda n: (n not in _NOTABLE_SYSTEM_PACKAGES, n),
        )
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        what = "packages are" if len(names) > 1 else "package is"
        return [
            Finding(
                CONDA_SYSTEM_PACKAGE,
                f"conda {what} not Python (pip does not install them): {shown}",
                self.system_packages[0][1],
                "info",
            )
        ]


# Non-Python conda packages worth naming first: they say what the code needs of the machine.
_NOTABLE_SYSTEM_PACKAGES = frozenset(
    {"cudatoolkit", "cuda-toolkit", "cudnn", "nccl", "ffmpeg", "libsndfile", "gcc", "cmake"}
)


def from_requirement(
    req: Requirement,
    location: Location,
    source: str,
    *,
    group: str | None,
    original: str,
    marker: str | None = None,
    editable: bool = False,
) -> DeclaredRequirement:
    """The `DeclaredRequirement` for a parsed PEP 508 requirement; `marker` replaces its own."""
    return DeclaredRequirement(
        name=canonicalize_name(req.name),
        location=location,
        source=source,
        specifier=str(req.specifier),
        extras=tuple(sorted(req.extras)),
        marker=marker,
        url=req.url,
        kind=url_kind(req.url) if req.url else "registry",
        editable=editable,
        group=group,
        original=original,
    )


def url_kind(url: str) -> RequirementKind:
    """`url` for something fetched from a server, `local` for a path or a `file:` URL."""
    if url.lower().startswith("file:") or not _URL_SCHEME.match(url):
        return "local"
    return "url"


def is_remote(path: str) -> bool:
    return url_kind(path) == "url"


def combine_markers(first: str | None, second: str | None) -> str | None:
    """Both markers joined with `and`, normalised; raises InvalidMarker for a bad one."""
    if not first or not second:
        text = first or second
        return str(Marker(text)) if text else None
    return str(Marker(f"({first}) and ({second})"))


def dirname(relpath: str) -> str:
    return posixpath.dirname(relpath)


class TextLines:
    """Best-effort line numbers for formats whose parsers give none (TOML, INI)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, needle: str, start: int = 1) -> int | None:
        """The first line, from `start` on (1-based), that contains `needle`."""
        for index in range(max(start, 1) - 1, len(self.lines)):
            if needle in self.lines[index]:
                return index + 1
        return None

    def match(self, pattern: re.Pattern[str], start: int = 1) -> int | None:
        for index in range(max(start, 1) - 1, len(self.lines)):
            if pattern.search(self.lines[index]):
                return index + 1
        return None
