"""Install commands as people write them in READMEs and notebooks: `pip install ...`,
`!pip install ...`, `python -m pip install ...`, `sudo pip3 install ...`, `conda install ...`,
possibly chained with `&&` or `;` and followed by redirections or comments.

A command line is split with `shlex` (POSIX rules, `;&|` as operators); every segment that
is an install command is read, its options skipped as pip or conda would, and each package
argument parsed with the requirements-file rules (pip) or conda's spec rules.
"""

from __future__ import annotations

import re
import shlex

from envfix.model import DeclaredRequirement, Finding, Location
from envfix.scanner.conda import add_conda_spec
from envfix.scanner.reqcommon import (
    CONSTRAINTS_GROUP,
    CUSTOM_INDEX,
    UNPARSABLE_REQUIREMENT,
    Collector,
    Include,
    Parsed,
    dirname,
)
from envfix.scanner.reqfile import custom_index_message, parse_pip_line

_PIP = re.compile(r"^pip[\d.]*$")
_PYTHON = re.compile(r"^(?:\S*/)?(?:python[\d.]*|py|\{sys\.executable\}|\$\{?PYTHON\}?)$")
_CONDA = frozenset({"conda", "mamba", "micromamba"})
_PREFIX_WORDS = frozenset({"sudo", "time", "nohup", "env", "command", "exec", "$"})
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
_SEPARATOR = re.compile(r"^[;&|]+$")
_REDIRECT = re.compile(r"^\d*(?:>>?|<|&>>?)$")
_REDIRECT_WITH_TARGET = re.compile(r"^\d*(?:>>?|<|&>>?)\S")

# pip options that take a value, so that the value is not read as a package.
_PIP_VALUE_OPTIONS = frozenset(
    {
        "--requirement",
        "--constraint",
        "--editable",
        "--index-url",
        "--extra-index-url",
        "--find-links",
        "--target",
        "--root",
        "--prefix",
        "--src",
        "--upgrade-strategy",
        "--install-option",
        "--global-option",
        "--config-settings",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--only-binary",
        "--no-binary",
        "--progress-bar",
        "--trusted-host",
        "--cache-dir",
        "--log",
        "--log-file",
        "--proxy",
        "--retries",
        "--timeout",
        "--exists-action",
        "--cert",
        "--client-cert",
        "--report",
        "--use-feature",
        "--use-deprecated",
        "--python",
        "--keyring-provider",
        "--root-user-action",
        "--group",
        "--build",
        "--hash",
        "--index",
    }
)
_PIP_SHORT_VALUE = frozenset("rceiftbC")
_PIP_GLOBAL_VALUE = frozenset(
    {
        "--log",
        "--log-file",
        "--proxy",
        "--retries",
        "--timeout",
        "--exists-action",
        "--trusted-host",
        "--cert",
        "--client-cert",
        "--cache-dir",
        "--python",
        "--use-feature",
        "--use-deprecated",
        "--keyring-provider",
    }
)
_CONDA_VALUE_OPTIONS = frozenset(
    {
        "-c",
        "--channel",
        "-n",
        "--name",
        "-p",
        "--prefix",
        "--file",
        "--repodata-fn",
        "--solver",
        "--subdir",
        "--platform",
    }
)
_INDEX_FLAGS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "--index": "--index-url",
}


def parse_pip_command(
    command: str, location: Location, source: str
) -> tuple[list[DeclaredRequirement], list[Finding], list[str]]:
    """Requirements, findings and the requirement files (`-r`, as written) of one install
    command line, as found in a README, a notebook `!pip` line or a shell cell."""
    folder = dirname(location.path)
    parsed = parse_command(command, location, source, (folder, "") if folder else ("",))
    return (
        list(parsed.requirements),
        list(parsed.findings),
        [include.path for include in parsed.includes if not include.constraint],
    )


def parse_command(command: str, location: Location, source: str, bases: tuple[str, ...]) -> Parsed:
    """Like `parse_pip_command`, with includes (resolved against `bases`) and the Python
    versions `conda create ... python=3.6` asks for."""
    out = Collector()
    for segment in _segments(_tokens(command, location, out)):
        invocation = _invocation(segment)
        if invocation is None:
            continue
        tool, args = invocation
        if tool == "pip":
            _pip_install(args, location, source, bases, out)
        else:
            _conda_install(args, location, source, out)
    return out.result()


def _tokens(command: str, location: Location, out: Collector) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    # `#` only starts a comment at the start of a word (`git+...#egg=x` is not one).
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError as exc:
        out.finding(
            UNPARSABLE_REQUIREMENT,
            f"cannot split command '{command.strip()}' ({exc}); read it word by word",
            location,
        )
        return [word.strip("\"'") for word in command.split()]


