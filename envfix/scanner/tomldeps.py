"""TOML declarations: `pyproject.toml` (PEP 621 `[project]`, PEP 735 `[dependency-groups]`,
setuptools' `dynamic` files, Poetry) and `Pipfile`.

tomllib gives no line numbers: each requirement's line is found by searching the text for
its key or string, after its table's header (best effort; None when not found).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envfix.model import DeclaredRequirement, Location, RequirementKind
from envfix.scanner.reqcommon import (
    CUSTOM_INDEX,
    INCLUDE_CYCLE,
    UNREADABLE_FILE,
    Collector,
    Include,
    Parsed,
    TextLines,
    combine_markers,
    dirname,
    url_kind,
)
from envfix.scanner.reqfile import custom_index_message

_POETRY_PIECE = re.compile(r"^(\^|~=|~|===|==|!=|>=|<=|>|<|=)?\s*(.*)$")
# Poetry separates constraints with commas, or with spaces before an operator.
_POETRY_SPLIT = re.compile(r"\s*,\s*|\s+(?=[\^~<>=!])")
_PIPFILE_MARKER_KEYS = (
    "os_name",
    "sys_platform",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_version",
    "python_full_version",
    "implementation_name",
    "implementation_version",
)
_PYPI_INDEXES = ("https://pypi.org/simple", "https://pypi.python.org/simple")


class _Toml:
    """A TOML document with its text, for best-effort line numbers."""

    def __init__(self, relpath: str, text: str, data: dict[str, Any]) -> None:
        self.relpath = relpath
        self.data = data
        self.lines = TextLines(text)

    def header_line(self, header: str) -> int | None:
        """The line of `[a.b]`, allowing spaces and quoted keys."""
        pieces = [rf"\s*[\"']?{re.escape(part)}[\"']?\s*" for part in header.split(".")]
        return self.lines.match(re.compile(r"^\s*\[" + r"\.".join(pieces) + r"\]"))

    def key_line(self, key: str, start: int | None) -> int | None:
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        return self.lines.match(pattern, start or 1) or start

    def string_line(self, value: str, start: int | None) -> int | None:
        for needle in (f'"{value}"', f"'{value}'", value):
            if found := self.lines.find(needle, start or 1):
                return found
        return start

    def at(self, line: int | None) -> Location:
        return Location(self.relpath, line)


def _load(relpath: str, text: str, out: Collector) -> _Toml | None:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
        out.finding(UNREADABLE_FILE, f"not valid TOML: {exc}", Location(relpath))
        return None
    return _Toml(relpath, text, data)


def _table(data: Any, *keys: str) -> dict[str, Any] | None:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data if isinstance(data, dict) else None


# --- pyproject.toml ----------------------------------------------------------------------


def parse_pyproject(relpath: str, text: str) -> Parsed:
    """Runtime requirements of a pyproject.toml; `[build-system] requires` is build-time
    only and left out."""
    out = Collector()
    doc = _load(relpath, text, out)
    if doc is None:
        return out.result()
    _read_project(doc, out)
    _read_dependency_groups(doc, out)
    _read_setuptools_dynamic(doc, out)
    _read_poetry(doc, out)
    return out.result()


def _read_project(doc: _Toml, out: Collector) -> None:
    project = _table(doc.data, "project")
    if project is None:
        return
    start = doc.header_line("project")
    out.project_name(project.get("name"))
    _add_pep508_list(doc, project.get("dependencies"), "project.dependencies", start, None, out)
    optional = project.get("optional-dependencies")
    if isinstance(optional, dict):
        opt_start = doc.header_line("project.optional-dependencies") or start
        for extra, items in optional.items():
            _add_pep508_list(doc, items, f"optional-dependencies.{extra}", opt_start, extra, out)
    python = project.get("requires-python")
    if isinstance(python, str):
        out.python_version(python, doc.at(doc.key_line("requires-python", start)))


def _add_pep508_list(
    doc: _Toml, items: Any, what: str, start: int | None, group: str | None, out: Collector
) -> None:
    if items is None:
        return
    if not isinstance(items, list):
        out.unparsable(str(items), doc.at(start), f"{what} is not a list")
        return
    for item in items:
        if isinstance(item, str):
            out.add_pep508(item, doc.at(doc.string_line(item, start)), "pyproject", group=group)
        else:
            out.unparsable(str(item), doc.at(start), f"an entry of {what} is not a string")


def _read_dependency_groups(doc: _Toml, out: Collector) -> None:
    """PEP 735 groups; `{include-group = "x"}` brings in x's requirements too."""
    groups = _table(doc.data, "dependency-groups")
    if groups is None:
        return
    start = doc.header_line("dependency-groups")
    by_name = {canonicalize_name(str(name)): name for name in groups}
    reported: set[tuple[str, str]] = set()

    def expand(name: str, stack: tuple[str, ...]) -> list[str]:
        items = groups.get(name)
        if not isinstance(items, list):
            out.unparsable(str(items), doc.at(start), f"dependency group '{name}' is not a list")
            return []
        found: list[str] = []
        for item in items:
            if isinstance(item, str):
                found.append(item)
                continue
            target = item.get("include-group") if isinstance(item, dict) else None
            key = by_name.get(canonicalize_name(target)) if isinstance(target, str) else None
            if key is None:
                out.unparsable(str(item), doc.at(start), f"in dependency group '{name}'")
            elif key in stack:
                if (name, key) not in reported:
                    reported.add((name, key))
                    out.finding(
                        INCLUDE_CYCLE,
                        f"dependency group '{name}' includes '{key}', which includes it back",
                        doc.at(doc.string_line(str(target), start)),
                    )
            else:
                found.extend(expand(key, (*stack, key)))
        return found

    for name in groups:
        for text in expand(name, (name,)):
            out.add_pep508(text, doc.at(doc.string_line(text, start)), "pyproject", group=name)


