"""Every place a repo declares its requirements, read without running anything.

Each format has its own parser, chosen from `FORMATS` by the file's path: requirements files,
setup.py, setup.cfg, pyproject.toml, Pipfile, conda environment files and READMEs. Parsers
are pure functions of a file's path and text; this module reads the files (defensively: size
limit, binary check, UTF-8 then Latin-1), follows the files they include (`-r base.txt`, a
setup.py that opens requirements.txt), and reports include cycles and missing files.

Group conventions: None for main requirements; an extra's or a dependency group's name;
`dev` / `test` / `docs` / `lint` for requirements files so named (`requirements-dev.txt`,
`docs/requirements.txt`) and Pipfile's `dev-packages`; `constraints` for constraints files,
which cap versions but are not themselves to be installed.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from envfix.model import DeclaredRequirement, Finding, Location
from envfix.scanner.conda import is_environment_file, parse_environment_file
from envfix.scanner.pipcmd import parse_pip_command
from envfix.scanner.readme import is_readme, parse_readme
from envfix.scanner.reqcommon import (
    CONDA_SYSTEM_PACKAGE,
    CUSTOM_INDEX,
    FINDING_CODES,
    INCLUDE_CYCLE,
    INCLUDE_OUTSIDE_REPO,
    MISSING_REQUIREMENTS_FILE,
    SETUP_PY_DYNAMIC,
    UNPARSABLE_REQUIREMENT,
    UNREADABLE_FILE,
    Collector,
    Include,
    Parsed,
    is_remote,
)
from envfix.scanner.reqfile import group_for_path, is_requirements_file, parse_requirements_file
from envfix.scanner.setuppy import parse_setup_cfg, parse_setup_py
from envfix.scanner.tomldeps import parse_pipfile, parse_pyproject

__all__ = [
    "CONDA_SYSTEM_PACKAGE",
    "CUSTOM_INDEX",
    "FINDING_CODES",
    "FORMATS",
    "INCLUDE_CYCLE",
    "INCLUDE_OUTSIDE_REPO",
    "MAX_FILE_BYTES",
    "MISSING_REQUIREMENTS_FILE",
    "SETUP_PY_DYNAMIC",
    "UNPARSABLE_REQUIREMENT",
    "UNREADABLE_FILE",
    "DeclarationFormat",
    "DeclaredResult",
    "is_declaration_file",
    "parse_pip_command",
    "read_declared",
]

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Declaration files larger than this are skipped: real ones are a few kB."""
_BINARY_PROBE = 8192


@dataclass(frozen=True)
class DeclaredResult:
    requirements: tuple[DeclaredRequirement, ...]
    findings: tuple[Finding, ...]
    python_versions: tuple[tuple[str, Location], ...]
    """Python versions the repo asks for (`3.6`, `>=3.5`), each with where it does."""
    project_names: tuple[str, ...] = ()
    """The repo's own distribution names (canonical), from setup.py, setup.cfg, pyproject."""


@dataclass(frozen=True)
class DeclarationFormat:
    name: str
    applies_to: Callable[[str], bool]
    """Whether a file (POSIX path relative to the repo root) is in this format."""
    parse: Callable[[str, str], Parsed]
    """Parses a file's (path, text)."""


def _named(filename: str) -> Callable[[str], bool]:
    return lambda relpath: relpath.rpartition("/")[2] == filename


def _parse_requirements(relpath: str, text: str) -> Parsed:
    return parse_requirements_file(relpath, text, group=group_for_path(relpath))


FORMATS: tuple[DeclarationFormat, ...] = (
    DeclarationFormat("requirements", is_requirements_file, _parse_requirements),
    DeclarationFormat("setup.py", _named("setup.py"), parse_setup_py),
    DeclarationFormat("setup.cfg", _named("setup.cfg"), parse_setup_cfg),
    DeclarationFormat("pyproject", _named("pyproject.toml"), parse_pyproject),
    DeclarationFormat("pipfile", _named("Pipfile"), parse_pipfile),
    DeclarationFormat("conda", is_environment_file, parse_environment_file),
    DeclarationFormat("readme", is_readme, parse_readme),
)
"""The first format whose `applies_to` accepts a path parses it."""


def format_for(relpath: str) -> DeclarationFormat | None:
    return next((fmt for fmt in FORMATS if fmt.applies_to(relpath)), None)


def is_declaration_file(relpath: str) -> bool:
    """True for any file one of the parsers reads."""
    return format_for(relpath) is not None


def read_declared(root: Path, relpaths: Iterable[str]) -> DeclaredResult:
    """Requirements declared by the files `relpaths` (POSIX, relative to `root`; files no
    parser reads are ignored) and by the files they include."""
    reader = _Reader(root)
    for relpath in dict.fromkeys(relpaths):
        fmt = format_for(relpath)
        if fmt is not None:
            reader.read(relpath, fmt.parse)
    reader.follow_includes()
    reader.report_cycles()
    return DeclaredResult(
        tuple(reader.out.requirements),
        tuple(reader.out.findings),
        tuple(reader.out.python_versions),
        tuple(dict.fromkeys(reader.out.project_names)),
    )


