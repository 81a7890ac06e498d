"""Requirements files (`requirements.txt`, `constraints.txt`, `*.in`), read with pip's own
rules through `pip_requirements_parser`: line continuations, comments, `-r`/`-c` includes,
editables, URLs, markers, hashes and option lines.

The library's `RequirementsFile.from_file` reads files itself (and `from_string` is broken in
32.0.1), so the text, already decoded defensively by the caller, goes through the same
per-line steps here.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

import pip_requirements_parser as prp
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from envfix.model import DeclaredRequirement, Location
from envfix.scanner.reqcommon import (
    CONSTRAINTS_GROUP,
    CUSTOM_INDEX,
    UNREADABLE_FILE,
    Collector,
    Include,
    Parsed,
    dirname,
    url_kind,
)

_LINE_PARSER = prp.get_line_parser()

# pip options that send it to another package index: worth telling the user, since Colab
# only reaches what those servers still host.
_INDEX_OPTIONS = {
    "index_url": "--index-url",
    "extra_index_urls": "--extra-index-url",
    "find_links": "--find-links",
}

# Words in a requirements file's name (or its folder's) that say which group it is.
_GROUP_WORDS = {
    "dev": "dev",
    "devel": "dev",
    "develop": "dev",
    "development": "dev",
    "test": "test",
    "tests": "test",
    "testing": "test",
    "doc": "docs",
    "docs": "docs",
    "lint": "lint",
}

_REQUIREMENTS_NAME = re.compile(
    r"(?i)^(?:[\w.-]*requirements[\w.-]*\.txt|requirements[\w.-]*\.in)$"
)
_CONSTRAINTS_NAME = re.compile(r"(?i)^constraints[\w.-]*\.txt$")
_REQUIREMENTS_DIR = re.compile(r"(?i)^[\w.-]+\.(?:txt|in)$")


def is_requirements_file(relpath: str) -> bool:
    """`requirements*.txt`, `dev-requirements.txt`, `requirements/*.txt`, `constraints*.txt`."""
    folder, _, name = relpath.rpartition("/")
    if _REQUIREMENTS_NAME.match(name) or _CONSTRAINTS_NAME.match(name):
        return True
    return posixpath.basename(folder).lower() == "requirements" and bool(
        _REQUIREMENTS_DIR.match(name)
    )


def group_for_path(relpath: str) -> str | None:
    """The group a requirements file's name implies: `requirements-dev.txt` -> `dev`,
    `docs/requirements.txt` -> `docs`, `constraints.txt` -> `constraints`; None for main."""
    parts = relpath.lower().split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    if stem.startswith("constraints"):
        return CONSTRAINTS_GROUP
    for word in re.split(r"[-_.]", stem):
        if word in _GROUP_WORDS:
            return _GROUP_WORDS[word]
    for folder in reversed(parts[:-1]):
        if folder in _GROUP_WORDS:
            return _GROUP_WORDS[folder]
    return None


def parse_requirements_file(
    relpath: str,
    text: str,
    *,
    group: str | None = None,
    constraint: bool = False,
) -> Parsed:
    """Every requirement, include and index option of one requirements file."""
    out = Collector()
    if constraint or group_for_path(relpath) == CONSTRAINTS_GROUP:
        group, constraint = CONSTRAINTS_GROUP, True
    try:
        lines = list(prp.preprocess(text))
    except Exception as exc:  # the library raises a bare Exception on a line it cannot split
        out.finding(UNREADABLE_FILE, f"cannot split into lines: {exc}", Location(relpath))
        return out.result()
    for numbered in lines:
        if isinstance(numbered, prp.CommentLine):
            continue
        number, line = numbered
        location = Location(relpath, number)
        parse_pip_line(
            line,
            location,
            "requirements",
            out,
            group=group,
            bases=(dirname(relpath),),
            constraint=constraint,
        )
    return out.result()


def parse_pip_line(
    line: str,
    location: Location,
    source: str,
    out: Collector,
    *,
    group: str | None,
    bases: tuple[str, ...],
    constraint: bool = False,
) -> None:
    """One logical line in pip's requirements-file syntax: a requirement or options."""
    try:
        requirement, options, arguments = _LINE_PARSER(line)
    except Exception as exc:  # optparse errors come as the library's own exception type
        out.unparsable(line, location, str(getattr(exc, "msg", exc)))
        return
    parsed = prp.ParsedLine(
        requirement_line=prp.RequirementLine(
            line=line, line_number=location.line, filename=location.path
        ),
        requirement_string=requirement,
        options=options,
        is_constraint=constraint,
        arguments=arguments,
    )
    if parsed.is_requirement:
        _add_requirement(parsed, location, source, out, group)
    else:
        _add_options(parsed, location, out, bases, constraint)


def _add_requirement(
    parsed: Any, location: Location, source: str, out: Collector, group: str | None
) -> None:
    line = parsed.requirement_line.line
    try:
        parsed_req = prp.handle_requirement_line(parsed)
        install_req = prp.build_req_from_parsedreq(parsed_req)
    except Exception as exc:  # InstallationError, InvalidWheelFilename, InvalidMarker, ...
        out.unparsable(line, location, str(exc))
        return
    _report_indexes(parsed_req.invalid_options or {}, location, out)
    out.requirements.append(_declared(install_req, line, location, source, group))


def _declared(
    install_req: Any, line: str, location: Location, source: str, group: str | None
) -> DeclaredRequirement:
    req: Requirement | None = install_req.req
    link = install_req.link
    if req is not None and req.extras:
        extras = tuple(sorted(req.extras))
    else:
        extras = tuple(sorted(install_req.extras))
    url: str | None = None
    if link is not None:
        url = str(link.url)
    elif req is not None and req.url:
        url = req.url
    marker = install_req.marker
    return DeclaredRequirement(
        name=canonicalize_name(req.name) if req is not None else "",
        location=location,
        source=source,
        specifier=str(req.specifier) if req is not None else "",
        extras=extras,
        marker=str(marker) if marker is not None else None,
        url=url,
        kind=url_kind(url) if url else "registry",
        editable=bool(install_req.is_editable),
        group=group,
        original=line,
    )


def _add_options(
    parsed: Any, location: Location, out: Collector, bases: tuple[str, ...], constraint: bool
) -> None:
    line = parsed.requirement_line.line
    try:
        options: dict[str, Any] = prp.handle_option_line(parsed.options)
    except Exception as exc:  # a repeated option
        out.unparsable(line, location, str(exc))
        return
    if parsed.arguments:
        out.unparsable(line, location, "arguments after an option: " + " ".join(parsed.arguments))
    # An included file takes its group from its own name (`-r base.txt` from
    # requirements-dev.txt is still the main set), except inside a constraints file.
    for path in options.get("requirements") or ():
        out.includes.append(
            Include(
                path,
                location,
                bases,
                constraint=constraint,
                group=CONSTRAINTS_GROUP if constraint else None,
            )
        )
    for path in options.get("constraints") or ():
        out.includes.append(
            Include(path, location, bases, constraint=True, group=CONSTRAINTS_GROUP)
        )
    _report_indexes(options, location, out)


def _report_indexes(options: dict[str, Any], location: Location, out: Collector) -> None:
    for dest, flag in _INDEX_OPTIONS.items():
        values = options.get(dest)
        if not values:
            continue
        for value in [values] if isinstance(values, str) else values:
            out.finding(CUSTOM_INDEX, custom_index_message(flag, str(value)), location, "info")


def custom_index_message(flag: str, url: str) -> str:
    return f"installs from a package index other than PyPI: {flag} {url}"
