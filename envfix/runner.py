"""The one way envfix runs external programs (git, pip, pip-compile, uv, a target's Python).

Stages receive a `Runner` instead of calling `subprocess` themselves, so tests can inject a
fake and the CLI can log every command in one place.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from envfix.errors import ProgramTimeoutError, ToolMissingError


@dataclass(frozen=True)
class Completed:
    """What a finished program left: its arguments, exit status and output."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner(Protocol):
    def __call__(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        timeout: float | None = None,
        input: str | None = None,
    ) -> Completed: ...


class SubprocessRunner:
    """Runs programs with `subprocess.run`; `env` entries are added to the current environment
    (or, with the value None, removed from it)."""

    def __call__(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        timeout: float | None = None,
        input: str | None = None,
    ) -> Completed:
        full_env = None
        if env is not None:
            # A None value removes the variable (a find-links or config setting, say).
            full_env = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
        try:
            # Its own process group, so that a time limit (or Ctrl-C) ends what it started
            # too: pip's builds, uv, a notebook's kernel.
            proc = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=full_env,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise ToolMissingError(
                f"'{args[0]}' is not installed or not on PATH",
                hint="install it, or run envfix where it is available",
            ) from exc
        try:
            stdout, stderr = proc.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            stdout, stderr = _kill_group(proc)
            error = ProgramTimeoutError(
                f"'{' '.join(args[:3])} ...' did not finish within {timeout:.0f} s"
            )
            error.output = (stdout or "") + (stderr or "")
            raise error from exc
        except BaseException:
            _kill_group(proc)
            raise
        return Completed(tuple(args), proc.returncode, stdout, stderr)


def _kill_group(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Stop the program and all it started; what it printed until then."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    stdout, stderr = proc.communicate()
    return stdout or "", stderr or ""


default_runner: Runner = SubprocessRunner()