def _included_parser(group: str | None, constraint: bool) -> Callable[[str, str], Parsed]:
    """An included file is read as a requirements file, whatever its name."""

    def parse(relpath: str, text: str) -> Parsed:
        return parse_requirements_file(relpath, text, group=group, constraint=constraint)

    return parse


class _Reader:
    """Reads files once each, and follows what they include."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.resolved_root = root.resolve()
        self.out = Collector()
        self.parsed: set[str] = set()
        self.pending: deque[tuple[str, Include]] = deque()
        self.edges: dict[str, list[tuple[str, Location]]] = defaultdict(list)

    def read(self, relpath: str, parse: Callable[[str, str], Parsed]) -> None:
        if relpath in self.parsed:
            return
        self.parsed.add(relpath)
        text = self._text(relpath)
        if text is None:
            return
        try:
            parsed = parse(relpath, text)
        except Exception as exc:  # a parser's bug must not stop the scan of the whole repo
            self._finding(
                UNREADABLE_FILE, f"could not be read ({type(exc).__name__}: {exc})", relpath
            )
            return
        self.out.requirements.extend(parsed.requirements)
        self.out.findings.extend(parsed.findings)
        self.out.python_versions.extend(parsed.python_versions)
        self.out.project_names.extend(parsed.project_names)
        self.pending.extend((relpath, include) for include in parsed.includes)

    def follow_includes(self) -> None:
        # Breadth first, after every file the walk found: a file found both ways is read
        # as what its own name says it is.
        while self.pending:
            origin, include = self.pending.popleft()
            target = self._resolve(include)
            if target is None:
                continue
            self.edges[origin].append((target, include.location))
            self.read(
                target,
                _included_parser(group_for_path(target) or include.group, include.constraint),
            )

    def _resolve(self, include: Include) -> str | None:
        """The repo file an include names, or None after a finding saying why not."""
        path = include.path.strip().replace("\\", "/")
        if is_remote(path):
            self.out.finding(
                INCLUDE_OUTSIDE_REPO,
                f"reads requirements from the URL '{path}', which envfix does not download",
                include.location,
            )
            return None
        outside = posixpath.isabs(path) or path.startswith("~")
        for base in () if outside else include.bases:
            candidate = posixpath.normpath(posixpath.join(base, path))
            if candidate == ".." or candidate.startswith("../"):
                outside = True
                continue
            full = self.root / candidate
            try:
                if not full.is_file():
                    continue
                if not full.resolve().is_relative_to(self.resolved_root):
                    outside = True
                    continue
            except (OSError, ValueError):
                continue
            return candidate
        if outside:
            self.out.finding(
                INCLUDE_OUTSIDE_REPO,
                f"includes '{include.path}', which is outside the repo; not read",
                include.location,
            )
        else:
            self.out.finding(
                MISSING_REQUIREMENTS_FILE,
                f"installs from '{include.path}', which the repo does not have",
                include.location,
            )
        return None

    def report_cycles(self) -> None:
        """One finding per include that closes a cycle (pip would recurse forever)."""
        on_path: dict[str, int] = {}
        done: set[str] = set()
        for start in sorted(self.edges):
            if start in done:
                continue
            path = [start]
            on_path[start] = 0
            stack = [iter(self.edges[start])]
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    stack.pop()
                    done.add(path[-1])
                    del on_path[path.pop()]
                    continue
                target, location = step
                if target in on_path:
                    cycle = " -> ".join([*path[on_path[target] :], target])
                    self.out.finding(
                        INCLUDE_CYCLE, f"requirements files include each other: {cycle}", location
                    )
                elif target not in done:
                    on_path[target] = len(path)
                    path.append(target)
                    stack.append(iter(self.edges.get(target, ())))

    def _text(self, relpath: str) -> str | None:
        path = self.root / relpath
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                self._finding(
                    UNREADABLE_FILE,
                    f"skipped: {size:,} bytes, more than the {MAX_FILE_BYTES:,} envfix reads",
                    relpath,
                )
                return None
            data = path.read_bytes()
        except (OSError, ValueError) as exc:
            self._finding(UNREADABLE_FILE, f"cannot be read: {exc}", relpath)
            return None
        return self._decode(data, relpath)

    def _decode(self, data: bytes, relpath: str) -> str | None:
        # Windows tools (PowerShell's `pip freeze >`) write UTF-16 with a byte order mark.
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                return data.decode("utf-16")
            except UnicodeDecodeError:
                pass
        if b"\x00" in data[:_BINARY_PROBE]:
            self._finding(UNREADABLE_FILE, "skipped: looks like a binary file", relpath)
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            self._finding(UNREADABLE_FILE, "not UTF-8; read as Latin-1", relpath, "info")
            return data.decode("latin-1")

    def _finding(self, code: str, message: str, relpath: str, severity: str = "warning") -> None:
        self.out.finding(
            code, message, Location(relpath), "info" if severity == "info" else "warning"
        )
