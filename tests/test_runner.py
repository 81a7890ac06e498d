"""The runner every external program goes through."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from envfix.errors import ProgramTimeoutError, ToolMissingError
from envfix.runner import SubprocessRunner


def test_output_exit_code_and_input() -> None:
    run = SubprocessRunner()
    assert run(["cat"], input="abc").stdout == "abc"
    result = run(["python3", "-c", "import sys; print('x', file=sys.stderr); sys.exit(3)"])
    assert (result.returncode, result.stderr, result.ok) == (3, "x\n", False)


def test_a_time_limit_ends_what_the_program_started_too(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"sleep 30 & echo $! > {pid_file}; wait"
    with pytest.raises(ProgramTimeoutError):
        SubprocessRunner()(["bash", "-c", script], timeout=1)
    grandchild = int(pid_file.read_text())
    assert _ended(grandchild)


def _ended(pid: int, wait: float = 5.0) -> bool:
    """Gone, or a zombie waiting for init to reap it: either way no longer running."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        status = Path(f"/proc/{pid}/status")
        if status.exists() and "State:\tZ" in status.read_text():
            return True
        time.sleep(0.1)
    return False


def test_a_missing_program_is_named() -> None:
    with pytest.raises(ToolMissingError, match="no-such-program-envfix"):
        SubprocessRunner()(["no-such-program-envfix"])
