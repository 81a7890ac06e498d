"""The resolvers envfix drives: pip-compile (pip-tools) for the running interpreter, uv for any
other target. Both run as programs through the injected runner; envfix reads their
documented output format (`name==version  # via a, b`) and their error text.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packaging.utils import canonicalize_name

from envfix.errors import (
    EXIT_BLOCKED,
    BadInputError,
    EnvfixError,
    EnvironmentProblemError,
    NetworkError,
    ProgramTimeoutError,
)
from envfix.model import Runtime
from envfix.runner import Runner

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)\s*(?:#\s*(.*))?$")
_VIA = re.compile(r"via\s+(.*)$")
_BOX = re.compile(r"[╰─▶×│├└┬┌┐╭╮╯]+")
_NETWORK_WORDS = (
    "failed to fetch",
    "connection refused",
    "dns error",
    "could not connect",
    "temporary failure in name resolution",
    "network is unreachable",
    "max retries exceeded",
    "failed to establish a new connection",
)


@dataclass(frozen=True)
class ResolveRequest:
    """One resolution: requirement lines, constraint lines, and the versions to prefer."""

    requirements: tuple[str, ...]
    constraints: tuple[str, ...] = ()
    preferences: tuple[str, ...] = ()
    """`name==version` lines kept unless the requirements force a change (pip-compile and uv
    both keep the pins of an existing output file)."""
    index_url: str | None = None
    """Resolve against this index only, ignoring pip and uv configuration (tests, mirrors)."""
    offline: bool = False


@dataclass(frozen=True)
class Resolved:
    name: str
    version: str
    via: tuple[str, ...] = ()
    """What asked for it: `-r in.txt` for a direct requirement, else the packages that pulled
    it in."""


class ResolutionError(EnvfixError):
    """The requirements cannot all hold at once; `explanation` is the resolver's, in plain
    words, and `names` the distributions it mentions."""

    exit_code = EXIT_BLOCKED

    def __init__(self, explanation: str, names: Iterable[str]) -> None:
        super().__init__(
            f"the requirements cannot all be installed together: {explanation}",
            hint="the packages named above disagree; loosen one of their pins in the repo's"
            " requirements, or try an older runtime with --target colab-2025.07",
        )
        self.explanation = explanation
        self.names = tuple(dict.fromkeys(names))


class Resolver(Protocol):
    name: str

    def resolve(self, request: ResolveRequest, workdir: Path) -> tuple[Resolved, ...]: ...


def _write_inputs(request: ResolveRequest, workdir: Path) -> tuple[Path, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    constraints = workdir / "constraints.txt"
    constraints.write_text("".join(f"{line}\n" for line in request.constraints))
    source = workdir / "requirements.in"
    lines = [*request.requirements, f"-c {constraints.name}"]
    source.write_text("".join(f"{line}\n" for line in lines))
    output = workdir / "requirements.out"
    output.write_text("".join(f"{line}\n" for line in request.preferences))
    return source, output


def parse_output(text: str) -> tuple[Resolved, ...]:
    """The pins of a pip-compile or uv output file (`--annotation-style=line`)."""
    found = []
    for line in text.splitlines():
        m = _PIN.match(line.strip())
        if not m:
            continue
        via: tuple[str, ...] = ()
        if m[3] and (v := _VIA.search(m[3])):
            # A parent named with its extras (`gymnasium[classic-control]`) is that package.
            parents = re.sub(r"\[[^\]]*\]", "", v[1])
            via = tuple(part.strip() for part in parents.split(",") if part.strip())
        found.append(Resolved(canonicalize_name(m[1]), m[2], via))
    return tuple(found)


def explain(stderr: str) -> str:
    """A resolver's failure in plain words: box-drawing and hint noise removed."""
    lines = []
    for raw in stderr.splitlines():
        line = _BOX.sub(" ", raw).strip()
        if not line or line.lower().startswith(("hint:", "warning:", "note:", "error: resolution")):
            continue
        # uv prefixes its causes: "error: No solution found ...", "cause: Because ...".
        line = re.sub(r"^(?:error|cause|caused by):\s*", "", line, flags=re.IGNORECASE)
        lines.append(line)
    text = " ".join(lines)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:1500] if text else "the resolver gave no reason"


def _failure(stderr: str, known_names: Iterable[str]) -> Exception:
    lowered = stderr.lower()
    if any(word in lowered for word in _NETWORK_WORDS):
        return NetworkError(
            "the resolver could not reach the package index",
            hint="check the network; a lock made before is reused offline",
        )
    explanation = explain(stderr)
    mentioned = [
        name for name in known_names if re.search(rf"\b{re.escape(name)}\b", explanation, re.I)
    ]
    build = _BUILD_FAILED.search(stderr)
    if build:
        # A dependency's sdist that no longer builds: name it, what pulled it in (uv says so
        # in a hint), and the build's own last error, instead of its whole traceback.
        via = [canonicalize_name(n) for n in _INCLUDED_BECAUSE.findall(stderr)]
        errors = _BUILD_ERROR.findall(stderr)
        explanation = f"{build[1]} does not build here" + (
            f" (needed by {', '.join(dict.fromkeys(via))})" if via else ""
        )
        explanation += f": {errors[-1].strip()}" if errors else ""
        mentioned = list(dict.fromkeys([*via, *mentioned]))
    return ResolutionError(explanation, mentioned)


_BUILD_FAILED = re.compile(r"Failed to build `([^`]+)`")
_INCLUDED_BECAUSE = re.compile(r"was included because `([A-Za-z0-9][A-Za-z0-9._-]*)`")
_BUILD_ERROR = re.compile(r"^\s*(?:\w+\.)*\w*(?:Error|Exception): .+$", re.MULTILINE)