def _read_setuptools_dynamic(doc: _Toml, out: Collector) -> None:
    """`[tool.setuptools.dynamic] dependencies = {file = ["requirements.txt"]}`."""
    dynamic = _table(doc.data, "tool", "setuptools", "dynamic")
    if dynamic is None:
        return
    start = doc.header_line("tool.setuptools.dynamic")
    _add_file_includes(doc, dynamic.get("dependencies"), None, start, out)
    optional = dynamic.get("optional-dependencies")
    if isinstance(optional, dict):
        for extra, value in optional.items():
            _add_file_includes(doc, value, extra, start, out)


def _add_file_includes(
    doc: _Toml, value: Any, group: str | None, start: int | None, out: Collector
) -> None:
    files = value.get("file") if isinstance(value, dict) else None
    for path in [files] if isinstance(files, str) else files if isinstance(files, list) else []:
        if isinstance(path, str) and path.strip():
            location = doc.at(doc.string_line(path, start))
            out.includes.append(
                Include(path.strip(), location, (dirname(doc.relpath),), group=group)
            )


# --- Poetry ------------------------------------------------------------------------------


def poetry_to_pep440(constraint: str) -> str:
    """A Poetry version constraint as a PEP 440 specifier (`^1.2.3` -> `<2.0.0,>=1.2.3`,
    `~1.2` -> `<1.3,>=1.2`, `1.2` -> `==1.2`, `*` -> ``); ValueError if it has none."""
    text = constraint.strip()
    if "|" in text:
        raise ValueError(f"'{constraint}' has alternatives ('||'), which pip cannot express")
    pieces: list[str] = []
    for piece in _POETRY_SPLIT.split(text):
        if piece.strip():
            pieces.extend(_poetry_piece(piece.strip()))
    try:
        return str(SpecifierSet(",".join(pieces)))
    except InvalidSpecifier as exc:
        raise ValueError(f"'{constraint}' is not a version constraint") from exc


def _poetry_piece(piece: str) -> list[str]:
    m = _POETRY_PIECE.match(piece)
    op, version = (m[1] or "", m[2].strip()) if m else ("", piece)
    if version in ("*", ""):
        return []
    if op in ("^", "~"):
        try:
            release = Version(version).release
        except InvalidVersion as exc:
            raise ValueError(f"'{piece}' is not a version constraint") from exc
        if op == "^":
            index = next((i for i, part in enumerate(release) if part), len(release) - 1)
        else:
            index = 1 if len(release) > 1 else 0
        upper = [*release[:index], release[index] + 1] + [0] * (len(release) - index - 1)
        return [f">={version}", "<" + ".".join(str(part) for part in upper)]
    if op in ("", "="):
        op = "=="
    return [f"{op}{version}"]


