"""What the benchmarks share: timing a program, logging progress, printing a table."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    """One timed run of one program."""

    wall: float
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float | None = None
    cpu: float | None = None


def run_timed(cmd: Sequence[str], cwd: Path | None = None) -> Run:
    """Run `cmd`, timing its wall clock and reading its own peak RSS and CPU time."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return Run(
        wall,
        proc.returncode,
        stdout,
        stderr,
        usage.ru_maxrss / 1024,
        usage.ru_utime + usage.ru_stime,
    )


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def render(head: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain text table: the first `left` columns left-aligned, the others right."""
    table = [list(head), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = []
    for index, row in enumerate(table):
        cells = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
