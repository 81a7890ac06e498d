"""Install commands in READMEs and INSTALL files.

Commands are taken from code: fenced blocks, indented blocks (Markdown's four spaces, reST's
literal and directive blocks), inline backticks, and lines with a shell prompt (`$ pip ...`).
Prose is left alone, since "pip install it with its dependencies" is not a command. Plain-text
files have no markup, so every line there counts as code.
"""

from __future__ import annotations

import posixpath
import re

from envfix.model import Location
from envfix.scanner.pipcmd import parse_command
from envfix.scanner.reqcommon import Collector, Parsed, dirname

_README = re.compile(r"(?i)^(?:readme|install)[\w.-]*$")
_README_EXTENSIONS = frozenset({"", ".md", ".markdown", ".rst", ".txt"})
_README_FOLDERS = frozenset({"", "docs", "doc"})
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_INLINE = re.compile(r"(`+)(.+?)\1")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_PROMPT = re.compile(r"^\s*(?:\(\S+\)\s*)?(?:[\w@~:/.-]*[$>]\s+|>>>\s+|In \[\d*\]:\s*)")
_PROMPTED = re.compile(r"^\s*(?:\$\s+|[!%](?:pip|conda))")
_COMMAND_HINT = re.compile(r"\b(?:pip[\d.]*|conda|mamba|micromamba)\b.*\b(?:install|create)\b")
_MAX_CONTINUATION = 50


def is_readme(relpath: str) -> bool:
    """`README*`, `INSTALL*` (.md, .rst, .txt or no extension) at the root or in docs/."""
    folder, _, name = relpath.rpartition("/")
    stem, extension = posixpath.splitext(name)
    if extension.lower() not in _README_EXTENSIONS:
        # `README.zh-CN.md`-like names keep a dot in the stem; `INSTALL.sh` is a script.
        return False
    return folder.lower() in _README_FOLDERS and bool(_README.match(stem or name))


def parse_readme(relpath: str, text: str) -> Parsed:
    out = Collector()
    bases = (dirname(relpath), "") if dirname(relpath) else ("",)
    for line, command in _candidates(relpath, text):
        if _COMMAND_HINT.search(command):
            out.extend(
                parse_command(_strip_prompt(command), Location(relpath, line), "readme", bases)
            )
    return out.result()


def _candidates(relpath: str, text: str) -> list[tuple[int, str]]:
    """(line, text) of every piece of code that may hold a command."""
    extension = posixpath.splitext(relpath)[1].lower()
    plain, rst = extension in ("", ".txt"), extension == ".rst"
    lines = text.splitlines()
    found: list[tuple[int, str]] = []
    fence: str | None = None
    index = 0
    while index < len(lines):
        raw = lines[index]
        opening = _FENCE.match(raw)
        if fence is not None and _closes(raw, fence):
            fence, index = None, index + 1
        elif fence is None and opening:
            fence, index = opening[1], index + 1
        elif fence is not None or plain or _is_indented(raw, rst):
            command, used = _joined(lines, index)
            found.append((index + 1, command))
            index += used
        else:
            found.extend((index + 1, m[2]) for m in _INLINE.finditer(raw))
            unlisted = _LIST_MARKER.sub("", raw, count=1)
            if _PROMPTED.match(unlisted):
                found.append((index + 1, unlisted))
            index += 1
    return found


def _closes(line: str, fence: str) -> bool:
    """A closing fence: the same character, at least as long, and nothing after it."""
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def _is_indented(line: str, rst: bool) -> bool:
    if not line.strip():
        return False
    if rst:
        return line[0] in " \t"
    return line.startswith(("    ", "\t"))


def _joined(lines: list[str], index: int) -> tuple[str, int]:
    """A line with its shell continuation lines (`\\` at the end), and how many it used."""
    parts = [lines[index].rstrip()]
    used = 1
    while parts[-1].endswith("\\") and index + used < len(lines) and used < _MAX_CONTINUATION:
        parts[-1] = parts[-1][:-1]
        parts.append(_strip_prompt(lines[index + used]).strip())
        used += 1
    return " ".join(parts).rstrip("\\"), used


def _strip_prompt(command: str) -> str:
    return _PROMPT.sub("", _LIST_MARKER.sub("", command, count=1), count=1)