def _python_marker(constraint: str) -> str:
    """Poetry's `python = "^3.6"` of a dependency as a PEP 508 marker."""
    parts = []
    specs = SpecifierSet(poetry_to_pep440(constraint))
    # Lower bounds first reads naturally: `python_version >= "3.6" and python_version < "4"`.
    for spec in sorted(specs, key=lambda s: (s.operator.startswith("<"), str(s))):
        version = spec.version.removesuffix(".*")
        variable = "python_full_version" if version.count(".") >= 2 else "python_version"
        parts.append(f'{variable} {spec.operator} "{version}"')
    return " and ".join(parts)


def _read_poetry(doc: _Toml, out: Collector) -> None:
    poetry = _table(doc.data, "tool", "poetry")
    if poetry is None:
        return
    out.project_name(poetry.get("name"))
    extras = _poetry_extras(poetry)
    sections: list[tuple[str, str | None, dict[str, Any] | None]] = [
        ("tool.poetry.dependencies", None, _table(poetry, "dependencies")),
        ("tool.poetry.dev-dependencies", "dev", _table(poetry, "dev-dependencies")),
    ]
    for name, group_table in (_table(poetry, "group") or {}).items():
        sections.append(
            (
                f"tool.poetry.group.{name}.dependencies",
                str(name),
                _table(group_table, "dependencies"),
            )
        )
    for header, group, table in sections:
        if table is None:
            continue
        start = doc.header_line(header)
        for name, value in table.items():
            line = doc.key_line(name, start)
            if name.lower() == "python":
                _add_poetry_python(str(value), doc.at(line), out)
                continue
            for constraint in value if isinstance(value, list) else [value]:
                _add_poetry(str(name), constraint, doc.at(line), group, extras, out)


def _poetry_extras(poetry: dict[str, Any]) -> dict[str, str]:
    """Each optional dependency's first extra, from `[tool.poetry.extras]`."""
    found: dict[str, str] = {}
    for extra, names in (_table(poetry, "extras") or {}).items():
        for name in names if isinstance(names, list) else []:
            found.setdefault(canonicalize_name(str(name)), str(extra))
    return found


def _add_poetry_python(value: str, location: Location, out: Collector) -> None:
    try:
        out.python_version(poetry_to_pep440(value) or value, location)
    except ValueError:
        out.python_version(value, location)


def _add_poetry(
    name: str,
    value: Any,
    location: Location,
    group: str | None,
    extras: Mapping[str, str],
    out: Collector,
) -> None:
    original = f"{name} = {_inline(value)}"
    try:
        req = _poetry_requirement(name, value, location, group, original)
    except (ValueError, InvalidMarker) as exc:
        out.unparsable(original, location, str(exc))
        return
    if isinstance(value, dict) and value.get("optional") is True:
        req = replace(req, group=extras.get(req.name, "optional"))
    out.requirements.append(req)


def _poetry_requirement(
    name: str, value: Any, location: Location, group: str | None, original: str
) -> DeclaredRequirement:
    if isinstance(value, str):
        return _requirement(name, poetry_to_pep440(value), location, "poetry", group, original)
    if not isinstance(value, dict):
        raise ValueError("expected a version string or a table")
    specifier = poetry_to_pep440(str(value["version"])) if "version" in value else ""
    marker = str(value["markers"]) if isinstance(value.get("markers"), str) else None
    if isinstance(value.get("python"), str):
        marker = combine_markers(marker, _python_marker(value["python"]) or None)
    if isinstance(value.get("platform"), str):
        marker = combine_markers(marker, f'sys_platform == "{value["platform"]}"')
    url, kind = _source_url(value)
    return _requirement(
        name,
        specifier,
        location,
        "poetry",
        group,
        original,
        extras=value.get("extras"),
        marker=marker,
        url=url,
        kind=kind,
        editable=value.get("develop") is True,
    )


