"""The report as Markdown, short enough for a forum post: the blocker first, then the facts
a teaching assistant asks for (runtime, versions, the cell, the traceback, what was tried,
how to reproduce)."""

from __future__ import annotations

from envfix._version import __version__
from envfix.model import Report
from envfix.reporting.redact import describe

MARKER = "<!-- envfix report"
"""The first line of every report envfix writes: a file without it is the user's own."""

_CLASS_NAMES = {
    "missing-module": "missing module",
    "removed-api": "removed or changed API",
    "binary-incompatible": "binary incompatibility (NumPy 1.x vs 2.x)",
    "version-conflict": "version conflict",
    "needs-gpu": "needs a GPU",
    "needs-network": "needs network",
    "needs-data": "needs data",
    "needs-colab": "needs Colab",
    "python2-syntax": "Python 2 syntax",
    "timeout": "timeout",
    "kernel-died": "kernel died",
    "needs-input": "needs keyboard input",
    "repo-bug": "a bug in the repo's own code",
}


def to_markdown(report: Report) -> str:
    lines = [f"{MARKER} {__version__}: rerun `envfix report` to update -->", ""]
    lines += [f"### {report.title}", ""]
    lines += _outcome(report)
    lines += _facts(report)
    if report.code:
        # "Cell 3 of demo.ipynb", but a path keeps its case: "main.py, line 66".
        where = report.where or "the failing code"
        where = _capital(where) if not report.where or where.startswith("cell") else where
        lines += ["", f"**{where}:**", ""]
        lines += _fenced(report.code, "python")
    if report.traceback:
        label = "Traceback** (trimmed"
        if report.failure_class == "kernel-died":
            label = "The kernel's last output** (its end"
        lines += ["", f"**{label}; the full one is in `{report.logs}`):", ""]
        lines += _fenced(report.traceback, "")
    lines += _tried(report)
    lines += _reproduce(report)
    if report.redacted:
        lines += ["", f"<sub>{describe(report.redacted)}</sub>"]
    return "\n".join(lines).rstrip() + "\n"


def _outcome(report: Report) -> list[str]:
    if report.failure_class is None:
        return [f"**Outcome: {report.outcome}**: {report.meaning}."]
    name = _CLASS_NAMES[report.failure_class]
    return [
        f"**Outcome: blocked, {name}**: {report.meaning}.",
        "",
        f"**Next step:** {report.next_step}",
    ]


def _facts(report: Report) -> list[str]:
    repo = f"{report.repo} @ `{report.commit[:12]}`" if report.commit else report.repo
    cells = (
        f" ({report.cells_passed} of {report.cells_total} code cells passed)"
        if report.cells_total
        else ""
    )
    rows = [
        ("Repo", repo),
        ("Ran", f"`{report.entry}`{cells}"),
        ("Runtime", report.runtime),
    ]
    if report.packages:
        rows.append(("Packages", ", ".join(f"{p.name} {p.version}" for p in report.packages)))
    return ["", "| | |", "|---|---|", *(f"| {k} | {_cell(v)} |" for k, v in rows)]


def _tried(report: Report) -> list[str]:
    heading = "What envfix changed" if report.failure_class is None else "What envfix tried"
    items = [*report.changes, *(f"applied recipe {r}" for r in report.recipes)]
    if report.failure_class is not None or len(report.rounds) > 1:
        items += report.rounds
    if not items:
        return ["", f"**{heading}:** nothing; the code ran as it was."]
    return ["", f"**{heading}:**", "", *(f"- {item}" for item in items)]


def _reproduce(report: Report) -> list[str]:
    lines = ["", "**Reproduce:**", ""]
    if not report.pins_for_colab:
        lines += [
            "The pins in `requirements.envfix.txt` are for the environment above, not for"
            " Colab; in Colab, run envfix there:",
            "",
        ]
    elif report.install_cell:
        lines += _fenced(report.install_cell, "python")
        what = "the notebook" if report.entry.endswith(".ipynb") else f"`{report.entry}`"
        lines += ["", f"then run {what}, or let envfix do every step:", ""]
    lines += _fenced(report.command, "sh")
    return lines


def _fenced(text: str, language: str) -> list[str]:
    fence = "```"
    while fence in text:
        fence += "`"
    return [f"{fence}{language}", text.rstrip("\n"), fence]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
