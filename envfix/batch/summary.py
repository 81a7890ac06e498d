"""A batch's summary: one row per repo, written as JSON (to read back and merge), Markdown (to
paste) and a self-contained HTML page (to open; no network, readable with JavaScript off).

The runner has already redacted every value; this module only escapes them. A row's `report`
becomes a link only when it is a plain relative path inside the batch's output folder.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar, get_args
from urllib.parse import quote

from envfix.errors import BadInputError
from envfix.model import SCHEMA_VERSION, BatchOutcome, BatchRow, FailureClass

__all__ = [
    "INSTALLABLE",
    "OUTCOMES",
    "SUMMARY_HTML",
    "SUMMARY_JSON",
    "SUMMARY_MD",
    "Totals",
    "merge",
    "read_rows",
    "to_html",
    "to_json",
    "to_markdown",
    "totals",
    "totals_line",
    "write_summaries",
]

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
SUMMARY_HTML = "summary.html"
COMMAND = "batch"

OUTCOMES: tuple[BatchOutcome, ...] = get_args(BatchOutcome)
"""Every outcome, in the order tables and charts show them."""
INSTALLABLE: frozenset[BatchOutcome] = frozenset(OUTCOMES) - {"failed", "timeout"}
"""The outcomes of a repo that envfix locked to an installable set of packages."""
FRAMEWORKS = ("pytorch", "tensorflow", "keras", "jax", "scikit-learn", "numpy", "other")
_FAILURE_CLASSES: tuple[FailureClass, ...] = get_args(FailureClass)
_NONE = "—"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Totals:
    """The numbers under a batch's table."""

    repos: int
    outcomes: tuple[tuple[BatchOutcome, int], ...]
    """Every outcome with its count, zeros included, in `OUTCOMES` order."""
    installable: int
    """Repos whose outcome is in `INSTALLABLE`."""
    changes: int
    relaxed: int
    seconds: float
    by_framework: tuple[tuple[str, tuple[tuple[BatchOutcome, int], ...]], ...]
    """Each framework present (known ones first, in `FRAMEWORKS` order), with its outcome
    counts as in `outcomes`."""

    @property
    def installable_share(self) -> float:
        """`installable / repos`, 0.0 for an empty batch."""
        return self.installable / self.repos if self.repos else 0.0


def totals(rows: Sequence[BatchRow]) -> Totals:
    frameworks = sorted({r.framework for r in rows}, key=_framework_order)
    return Totals(
        repos=len(rows),
        outcomes=_counts(rows),
        installable=sum(r.outcome in INSTALLABLE for r in rows),
        changes=sum(r.changes for r in rows),
        relaxed=sum(r.relaxed for r in rows),
        seconds=sum(r.seconds for r in rows),
        by_framework=tuple((f, _counts([r for r in rows if r.framework == f])) for f in frameworks),
    )