def _source_url(value: dict[str, Any]) -> tuple[str | None, RequirementKind]:
    """Where a Poetry or Pipfile table says to get the package: git, url/file, or path."""
    if isinstance(value.get("git"), str):
        url = value["git"] if value["git"].startswith("git+") else "git+" + value["git"]
        ref = next((value[k] for k in ("rev", "tag", "branch", "ref") if value.get(k)), None)
        url += f"@{ref}" if ref else ""
        url += f"#subdirectory={value['subdirectory']}" if value.get("subdirectory") else ""
        return url, "url"
    for key in ("url", "file", "path"):
        if isinstance(value.get(key), str):
            return value[key], "local" if key == "path" else url_kind(value[key])
    return None, "registry"


def _requirement(
    name: str,
    specifier: str,
    location: Location,
    source: str,
    group: str | None,
    original: str,
    *,
    extras: Any = None,
    marker: str | None = None,
    url: str | None = None,
    kind: RequirementKind = "registry",
    editable: bool = False,
) -> DeclaredRequirement:
    if not name.strip():
        raise ValueError("empty package name")
    return DeclaredRequirement(
        name=canonicalize_name(name),
        location=location,
        source=source,
        specifier=specifier,
        extras=tuple(sorted(str(e) for e in extras)) if isinstance(extras, list) else (),
        marker=str(Marker(marker)) if marker else None,
        url=url,
        kind=kind,
        editable=editable,
        group=group,
        original=original,
    )


def _inline(value: Any) -> str:
    """A TOML-like rendering of a value, for `original`."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + "}"
    return str(value)


# --- Pipfile -----------------------------------------------------------------------------


def parse_pipfile(relpath: str, text: str) -> Parsed:
    """`[packages]`, `[dev-packages]` (group `dev`), `[requires]` and `[[source]]`."""
    out = Collector()
    doc = _load(relpath, text, out)
    if doc is None:
        return out.result()
    for section, group in (("packages", None), ("dev-packages", "dev")):
        table = _table(doc.data, section)
        start = doc.header_line(section)
        for name, value in (table or {}).items():
            location = doc.at(doc.key_line(name, start))
            original = f"{name} = {_inline(value)}"
            try:
                out.requirements.append(
                    _pipfile_requirement(str(name), value, location, group, original)
                )
            except (ValueError, InvalidMarker, InvalidSpecifier) as exc:
                out.unparsable(original, location, str(exc))
    requires = _table(doc.data, "requires") or {}
    for key in ("python_version", "python_full_version"):
        if isinstance(requires.get(key), str):
            start = doc.header_line("requires")
            out.python_version(requires[key], doc.at(doc.key_line(key, start)))
    _read_pipfile_sources(doc, out)
    return out.result()


def _pipfile_requirement(
    name: str, value: Any, location: Location, group: str | None, original: str
) -> DeclaredRequirement:
    if isinstance(value, str):
        return _requirement(name, _pipfile_specifier(value), location, "pipfile", group, original)
    if not isinstance(value, dict):
        raise ValueError("expected a version string or a table")
    specifier = _pipfile_specifier(str(value.get("version", "*")))
    marker = str(value["markers"]) if isinstance(value.get("markers"), str) else None
    for key in _PIPFILE_MARKER_KEYS:
        if isinstance(value.get(key), str):
            marker = combine_markers(marker, f"{key} {value[key]}")
    url, kind = _source_url(value)
    return _requirement(
        name,
        specifier,
        location,
        "pipfile",
        group,
        original,
        extras=value.get("extras"),
        marker=marker,
        url=url,
        kind=kind,
        editable=value.get("editable") is True,
    )


def _pipfile_specifier(value: str) -> str:
    value = value.strip()
    if value in ("", "*"):
        return ""
    # A bare version is taken as an exact pin, as pipenv does.
    if value[0].isdigit():
        value = "==" + value
    return str(SpecifierSet(value))


def _read_pipfile_sources(doc: _Toml, out: Collector) -> None:
    sources = doc.data.get("source")
    for source in sources if isinstance(sources, list) else []:
        url = source.get("url") if isinstance(source, dict) else None
        if isinstance(url, str) and url.rstrip("/") not in _PYPI_INDEXES:
            out.finding(
                CUSTOM_INDEX,
                custom_index_message("[[source]]", url),
                doc.at(doc.string_line(url, None)),
                "info",
            )
