"""Exceptions raised inside envfix, and the exit code each one becomes at the command line.

Exit codes (the only place they are defined; the README repeats this table):

====  =================================================================================
code  meaning
====  =================================================================================
0     success; findings (undeclared imports, relaxed pins, ...) are not failures
1     internal error: a bug in envfix (the traceback goes to the log, not the screen)
2     bad input: a URL, path, ref, target or file that envfix cannot use as given
3     blocked: envfix ran to the end, but the code still does not run
4     environment problem: the network, git, or another program envfix needs is missing
      or failing, and the input itself may be fine
====  =================================================================================

The library raises; only `envfix.cli` turns an exception into a one-line message, a hint
and an exit code.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_BLOCKED = 3
EXIT_ENVIRONMENT = 4


class EnvfixError(Exception):
    """Base of every error envfix expects; carries a hint for the next step."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class BadInputError(EnvfixError):
    """The user gave something envfix cannot use (URL, path, ref, target, file)."""

    exit_code = EXIT_BAD_INPUT


class UnsafeSourceError(BadInputError):
    """A repo URL or ref that could smuggle options or use an unsafe git transport."""


class DestinationError(BadInputError):
    """The destination exists and is not something envfix may reuse."""


class RepoNotFoundError(BadInputError):
    """The repository does not exist, or needs credentials envfix does not have."""


class UnknownTargetError(BadInputError):
    """`--target` names no bundled profile, file or interpreter."""


class EnvironmentProblemError(EnvfixError):
    """Something outside the input failed: network, git, a program envfix runs."""

    exit_code = EXIT_ENVIRONMENT


class NetworkError(EnvironmentProblemError):
    """A host could not be reached."""


class ProgramTimeoutError(EnvironmentProblemError):
    """A program envfix ran did not finish within its time limit."""

    output: str = ""
    """What the program printed before it was stopped (stdout, then stderr)."""


class NothingToRunError(BadInputError):
    """The repo has no notebook, and no script its README shows how to run."""


class ToolMissingError(EnvironmentProblemError):
    """A program envfix needs (git, uv, pip-compile, a Python) is not installed."""


class BlockedError(EnvfixError):
    """The pipeline ran, but what it was asked to prove is still blocked."""

    exit_code = EXIT_BLOCKED