def write_summaries(rows: Sequence[BatchRow], out: Path, *, title: str = "envfix batch") -> None:
    """Write `summary.json`, `summary.md` and `summary.html` for `rows` into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_json(rows), indent=2, ensure_ascii=False) + "\n"
    (out / SUMMARY_JSON).write_text(text, encoding="utf-8")
    (out / SUMMARY_MD).write_text(to_markdown(rows, title=title), encoding="utf-8")
    (out / SUMMARY_HTML).write_text(to_html(rows, title=title), encoding="utf-8")


# --- JSON ---------------------------------------------------------------------------------


def to_json(rows: Sequence[BatchRow]) -> dict[str, Any]:
    t = totals(rows)
    return {
        "schema_version": SCHEMA_VERSION,
        "command": COMMAND,
        "rows": [_row_json(r) for r in rows],
        "totals": {
            "repos": t.repos,
            "outcomes": dict(t.outcomes),
            "installable": t.installable,
            "installable_share": round(t.installable_share, 4),
            "changes": t.changes,
            "relaxed": t.relaxed,
            "seconds": round(float(t.seconds), 1),
            "by_framework": {f: dict(counts) for f, counts in t.by_framework},
        },
    }


def _row_json(r: BatchRow) -> dict[str, Any]:
    return {
        "source": r.source,
        "slug": r.slug,
        "outcome": r.outcome,
        "framework": r.framework,
        "seconds": round(float(r.seconds), 1),
        "changes": r.changes,
        "relaxed": r.relaxed,
        "recipes": list(r.recipes),
        "rounds": r.rounds,
        "blocker": r.blocker,
        "failure_class": r.failure_class,
        "report": r.report,
    }


def read_rows(path: Path) -> tuple[BatchRow, ...]:
    """The rows of a `summary.json` that `write_summaries` wrote."""
    hint = "Give the summary.json an `envfix batch` run wrote, or its output folder."
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise BadInputError(f"cannot read {path}: {e.strerror or e}", hint=hint) from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInputError(f"{path} is not JSON: {e}", hint=hint) from e
    if not isinstance(doc, dict) or doc.get("command") != COMMAND:
        raise BadInputError(f"{path} is not an envfix batch summary", hint=hint)
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BadInputError(
            f"{path} has schema_version {version!r}; this envfix reads {SCHEMA_VERSION}",
            hint="Write the summary again with this version of envfix.",
        )
    rows = doc.get("rows")
    if not isinstance(rows, list):
        raise BadInputError(f"{path}: `rows` must be a list", hint=hint)
    out = []
    for i, item in enumerate(rows):
        try:
            out.append(_row_from(item))
        except (KeyError, TypeError, ValueError) as e:
            raise BadInputError(f"{path}: row {i + 1} is malformed: {e}", hint=hint) from e
    return tuple(out)


def _row_from(doc: object) -> BatchRow:
    if not isinstance(doc, dict):
        raise TypeError("not an object")
    outcome = _typed(doc, "outcome", str)
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    failure_class = _optional(doc, "failure_class", str)
    if failure_class is not None and failure_class not in _FAILURE_CLASSES:
        raise ValueError(f"unknown failure_class {failure_class!r}")
    recipes = doc.get("recipes", [])
    if not isinstance(recipes, list) or not all(isinstance(x, str) for x in recipes):
        raise TypeError("`recipes` must be a list of strings")
    seconds = doc.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError("`seconds` must be a number")
    return BatchRow(
        source=_typed(doc, "source", str),
        slug=_typed(doc, "slug", str),
        outcome=outcome,
        framework=_typed(doc, "framework", str),
        seconds=float(seconds),
        changes=_count(doc, "changes"),
        relaxed=_count(doc, "relaxed"),
        recipes=tuple(recipes),
        rounds=_count(doc, "rounds"),
        blocker=_optional(doc, "blocker", str),
        failure_class=failure_class,
        report=_optional(doc, "report", str),
    )


def _typed(doc: dict[str, Any], key: str, kind: type[_T]) -> _T:
    if key not in doc:
        raise KeyError(key)
    value = doc[key]
    if not isinstance(value, kind):
        raise TypeError(f"`{key}` must be a {kind.__name__}")
    return value


def _optional(doc: dict[str, Any], key: str, kind: type[_T]) -> _T | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"`{key}` must be a {kind.__name__} or null")
    return value


def _count(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"`{key}` must be a whole number")
    return value


def merge(paths: Sequence[Path]) -> tuple[BatchRow, ...]:
    """The rows of several summaries (a folder means its `summary.json`), one per slug: a
    later file's row replaces an earlier one's. Sorted by slug."""
    by_slug: dict[str, BatchRow] = {}
    for path in paths:
        for row in read_rows(path / SUMMARY_JSON if path.is_dir() else path):
            by_slug[row.slug] = row
    return tuple(by_slug[slug] for slug in sorted(by_slug))


# --- shared text --------------------------------------------------------------------------


def totals_line(t: Totals) -> str:
    """`6 repos: 2 runs, 1 started, ... 4 of 6 (67%) locked to an installable set.`"""
    if not t.repos:
        return "No repos."
    counts = ", ".join(f"{n} {o}" for o, n in t.outcomes)
    share = f"{t.installable} of {t.repos} ({t.installable_share:.0%})"
    repos = "1 repo" if t.repos == 1 else f"{t.repos} repos"
    return f"{repos}: {counts}. {share} locked to an installable set."


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _changes(r: BatchRow) -> str:
    return f"{r.changes} ({r.relaxed} relaxed)" if r.relaxed else str(r.changes)


def _blocker(r: BatchRow) -> str:
    parts = [p for p in (r.failure_class, r.blocker) if p]
    return ": ".join(parts) if parts else _NONE


def _report_href(report: str | None) -> str | None:
    """`report` as a link target, when it is a plain relative path with no `..`."""
    if not report or ":" in report or "\\" in report or report.startswith(("/", "~")):
        return None
    parts = PurePosixPath(report).parts
    if ".." in parts or any(ch in report for ch in "\n\r\t"):
        return None
    return quote(report, safe="/")


def _counts(rows: Iterable[BatchRow]) -> tuple[tuple[BatchOutcome, int], ...]:
    counted = Counter(r.outcome for r in rows)
    return tuple((o, counted[o]) for o in OUTCOMES)


def _framework_order(name: str) -> tuple[int, str]:
    return (FRAMEWORKS.index(name) if name in FRAMEWORKS else len(FRAMEWORKS), name)


# --- Markdown -----------------------------------------------------------------------------


def to_markdown(rows: Sequence[BatchRow], *, title: str = "envfix batch") -> str:
    t = totals(rows)
    lines = [f"# {_md(title)}", "", f"**Totals.** {totals_line(t)}", ""]
    if rows:
        lines += [
            "| repo | framework | outcome | changes | recipes | rounds | time | blocker |",
            "|---|---|---|--:|---|--:|--:|---|",
        ]
        lines += [_md_row(r) for r in rows]
        lines.append("")
    return "\n".join(lines)


def _md_row(r: BatchRow) -> str:
    href = _report_href(r.report)
    name = _md(r.source)
    repo = f"[{name}]({href})" if href else name
    cells = [
        repo,
        _md(r.framework),
        _md(r.outcome),
        _changes(r),
        _md(", ".join(r.recipes)) or _NONE,
        str(r.rounds),
        _duration(r.seconds),
        _md(_blocker(r)),
    ]
    return "| " + " | ".join(cells) + " |"


_MD_SPECIAL = frozenset("\\`*_~[]<>|&")


def _md(text: str) -> str:
    """`text` for one table cell: on one line, every character Markdown (or the HTML inside
    it) would act on escaped with a backslash, `|` included."""
    return "".join(f"\\{ch}" if ch in _MD_SPECIAL else ch for ch in " ".join(text.split()))


# --- HTML ---------------------------------------------------------------------------------

_COLOURS: dict[str, str] = {
    # Okabe-Ito: told apart with common colour blindness; every bar also carries its number.
    "runs": "#009E73",
    "started": "#56B4E9",
    "locked": "#0072B2",
    "blocked": "#E69F00",
    "failed": "#D55E00",
    "timeout": "#6b6b6b",
}
_DARK_TEXT = frozenset({"started", "blocked"})

_STYLE = """
:root { color-scheme: light; --line: #d0d4da; --muted: #5b6470; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d232b; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .6rem; }
p.totals { margin: 0 0 1rem; color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 0 0 .4rem; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .55rem; text-align: left;
  vertical-align: top; }
thead th { background: #f3f5f7; border-bottom: 2px solid var(--line); white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
tbody tr:hover { background: #f8fafc; }
th[scope=row] { font-weight: 500; word-break: break-word; }
td.blocker { max-width: 28rem; word-break: break-word; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: .7rem; font-size: .85rem;
  font-weight: 600; color: #fff; white-space: nowrap; }
.badge.dark { color: #111; }
.muted { color: var(--muted); }
.chart { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.chart svg { flex: 1 1 30rem; max-width: 46rem; height: auto; }
.chart table { flex: 0 1 24rem; width: auto; font-size: .9rem; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: .4rem 1.1rem; padding: 0;
  margin: .2rem 0 .8rem; }
ul.legend li { display: flex; align-items: center; gap: .35rem; }
.swatch { width: .9rem; height: .9rem; border-radius: .15rem; display: inline-block; }
th button { font: inherit; font-weight: 600; border: 0; background: none; padding: 0;
  cursor: pointer; color: inherit; }
th button::after { content: " \\2195"; color: var(--muted); font-weight: 400; }
th[aria-sort=ascending] button::after { content: " \\2191"; }
th[aria-sort=descending] button::after { content: " \\2193"; }
footer { margin-top: 2rem; font-size: .85rem; color: var(--muted); }
"""

_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def to_html(rows: Sequence[BatchRow], *, title: str = "envfix batch") -> str:
    """A page with no external resources: the table is in the HTML itself; an inline script
    only adds sorting by a header's button."""
    t = totals(rows)
    e = _e
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{e(title)}</h1>",
        f'<p class="totals">{e(totals_line(t))}</p>',
    ]
    if rows:
        parts += _html_chart(t)
        parts += _html_table(rows)
    parts += [
        "</main>",
        "<footer>Written by envfix. Installable: every outcome except failed and timeout.</footer>",
        f"<script>{_SCRIPT}</script>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _badge(outcome: str) -> str:
    colour = _COLOURS.get(outcome, "#444")
    dark = " dark" if outcome in _DARK_TEXT else ""
    return f'<span class="badge{dark}" style="background:{colour}">{_e(outcome)}</span>'


def _html_table(rows: Sequence[BatchRow]) -> list[str]:
    e = _e
    heads = [
        ("repo", ""),
        ("framework", ""),
        ("outcome", ""),
        ("changes", ' class="num"'),
        ("recipes", ""),
        ("rounds", ' class="num"'),
        ("time", ' class="num"'),
        ("blocker", ""),
    ]
    out = [
        "<h2>Repos</h2>",
        '<table class="sortable" id="repos">',
        f"<caption>{len(rows)} repos: what envfix did with each</caption>",
        "<thead><tr>"
        + "".join(f'<th scope="col"{attr}>{e(name)}</th>' for name, attr in heads)
        + "</tr></thead>",
        "<tbody>",
    ]
    for r in rows:
        href = _report_href(r.report)
        name = f'<a href="{e(href)}">{e(r.source)}</a>' if href else e(r.source)
        order = OUTCOMES.index(r.outcome) if r.outcome in OUTCOMES else len(OUTCOMES)
        recipes = ", ".join(r.recipes)
        blocker = _blocker(r)
        cells = [
            f'<th scope="row" data-sort="{e(r.slug.lower())}">{name}</th>',
            f'<td data-sort="{e(r.framework.lower())}">{e(r.framework)}</td>',
            f'<td data-sort="{order}">{_badge(r.outcome)}</td>',
            f'<td class="num" data-sort="{r.changes}">{e(_changes(r))}</td>',
            f'<td data-sort="{e(recipes.lower())}">{e(recipes or _NONE)}</td>',
            f'<td class="num" data-sort="{r.rounds}">{r.rounds}</td>',
            f'<td class="num" data-sort="{r.seconds:.1f}">{e(_duration(r.seconds))}</td>',
            f'<td class="blocker" data-sort="{e(blocker.lower())}">{e(blocker)}</td>',
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    return out


def _html_chart(t: Totals) -> list[str]:
    """Stacked bars of outcomes per framework as inline SVG, then the same numbers as a
    table."""
    e = _e
    label_w, bar_w, row_h, bar_h, top = 120, 440, 34, 24, 4
    width = label_w + bar_w + 50
    height = top + row_h * len(t.by_framework)
    biggest = max(sum(n for _, n in counts) for _, counts in t.by_framework)
    described = "; ".join(
        f"{f}: " + ", ".join(f"{n} {o}" for o, n in counts if n) for f, counts in t.by_framework
    )
    svg = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        '<title id="chart-title">Outcomes by framework</title>',
        f'<desc id="chart-desc">{e(described)}</desc>',
    ]
    for i, (framework, counts) in enumerate(t.by_framework):
        y = top + i * row_h
        mid = y + bar_h / 2
        svg.append(
            f'<text x="{label_w - 8}" y="{mid}" text-anchor="end" dominant-baseline="central" '
            f'font-size="14" fill="#1d232b">{e(framework)}</text>'
        )
        x = float(label_w)
        for outcome, n in counts:
            if not n:
                continue
            w = bar_w * n / biggest
            svg.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{_COLOURS[outcome]}"><title>{e(framework)}: {n} {e(outcome)}</title>'
                "</rect>"
            )
            if w >= 18:
                ink = "#111" if outcome in _DARK_TEXT else "#fff"
                svg.append(
                    f'<text x="{x + w / 2:.1f}" y="{mid}" text-anchor="middle" '
                    f'dominant-baseline="central" font-size="13" font-weight="600" '
                    f'fill="{ink}" aria-hidden="true">{n}</text>'
                )
            x += w
        total = sum(n for _, n in counts)
        svg.append(
            f'<text x="{x + 6:.1f}" y="{mid}" dominant-baseline="central" font-size="12" '
            f'fill="#5b6470" aria-hidden="true">{total}</text>'
        )
    svg.append("</svg>")
    legend = ['<ul class="legend" aria-label="Legend">'] + [
        f'<li><span class="swatch" style="background:{_COLOURS[o]}"></span>{e(o)}</li>'
        for o in OUTCOMES
    ]
    legend.append("</ul>")
    heads = "".join(f'<th scope="col" class="num">{e(o)}</th>' for o in OUTCOMES)
    numbers = [
        "<table>",
        "<caption>Outcomes by framework</caption>",
        f'<thead><tr><th scope="col">framework</th>{heads}'
        '<th scope="col" class="num">total</th></tr></thead>',
        "<tbody>",
    ]
    for framework, counts in t.by_framework:
        cells = "".join(f'<td class="num">{n}</td>' for _, n in counts)
        total = sum(n for _, n in counts)
        numbers.append(
            f'<tr><th scope="row">{e(framework)}</th>{cells}<td class="num">{total}</td></tr>'
        )
    numbers += ["</tbody>", "</table>"]
    return [
        "<h2>Outcomes by framework</h2>",
        *legend,
        '<div class="chart">',
        *svg,
        *numbers,
        "</div>",
    ]