def _segments(tokens: list[str]) -> list[list[str]]:
    """The simple commands of a command line, without redirections and comments."""
    segments: list[list[str]] = [[]]
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token.startswith("#"):
            break
        if _REDIRECT.match(token):
            # `2>&1` comes as `2>`, `&`, `1`; `> log` as `>`, `log`.
            index += 3 if following == "&" else 2
        elif token == "&" and following.startswith(">"):
            index += 2  # `&>/dev/null`
        elif _REDIRECT_WITH_TARGET.match(token) or not token.strip():
            index += 1
        elif _SEPARATOR.match(token):
            segments.append([])
            index += 1
        else:
            segments[-1].append(token)
            index += 1
    return [segment for segment in segments if segment]


def _invocation(segment: list[str]) -> tuple[str, list[str]] | None:
    """("pip" | "conda", the arguments after `install`) when the segment installs."""
    index = 0
    while index < len(segment):
        word = segment[index]
        if word == "sudo":
            index += 1
            while index < len(segment) and segment[index].startswith("-"):
                index += 1  # sudo -H
        elif word in _PREFIX_WORDS or _ENV_ASSIGNMENT.match(word):
            index += 1
        else:
            break
    if index >= len(segment):
        return None
    word = segment[index].lstrip("!%")
    rest = segment[index + 1 :]
    if _PIP.match(word):
        tool = "pip"
    elif word == "uv" and rest[:1] == ["pip"]:
        tool, rest = "pip", rest[1:]
    elif _PYTHON.match(word) and len(rest) >= 2 and rest[0] == "-m" and _PIP.match(rest[1]):
        tool, rest = "pip", rest[2:]
    elif word in _CONDA:
        tool = "conda"
    else:
        return None
    position = _skip_global_options(rest)
    if position >= len(rest):
        return None
    subcommand = rest[position]
    if subcommand == "install" or (tool == "conda" and subcommand == "create"):
        return tool, rest[position + 1 :]
    return None


def _skip_global_options(args: list[str]) -> int:
    position = 0
    while position < len(args) and args[position].startswith("-"):
        takes_value = args[position] in _PIP_GLOBAL_VALUE
        position += 2 if takes_value else 1
    return position


def _pip_install(
    args: list[str], location: Location, source: str, bases: tuple[str, ...], out: Collector
) -> None:
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if token == "--":
            continue
        if token.startswith("--"):
            name, equals, value = token.partition("=")
            if name in _PIP_VALUE_OPTIONS:
                if not equals and index < len(args):
                    value, index = args[index], index + 1
                _pip_option(name, value, location, source, bases, out)
        elif token.startswith("-") and len(token) > 1:
            # Short flags, maybe combined (`-qU`) or with their value attached (`-rreqs.txt`).
            for position, letter in enumerate(token[1:], start=2):
                if letter in _PIP_SHORT_VALUE:
                    value = token[position:]
                    if not value and index < len(args):
                        value, index = args[index], index + 1
                    _pip_option("-" + letter, value, location, source, bases, out)
                    break
        else:
            _pip_argument(token, location, source, bases, out)


def _pip_option(
    name: str,
    value: str,
    location: Location,
    source: str,
    bases: tuple[str, ...],
    out: Collector,
) -> None:
    if not value:
        return
    if name in ("-r", "--requirement"):
        out.includes.append(Include(value, location, bases))
    elif name in ("-c", "--constraint"):
        out.includes.append(
            Include(value, location, bases, constraint=True, group=CONSTRAINTS_GROUP)
        )
    elif name in ("-e", "--editable"):
        parse_pip_line(f"-e {value}", location, source, out, group=None, bases=bases)
    elif name in _INDEX_FLAGS:
        out.finding(CUSTOM_INDEX, custom_index_message(_INDEX_FLAGS[name], value), location, "info")


def _pip_argument(
    token: str, location: Location, source: str, bases: tuple[str, ...], out: Collector
) -> None:
    if "$" in token:
        out.unparsable(token, location)
        return
    found = Collector()
    parse_pip_line(token, location, source, found, group=None, bases=bases)
    # `pip install -U pip` upgrades the installer, not something the code needs.
    found.requirements = [req for req in found.requirements if req.name != "pip"]
    out.extend(found.result())


def _conda_install(args: list[str], location: Location, source: str, out: Collector) -> None:
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if token.startswith("-"):
            if token in _CONDA_VALUE_OPTIONS:
                index += 1
            continue
        if "$" in token:
            out.unparsable(token, location)
            continue
        add_conda_spec(token, location, source, out)
