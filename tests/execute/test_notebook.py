"""Running a script as the entry: its time limit, its output kept, and its error read from
the traceback, not from whatever a library prints after it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from envfix.execute.notebook import Limits, run_script
from envfix.model import Entry
from envfix.runner import default_runner

KERAS3_ERROR = '''import sys
print("""Traceback (most recent call last):
  File "main.py", line 3, in <module>
    model(x)
TypeError: Exception encountered when calling ReflectionPadding2D.call().

unsupported operand type(s) for +: 'NoneType' and 'int'

Arguments received by ReflectionPadding2D.call():
  \u2022 args=('<KerasTensor shape=(None, None, 3)>',)
  \u2022 kwargs=<class 'inspect._empty'>""", file=sys.stderr)
sys.exit(1)
'''


def run(root: Path, script: str, limits: Limits) -> tuple[str, str, str, float]:
    (root / "main.py").write_text(script, encoding="utf-8")
    started = time.monotonic()
    raw = run_script(
        root, Entry("script", "main.py", "test"), sys.executable, root / ".envfix", limits,
        default_runner,
    )  # fmt: skip
    failure = raw.failure
    assert failure is not None
    log = (root / raw.execution.executed_path).read_text() if raw.execution.executed_path else ""
    return (
        raw.execution.status,
        f"{failure.ename}: {failure.evalue}",
        log,
        (time.monotonic() - started),
    )


def test_the_exception_is_read_from_the_traceback(tmp_path: Path) -> None:
    status, error, _, _ = run(tmp_path, KERAS3_ERROR, Limits(cell=60))
    assert status == "blocked"
    assert error == (
        "TypeError: Exception encountered when calling ReflectionPadding2D.call()."
        " unsupported operand type(s) for +: 'NoneType' and 'int'"
    )


def test_a_script_gets_the_cell_limit_and_keeps_what_it_printed(tmp_path: Path) -> None:
    script = "import time\nprint('epoch 1', flush=True)\ntime.sleep(60)\n"
    status, error, log, seconds = run(tmp_path, script, Limits(cell=2, total=120, smoke=True))
    assert status == "started" and error.startswith("Timeout: still running")
    assert "epoch 1" in log and seconds < 30
