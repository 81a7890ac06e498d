"""envfix: make an old machine-learning paper's code run on today's Google Colab.

The library API; the `envfix` command is a thin layer over it::

    import envfix
    result = envfix.clone("https://github.com/owner/paper-code")
    inventory = envfix.scan("paper-code", target="colab")
    runtime = envfix.load_runtime("colab-2026.07-gpu")
    report = envfix.report("paper-code")      # after a run: the forum-ready report

Functions return frozen dataclasses (`envfix.model`) and raise `envfix.errors.EnvfixError`
subclasses; they never print and never exit.
"""

from __future__ import annotations

from envfix._version import __version__
from envfix.errors import EnvfixError
from envfix.model import (
    DeclaredRequirement,
    Finding,
    ImportUse,
    InstalledDistribution,
    Inventory,
    Location,
    NameMapping,
    Report,
    RunResult,
    Runtime,
)
from envfix.pipeline import CloneResult, clone, load_runtime, lock, patch, report, run, scan
from envfix.workspace import Workspace

__all__ = [
    "CloneResult",
    "DeclaredRequirement",
    "EnvfixError",
    "Finding",
    "ImportUse",
    "InstalledDistribution",
    "Inventory",
    "Location",
    "NameMapping",
    "Report",
    "RunResult",
    "Runtime",
    "Workspace",
    "__version__",
    "clone",
    "load_runtime",
    "lock",
    "patch",
    "report",
    "run",
    "scan",
]