def _names_of(request: ResolveRequest) -> list[str]:
    names: list[str] = []
    for line in (*request.requirements, *request.constraints):
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if m:
            names.append(canonicalize_name(m[1]))
    return names


class UvResolver:
    """`uv pip compile`, for a target other than the running interpreter: a Python version and
    platform (a Colab profile), or another interpreter on this machine."""

    name = "uv"

    def __init__(self, runtime: Runtime, runner: Runner, uv: str | None = None) -> None:
        self.runtime = runtime
        self.runner = runner
        self.uv = uv or uv_binary()

    def target_arguments(self) -> list[str]:
        if self.runtime.interpreter:
            return ["--python", self.runtime.interpreter]
        platform = next(
            (p for p in self.runtime.platforms if p.startswith("manylinux_")), "manylinux_2_28"
        )
        machine = "aarch64" if platform.endswith("aarch64") else "x86_64"
        glibc = "_".join(platform.split("_")[1:3])
        return [
            "--python-version",
            self.runtime.python_version,
            "--python-platform",
            f"{machine}-manylinux_{glibc}",
        ]

    def resolve(self, request: ResolveRequest, workdir: Path) -> tuple[Resolved, ...]:
        source, output = _write_inputs(request, workdir)
        args = [
            self.uv,
            "pip",
            "compile",
            str(source),
            "--output-file",
            str(output),
            "--no-header",
            "--annotation-style",
            "line",
            "--quiet",
            # A pre-release only where a requirement names one: never tensorflow 2.22.0rc0
            # as a way out of a conflict.
            "--prerelease",
            "explicit",
            *self.target_arguments(),
        ]
        # Never fetch a Python build to build sdists with (GitHub, slow, and not needed).
        env: dict[str, str | None] = {"UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never"}
        if request.index_url:
            args += ["--index-url", request.index_url, "--no-config"]
            env.update(UV_EXTRA_INDEX_URL=None, UV_FIND_LINKS=None, UV_INDEX=None)
        if request.offline:
            args.append("--offline")
        result = self.runner(args, cwd=workdir, env=env, timeout=900)
        if not result.ok:
            raise _failure(result.stderr, _names_of(request))
        return parse_output(output.read_text())


class PipCompileResolver:
    """pip-compile (pip-tools) run by the target interpreter itself: in Colab, the runtime."""

    name = "pip-tools"

    def __init__(
        self, runtime: Runtime, runner: Runner, python: str | None = None, timeout: float = 300
    ) -> None:
        self.runtime = runtime
        self.runner = runner
        self.python = python or runtime.interpreter or sys.executable
        self.timeout = timeout

    def resolve(self, request: ResolveRequest, workdir: Path) -> tuple[Resolved, ...]:
        source, output = _write_inputs(request, workdir)
        args = [
            self.python,
            "-m",
            "piptools",
            "compile",
            str(source),
            "--output-file",
            str(output),
            "--no-header",
            "--annotation-style=line",
            "--quiet",
            "--no-emit-index-url",
            "--no-emit-find-links",
            "--strip-extras",
            "--allow-unsafe",
            # One cache for every round of a lock, so no round downloads a wheel again.
            "--cache-dir",
            str(workdir.parent / "pip-cache"),
        ]
        env: dict[str, str | None] = {"PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        if request.index_url:
            args += ["--index-url", request.index_url]
            # Only that index: no pip.conf, no find-links or extra indexes from the environment.
            env.update(
                PIP_CONFIG_FILE=os.devnull,
                PIP_FIND_LINKS=None,
                PIP_EXTRA_INDEX_URL=None,
                PIP_CONSTRAINT=None,
                PIP_INDEX_URL=None,
            )
        if request.offline:
            args.append("--no-index")
        result = self.runner(args, cwd=workdir, env=env, timeout=self.timeout)
        if not result.ok:
            stderr = result.stderr or result.stdout
            if "No module named piptools" in stderr:
                raise EnvironmentProblemError(
                    f"pip-tools is not installed for {self.python}",
                    hint="pip install pip-tools in that environment, or resolve with uv",
                )
            raise _failure(stderr, _names_of(request))
        return parse_output(output.read_text())


class FallbackResolver:
    """pip-compile first, as in Colab; uv for the same interpreter when pip-compile runs out
    of time (its backtracking can take hours on old pins that uv settles in seconds)."""

    def __init__(self, primary: PipCompileResolver, fallback: UvResolver) -> None:
        self.primary, self.fallback = primary, fallback
        self.name = primary.name
        self.fell_back = False

    def resolve(self, request: ResolveRequest, workdir: Path) -> tuple[Resolved, ...]:
        if not self.fell_back:
            try:
                return self.primary.resolve(request, workdir)
            except ProgramTimeoutError:
                self.fell_back = True
                self.name = f"{self.primary.name}, then uv (pip-compile took too long)"
        return self.fallback.resolve(request, workdir)


def uv_binary() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def resolver_for(
    runtime: Runtime, runner: Runner, backend: str | None = None, live_python: str | None = None
) -> Resolver:
    """pip-compile for the interpreter envfix runs in (in Colab: the runtime), uv otherwise.

    `backend` ("pip-tools" or "uv") overrides the choice, where it can work.
    """
    own = live_python or sys.executable
    if backend is None:
        backend = "pip-tools" if runtime.interpreter == own else "uv"
    if backend == "pip-tools":
        if runtime.interpreter is None:
            raise BadInputError(
                f"pip-compile resolves only for an interpreter on this machine, not {runtime.name}",
                hint="use --backend uv for a bundled profile or a freeze file",
            )
        pip_compile = PipCompileResolver(runtime, runner, runtime.interpreter)
        return FallbackResolver(pip_compile, UvResolver(runtime, runner))
    return UvResolver(runtime, runner)
