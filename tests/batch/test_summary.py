"""The batch summary: JSON round trip and merge, the Markdown table, the HTML page (escaped,
self-contained, accessible), and the page as a real headless Chromium renders it."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from envfix.batch.summary import (
    SUMMARY_HTML,
    SUMMARY_JSON,
    SUMMARY_MD,
    merge,
    read_rows,
    to_html,
    to_markdown,
    totals,
    write_summaries,
)
from envfix.errors import BadInputError
from envfix.model import BatchRow

ROWS = (
    BatchRow(
        "https://github.com/alice/resnet-cifar",
        "alice__resnet-cifar",
        "runs",
        "pytorch",
        312.4,
        changes=3,
        recipes=("torch-legacy-autograd",),
        rounds=2,
        report="alice__resnet-cifar/ENVFIX_REPORT.md",
    ),
    BatchRow(
        "bob/tf1-gan",
        "bob__tf1-gan",
        "blocked",
        "tensorflow",
        845.0,
        changes=7,
        relaxed=2,
        recipes=("tf1-compat", "keras-imports"),
        rounds=3,
        blocker="CUDA | cuDNN mismatch",
        failure_class="needs-gpu",
        report="bob__tf1-gan/ENVFIX_REPORT.md",
    ),
    BatchRow("carol/old-sk", "carol__old-sk", "locked", "scikit-learn", 40.0, changes=2),
    BatchRow(
        "dave/huge",
        "dave__huge",
        "timeout",
        "pytorch",
        3600.0,
        failure_class="timeout",
        blocker="the repo's time limit ended it",
    ),
)

MALICIOUS = BatchRow(
    "eve/<img src=x onerror=alert(1)>",
    "eve__x",
    "blocked",
    "other",
    1.0,
    blocker='<script>alert("pwned")</script> & more',
    report="javascript:alert(1)",
)


def test_json_round_trip(tmp_path: Path) -> None:
    write_summaries(ROWS, tmp_path)

    assert read_rows(tmp_path / SUMMARY_JSON) == ROWS
    doc = json.loads((tmp_path / SUMMARY_JSON).read_text(encoding="utf-8"))
    assert doc["schema_version"] == 1
    assert doc["command"] == "batch"
    assert list(doc["rows"][0]) == [
        "source",
        "slug",
        "outcome",
        "framework",
        "seconds",
        "changes",
        "relaxed",
        "recipes",
        "rounds",
        "blocker",
        "failure_class",
        "report",
    ]
    assert doc["totals"] == {
        "repos": 4,
        "outcomes": _outcomes(runs=1, blocked=1, locked=1, timeout=1),
        "installable": 3,
        "installable_share": 0.75,
        "changes": 12,
        "relaxed": 2,
        "seconds": 4797.4,
        "by_framework": {
            "pytorch": _outcomes(runs=1, timeout=1),
            "tensorflow": _outcomes(blocked=1),
            "scikit-learn": _outcomes(locked=1),
        },
    }


def _outcomes(**nonzero: int) -> dict[str, int]:
    outcomes = ("runs", "started", "blocked", "locked", "failed", "timeout")
    return {o: nonzero.get(o, 0) for o in outcomes}


def test_write_summaries_writes_three_files(tmp_path: Path) -> None:
    out = tmp_path / "new" / "folder"
    write_summaries(ROWS, out, title="CS 231")

    assert sorted(p.name for p in out.iterdir()) == [SUMMARY_HTML, SUMMARY_JSON, SUMMARY_MD]
    assert (out / SUMMARY_MD).read_text(encoding="utf-8").startswith("# CS 231\n")


def test_totals_of_an_empty_batch() -> None:
    t = totals(())

    assert (t.repos, t.installable, t.installable_share, t.by_framework) == (0, 0, 0.0, ())
    assert "No repos." in to_markdown(())
    assert "<table" not in to_html(())


def test_read_rows_fills_optional_fields(tmp_path: Path) -> None:
    row = {"source": "a/b", "slug": "a__b", "outcome": "runs", "framework": "jax", "seconds": 3}
    path = _summary(tmp_path, {"schema_version": 1, "command": "batch", "rows": [row]})

    assert read_rows(path) == (BatchRow("a/b", "a__b", "runs", "jax", 3.0),)


def _batch(rows: Any) -> dict[str, Any]:
    return {"schema_version": 1, "command": "batch", "rows": rows}


_GOOD_ROW = {"source": "a/b", "slug": "a__b", "outcome": "runs", "framework": "jax", "seconds": 1}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", "is not JSON"),
        ([], "is not an envfix batch summary"),
        ({"schema_version": 1, "command": "run", "rows": []}, "is not an envfix batch summary"),
        ({"schema_version": 2, "command": "batch", "rows": []}, "schema_version 2"),
        ({"command": "batch", "rows": []}, "schema_version None"),
        ({"schema_version": 1, "command": "batch", "rows": {}}, "`rows` must be a list"),
        ({"schema_version": 1, "command": "batch", "rows": [1]}, "row 1 is malformed"),
        (
            _batch([_GOOD_ROW, {"slug": "x"}]),
            "row 2 is malformed",
        ),
        (
            _batch([{**_GOOD_ROW, "outcome": "great"}]),
            "unknown outcome 'great'",
        ),
        (
            _batch([{**_GOOD_ROW, "changes": "3"}]),
            "`changes` must be a whole number",
        ),
        (
            _batch([{**_GOOD_ROW, "seconds": True}]),
            "`seconds` must be a number",
        ),
        (
            _batch([{**_GOOD_ROW, "recipes": "x"}]),
            "`recipes` must be a list of strings",
        ),
        (
            _batch([{**_GOOD_ROW, "failure_class": "x"}]),
            "unknown failure_class 'x'",
        ),
    ],
)
def test_read_rows_rejects_a_bad_file(tmp_path: Path, doc: Any, message: str) -> None:
    path = _summary(tmp_path, doc)

    with pytest.raises(BadInputError, match=r"summary\.json") as caught:
        read_rows(path)

    assert message in caught.value.message
    assert caught.value.hint


def test_read_rows_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="cannot read"):
        read_rows(tmp_path / "nope.json")


def test_merge_later_file_wins_and_sorts_by_slug(tmp_path: Path) -> None:
    first, second = tmp_path / "monday", tmp_path / "tuesday"
    write_summaries(ROWS[:3], first)
    retried = BatchRow("bob/tf1-gan", "bob__tf1-gan", "runs", "tensorflow", 600.0, changes=8)
    write_summaries((ROWS[3], retried), second)

    merged = merge([first, second / SUMMARY_JSON])

    assert [r.slug for r in merged] == [
        "alice__resnet-cifar",
        "bob__tf1-gan",
        "carol__old-sk",
        "dave__huge",
    ]
    assert merged[1] == retried
    assert merge([second, first])[1] == ROWS[1]


def test_merge_reports_the_bad_file(tmp_path: Path) -> None:
    write_summaries(ROWS, tmp_path / "good")
    (tmp_path / "bad").mkdir()

    with pytest.raises(BadInputError, match=r"bad/summary\.json"):
        merge([tmp_path / "good", tmp_path / "bad"])


def test_markdown_table() -> None:
    assert to_markdown(ROWS, title="CS 231 papers") == (
        "# CS 231 papers\n"
        "\n"
        "**Totals.** 4 repos: 1 runs, 0 started, 1 blocked, 1 locked, 0 failed, 1 timeout. "
        "3 of 4 (75%) locked to an installable set.\n"
        "\n"
        "| repo | framework | outcome | changes | recipes | rounds | time | blocker |\n"
        "|---|---|---|--:|---|--:|--:|---|\n"
        "| [https://github.com/alice/resnet-cifar](alice__resnet-cifar/ENVFIX_REPORT.md) "
        "| pytorch | runs | 3 | torch-legacy-autograd | 2 | 5 min 12 s | — |\n"
        "| [bob/tf1-gan](bob__tf1-gan/ENVFIX_REPORT.md) | tensorflow | blocked | 7 (2 relaxed) "
        "| tf1-compat, keras-imports | 3 | 14 min 05 s | needs-gpu: CUDA \\| cuDNN mismatch |\n"
        "| carol/old-sk | scikit-learn | locked | 2 | — | 0 | 40 s | — |\n"
        "| dave/huge | pytorch | timeout | 0 | — | 0 | 1 h 00 min "
        "| timeout: the repo's time limit ended it |\n"
    )


def test_markdown_escapes_what_markdown_would_act_on() -> None:
    row = BatchRow(
        "x/y",
        "x__y",
        "failed",
        "other",
        0.0,
        blocker="a\n<b>__init__</b> [link](z) | `c`",
        report="../../etc/passwd",
    )

    line = to_markdown([row]).splitlines()[-1]

    assert line == (
        "| x/y | other | failed | 0 | — | 0 | 0 s "
        "| a \\<b\\>\\_\\_init\\_\\_\\</b\\> \\[link\\](z) \\| \\`c\\` |"
    )


def test_html_escapes_a_malicious_row() -> None:
    page = to_html([*ROWS, MALICIOUS], title="<i>batch</i>")

    assert page.count("<script") == 1  # only the page's own sorting script
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; more" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img" not in page
    assert "<title>&lt;i&gt;batch&lt;/i&gt;</title>" in page
    assert "javascript:" not in page
    assert 'href="bob__tf1-gan/ENVFIX_REPORT.md"' in page


@pytest.mark.parametrize(
    "report", ["/home/me/out/r.md", "../r.md", "a/../../r.md", "C:\\out\\r.md", "~/r.md"]
)
def test_html_links_only_relative_reports(report: str) -> None:
    row = BatchRow("a/b", "a__b", "runs", "jax", 1.0, report=report)

    assert "<a " not in to_html([row])
    assert "](" not in to_markdown([row])


def test_html_is_self_contained_and_accessible() -> None:
    page = to_html(ROWS)
    tables = _tables(page)

    for needle in ("<link", "src=", "@import", "url(", "@font-face"):
        assert needle not in page
    assert '<th scope="col"' in page and '<th scope="row"' in page
    assert '<title id="chart-title">Outcomes by framework</title>' in page
    assert 'aria-labelledby="chart-title chart-desc"' in page
    assert "pytorch: 1 runs, 1 timeout" in page  # the chart's <desc>
    # The numbers behind the chart, as a table of their own.
    assert tables[0].caption == "Outcomes by framework"
    assert tables[0].rows[1:] == [
        ["pytorch", "1", "0", "0", "0", "0", "1", "2"],
        ["tensorflow", "0", "0", "1", "0", "0", "0", "1"],
        ["scikit-learn", "0", "0", "0", "1", "0", "0", "1"],
    ]
    # The repo table is in the HTML itself, not built by the script.
    assert tables[1].caption == "4 repos: what envfix did with each"
    assert tables[1].rows == _expected_repo_rows()


_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    _CHROMIUM is None,
    reason="no chromium binary on PATH (CI installs Debian's: apt-get install -y chromium)",
)
def test_summary_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    assert _CHROMIUM is not None
    out = tmp_path / "batch"
    write_summaries([*ROWS, MALICIOUS], out, title="CS 231 papers")
    url = (out / SUMMARY_HTML).as_uri()

    dom = _chromium(tmp_path, "--dump-dom", url).stdout
    shot = tmp_path / "summary.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1000", url)

    tables = _tables(dom)
    assert [t.caption for t in tables] == [
        "Outcomes by framework",
        "5 repos: what envfix did with each",
    ]
    assert tables[1].rows[:5] == _expected_repo_rows()
    assert tables[1].rows[5][0] == "eve/<img src=x onerror=alert(1)>"
    assert tables[1].rows[5][-1] == '<script>alert("pwned")</script> & more'
    assert dom.count("<script") == 1  # the malicious blocker stayed text after load
    assert dom.count("<button") == 8  # the sorting script ran: one button per header
    _assert_png_not_blank(shot)


def _expected_repo_rows() -> list[list[str]]:
    return [
        ["repo", "framework", "outcome", "changes", "recipes", "rounds", "time", "blocker"],
        [
            "https://github.com/alice/resnet-cifar",
            "pytorch",
            "runs",
            "3",
            "torch-legacy-autograd",
            "2",
            "5 min 12 s",
            "—",
        ],
        [
            "bob/tf1-gan",
            "tensorflow",
            "blocked",
            "7 (2 relaxed)",
            "tf1-compat, keras-imports",
            "3",
            "14 min 05 s",
            "needs-gpu: CUDA | cuDNN mismatch",
        ],
        ["carol/old-sk", "scikit-learn", "locked", "2", "—", "0", "40 s", "—"],
        [
            "dave/huge",
            "pytorch",
            "timeout",
            "0",
            "—",
            "0",
            "1 h 00 min",
            "timeout: the repo's time limit ended it",
        ],
    ]


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert _CHROMIUM is not None
    result = subprocess.run(
        [
            _CHROMIUM,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def _assert_png_not_blank(path: Path) -> None:
    """A PNG of real content: the header, a decent size, and more than a few distinct byte
    values in its pixels (a blank page decodes to almost only 0xff)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1000)
    idat, pos = b"", 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += length + 12
    pixels = zlib.decompress(idat)
    assert len(set(pixels[::7])) > 50


class _Table:
    def __init__(self) -> None:
        self.caption = ""
        self.rows: list[list[str]] = []


class _Tables(HTMLParser):
    """Each <table>'s caption and its rows' cell texts (whitespace collapsed)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[_Table] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append(_Table())
        elif tag == "tr" and self.tables:
            self.tables[-1].rows.append([])
        elif tag in ("th", "td", "caption") and self.tables:
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td", "caption") and self._text is not None:
            text = " ".join("".join(self._text).split())
            if tag == "caption":
                self.tables[-1].caption = text
            else:
                self.tables[-1].rows[-1].append(text)
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def _tables(page: str) -> list[_Table]:
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def _summary(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / SUMMARY_JSON
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path
