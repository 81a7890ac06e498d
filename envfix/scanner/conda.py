"""Conda: `environment.yml` files and the package specs of `conda install` commands.

Conda names are not PyPI names (`pytorch` is `torch`, `py-opencv` is `opencv-python`) and
many conda packages are not Python at all (`cudatoolkit`, `ffmpeg`, `libgcc-ng`): a curated
table in `envfix/data/conda_names.json` says which is which.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from envfix.model import DeclaredRequirement, Location
from envfix.scanner.reqcommon import (
    UNREADABLE_FILE,
    Collector,
    Parsed,
    dirname,
)
from envfix.scanner.reqfile import parse_pip_line

_ENV_FILE = re.compile(r"(?i)^(?:environment|conda[\w.-]*|env[\w.-]*)\.ya?ml$")
_NAME = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.+-]*)\s*(?P<rest>.*)$", re.DOTALL)
_BRACKET = re.compile(r"^(?P<head>[^\[]*)\[(?P<body>[^\]]*)\]\s*$")
_BRACKET_KEY = re.compile(r"(\w+)\s*=\s*(['\"]?)([^,'\"]*)\2")
_OPERATOR = re.compile(r"^(==|!=|>=|<=|~=|>|<|=)")
_SPACED = re.compile(r"((?:==|!=|>=|<=|~=|>|<|,))\s+|\s+(?=,)")
# Name patterns of conda packages that hold C libraries, compilers or conda's own plumbing.
_SYSTEM_PREFIXES = ("_", "lib", "cuda-", "xorg-", "r-", "gst-", "font-", "perl-", "magma-")
_SYSTEM_SUFFIXES = ("-cpp", "_linux-64", "_linux-aarch64", "_osx-64", "_osx-arm64", "_win-64")


@dataclass(frozen=True)
class CondaNames:
    renames: dict[str, str]
    system: frozenset[str]
    python_lib_names: frozenset[str]
    """Names that start with `lib` but are Python packages (librosa)."""

    def is_system(self, name: str, build: str | None) -> bool:
        if name in self.renames:
            return False
        if name in self.system:
            return True
        if name.startswith(_SYSTEM_PREFIXES) and name not in self.python_lib_names:
            return True
        if name.endswith(_SYSTEM_SUFFIXES):
            return True
        # Python packages are built per Python version (`py36h7e9f1db_0`) or as noarch
        # Python (`pyhd8ed1ab_0`, `py_0`): a build string without "py" is a C library.
        return bool(build) and "py" not in (build or "").lower()

    def pypi_name(self, name: str) -> str:
        return canonicalize_name(self.renames.get(name, name))


@functools.cache
def conda_names() -> CondaNames:
    path = resources.files("envfix") / "data" / "conda_names.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return CondaNames(
        renames={str(k): str(v) for k, v in data["renames"].items()},
        system=frozenset(str(n) for n in data["system"]),
        python_lib_names=frozenset(str(n) for n in data["python_lib_names"]),
    )


@dataclass(frozen=True)
class CondaSpec:
    """A conda match spec taken apart."""

    name: str
    """Lower case, channel dropped."""
    version: str
    """The version constraint as written after the name, without the build string."""
    build: str | None
    fuzzy: bool
    """Written `name=1.2`, which conda reads as `1.2.*`."""


def split_conda_spec(text: str) -> CondaSpec | None:
    """`pytorch::pytorch=1.4.0=py3.6_cuda10.1_0` -> pytorch, 1.4.0, build; None if no name."""
    spec = text.strip().rpartition("::")[2].strip()
    build: str | None = None
    bracket_version = ""
    if m := _BRACKET.match(spec):
        spec = m["head"].strip()
        for key, _, value in _BRACKET_KEY.findall(m["body"]):
            if key == "version":
                bracket_version = value.strip()
            elif key == "build":
                build = value.strip() or None
    m = _NAME.match(spec)
    if m is None:
        return None
    # `>= 1.2, < 2` -> `>=1.2,<2`, so that a space only separates version and build.
    rest = _SPACED.sub(r"\1", m["rest"].strip())
    version, fuzzy = bracket_version, False
    if rest.startswith("=") and not rest.startswith("=="):
        version, _, found_build = rest[1:].partition("=")
        fuzzy, build = True, found_build.strip() or build
    elif rest.startswith("=="):
        version, _, found_build = rest[2:].partition("=")
        version, build = "==" + version, found_build.strip() or build
    elif rest:
        version, _, found_build = rest.partition(" ")
        build = found_build.strip() or build
    return CondaSpec(m["name"].lower(), version.strip(), build, fuzzy)


def conda_to_pep440(version: str, fuzzy: bool = False) -> str:
    """A conda version constraint as a PEP 440 specifier: `=1.2` (fuzzy) and `1.2.*` are
    `==1.2.*`, `1.2.3` is `==1.2.3`; raises ValueError for what PEP 440 cannot say (`1|2`)."""
    version = version.strip()
    if version in ("", "*"):
        return ""
    if "|" in version:
        raise ValueError("alternatives ('|') cannot be written as a pip specifier")
    pieces = []
    for piece in version.split(","):
        piece = piece.strip()
        m = _OPERATOR.match(piece)
        op = m[1] if m else "=="
        number = piece[m.end() :].strip() if m else piece
        if op == "=":
            op, fuzzy = "==", True
        if number.endswith("*"):
            number = number.rstrip("*").rstrip(".")
            if op in ("==", "!="):
                number += ".*"
        elif fuzzy and op == "==":
            number += ".*"
        pieces.append(op + number)
    try:
        return str(SpecifierSet(",".join(pieces)))
    except InvalidSpecifier as exc:
        raise ValueError(f"'{version}' is not a version pip understands") from exc


def add_conda_spec(
    text: str, location: Location, source: str, out: Collector, group: str | None = None
) -> None:
    """Record one conda package spec: a requirement, a Python version or a system package."""
    spec = split_conda_spec(text)
    if spec is None:
        out.unparsable(text.strip(), location, "not a conda package spec")
        return
    names = conda_names()
    if spec.name == "python":
        out.python_version(spec.version, location)
        return
    if names.is_system(spec.name, spec.build):
        out.system_packages.append((spec.name, location))
        return
    try:
        specifier = conda_to_pep440(spec.version, spec.fuzzy)
    except ValueError as exc:
        specifier = ""
        out.unparsable(text.strip(), location, f"{exc}; kept without a version")
    out.requirements.append(
        DeclaredRequirement(
            name=names.pypi_name(spec.name),
            location=location,
            source=source,
            specifier=specifier,
            group=group,
            original=text.strip(),
        )
    )


def is_environment_file(relpath: str) -> bool:
    """`environment.yml`, `conda*.yml`, `env*.yaml` at any depth (content checked later)."""
    return bool(_ENV_FILE.match(relpath.rpartition("/")[2]))


def parse_environment_file(relpath: str, text: str) -> Parsed:
    """The `dependencies` of a conda environment file, with its `pip:` section; a YAML
    file without a `dependencies` list is someone else's and gives nothing."""
    out = Collector()
    try:
        document = _first_document(text)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        # Only complain about files that look like conda environments.
        if re.search(r"(?m)^\s*dependencies\s*:", text):
            where = getattr(exc, "problem_mark", None)
            line = where.line + 1 if where is not None else None
            out.finding(
                UNREADABLE_FILE, f"not valid YAML: {_first_line(exc)}", Location(relpath, line)
            )
        return out.result()
    dependencies = _mapping_value(document, "dependencies")
    if not isinstance(dependencies, yaml.SequenceNode):
        return out.result()
    for item in dependencies.value:
        _add_dependency(item, relpath, out)
    return out.result()


def _add_dependency(item: yaml.Node, relpath: str, out: Collector) -> None:
    location = Location(relpath, item.start_mark.line + 1)
    if isinstance(item, yaml.ScalarNode):
        add_conda_spec(str(item.value), location, "conda", out)
        return
    pip = _mapping_value(item, "pip")
    if not isinstance(pip, yaml.SequenceNode):
        out.unparsable(_node_text(item), location, "not a conda package spec or a pip: list")
        return
    for entry in pip.value:
        entry_location = Location(relpath, entry.start_mark.line + 1)
        if isinstance(entry, yaml.ScalarNode) and str(entry.value).strip():
            # conda hands these lines to pip in a file next to the environment file, so
            # `-r` paths are relative to it.
            parse_pip_line(
                str(entry.value).strip(),
                entry_location,
                "requirements",
                out,
                group=None,
                bases=(dirname(relpath),),
            )
        else:
            out.unparsable(_node_text(entry), entry_location, "not a pip requirement line")


def _first_document(text: str) -> yaml.Node | None:
    documents: Iterator[yaml.Node] = yaml.compose_all(text, Loader=yaml.SafeLoader)
    return next(documents, None)


def _mapping_value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node  # type: ignore[no-any-return]
    return None


def _node_text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else f"<{type(node).__name__}>"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
