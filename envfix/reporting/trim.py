"""A traceback and the failing code cut down to what a forum post needs.

Two formats are understood: IPython's (8/9 `Cell In[3], line 4` and `File /x.py:12, in f()`
frames, 7.x `<ipython-input-3-...> in <module>` frames, as nbclient hands them over, with its
"An error occurred while executing the following cell" preamble) and plain Python's
(`File "/x.py", line 12, in f`). Anything else comes back as it was, ANSI codes removed and
capped in length.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from envfix.execute.classify import _FRAME, strip_ansi

__all__ = ["failing_line", "trim_source", "trim_traceback"]

MAX_TRACEBACK_LINES = 40
"""The default length of a trimmed traceback: the rest of a report needs room too."""
MAX_LINE_CHARS = 300
"""A line of an error message longer than this is cut."""
MAX_MESSAGE_LINES = 12
"""An error message longer than this (in lines) is cut."""
EARLIER_EXCEPTIONS = 2
"""How many of the exceptions a chained one was raised while handling are shown: the first
(the root cause) and the last before it."""

Style = Literal["ipython", "python"]
_Key = tuple[str, int | None, str]

# Where a frame starts. IPython 8/9: `Cell In[3], line 4[, in f(x)]`, `File /x.py:12, in f(x)`;
# IPython 8.0-8.3: `Input In [3], in <cell line: 4>()`; IPython 7: `<ipython-input-3-ab> in
# <module>` and `/x.py in f(x)`; Python: `File "/x.py", line 12, in f` (classify's _FRAME).
_CELL = re.compile(r"^\s*Cell In\[(?P<cell>\d+)\], line (?P<line>\d+)(?:, in (?P<function>.+))?$")
_INPUT = re.compile(r"^Input In \[(?P<cell>\d+)\](?:, line (?P<line>\d+))?, in (?P<function>.+)$")
_PLAIN = re.compile(r"^\s*" + _FRAME.pattern + r"(?:, in (?P<function>.+))?$")
_IPY_FILE = re.compile(r"^\s*File (?P<file>[^\"\s].*?):(?P<line>\d+)(?:, in (?P<function>.+))?$")
_IPY7 = re.compile(r"^(?P<file><[^>]+>|[^\s:<][^\s:]*\.py) in (?P<function>.+)$")
_FRAME_STARTS = (_CELL, _INPUT, _PLAIN, _IPY_FILE, _IPY7)

_DASHES = re.compile(r"^-{20,}$")
_HEADER = re.compile(
    r"^(?:Traceback \(most recent call last\):|\S+\s+Traceback \(most recent call last\))$"
)
_CHAIN = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
_ARROW = re.compile(r"^-+>\s*(?P<line>\d+)")
# Notes the tracebacks carry themselves: IPython folds similar frames and hides some,
# Python folds a line repeated.
_IPY_SKIP = re.compile(
    r"^\s*\[\.\.\. skipping (?:similar frames: (?P<similar>.*)|hidden (?P<hidden>\d+) frames?)\]$"
)
_PY_REPEAT = re.compile(r"^\s*\[Previous line repeated (?P<count>\d+) more times?\]$")
_TIMES = re.compile(r"\((\d+) times\)")

_LIBRARY = re.compile(r"[/\\](?:site|dist)-packages[/\\]|[/\\]lib[/\\]python\d+(?:\.\d+)?t?[/\\]")
_SITE = re.compile(r"[/\\](?:site|dist)-packages[/\\]")
_REPO_PSEUDO = ("<ipython-input-", "<stdin>")

_NBCLIENT = "An error occurred while executing the following cell:"
_NBCLIENT_RULE = "------------------"
_STREAM = re.compile(r"^----- \w+ -----$")

_CYCLE = 4
"""The longest run of frames that recursion folding looks for (a -> b -> a -> b ...)."""
_CONTEXT = (2, 1)
"""The code lines an IPython frame keeps before and after its arrow line when space is short."""


@dataclass(frozen=True)
class _Frame:
    lines: tuple[str, ...]
    """The frame as printed, blank lines after it included."""
    file: str
    line: int | None
    function: str
    repo: bool
    repeats: int = 0
    """How many more times the frame came right after itself (recursion)."""

    @property
    def key(self) -> _Key:
        return (self.file, self.line, self.function)


@dataclass(frozen=True)
class _Note:
    lines: tuple[str, ...]
    frames: int
    """How many frames the note stands for."""
    repo: bool
    folded: int = 0
    """For a note of recursion folded here: the number of frames that repeat."""
    skipped: bool = False
    """IPython's own note of similar frames it left out."""


_Item = _Frame | _Note


@dataclass(frozen=True)
class _Section:
    """One exception of a chain: its header, its frames, its error lines."""

    head: tuple[str, ...]
    items: tuple[_Item, ...]
    error: tuple[str, ...]
    link: tuple[str, ...]
    """The lines that tie it to the next exception ("During handling ..."), or ()."""
    style: Style


def trim_traceback(
    text: str,
    *,
    repo_root: str | None = None,
    library_frames: int = 2,
    max_lines: int = MAX_TRACEBACK_LINES,
) -> str:
    """`text` cut down to what matters for a reader of the report.

    ANSI colour codes and nbclient's preamble (the cell's source, shown elsewhere) go.
    The repo's own frames stay: notebook cells, and files under `repo_root` or outside
    site-packages, dist-packages and lib/pythonX.Y. Of the library frames after the last
    repo frame, the `library_frames` nearest the error stay; the others, and library frames
    between repo frames, become a `... N library frames omitted ...` line. Recursion (a frame,
    or a cycle of up to four, repeated) is folded into `[previous frame repeated N more
    times]`. The error lines always stay, a long message cut. Of a chain of exceptions the
    last is shown in full, the ones before it only by their last frame and error line. When
    that is still over `max_lines`, frames lose code context and then middle lines go.
    """
    clean = _drop_preamble(strip_ansi(text).replace("\r\n", "\n")).strip("\n")
    sections = _parse(clean, repo_root)
    if not sections:
        return _cap(clean.splitlines(), max_lines)
    sections = [replace(s, items=_fold(s.items, s.style)) for s in sections]
    last = replace(
        sections[-1],
        items=_select(sections[-1].items, library_frames, sections[-1].style),
        error=_trim_message(sections[-1].error, MAX_MESSAGE_LINES),
    )
    shown = [*_earlier(sections[:-1]), last]
    lines = _render(shown)
    # Over the limit, frames lose code context: library frames first, then all, then all
    # but their arrow line.
    for library_only, context in ((True, _CONTEXT), (False, _CONTEXT), (False, (0, 0))):
        if len(lines) > max_lines:
            shown = [replace(s, items=_tighten(s.items, library_only, context)) for s in shown]
            lines = _render(shown)
    return _cap(lines, max_lines)


def failing_line(traceback: str) -> int | None:
    """The line of the failing cell (or script) the error came from: the outermost frame of
    the last exception when it is the repo's (`Cell In[3], line 4` -> 4), else the first repo
    frame's line."""
    sections = _parse(_drop_preamble(strip_ansi(traceback).replace("\r\n", "\n")), None)
    if not sections:
        return None
    frames = [item for item in sections[-1].items if isinstance(item, _Frame)]
    if frames and frames[0].repo and frames[0].line is not None:
        return frames[0].line
    everywhere = (item for s in sections for item in s.items if isinstance(item, _Frame))
    return next((f.line for f in everywhere if f.repo and f.line is not None), None)


def trim_source(source: str, line: int | None, *, context: int = 6, max_lines: int = 25) -> str:
    """A cell's (or a script's) code, cut to the `context` lines either side of `line`
    (counted from 1) when it is longer than `max_lines`.

    What is cut becomes a `# ... N lines above ...` comment; the failing line gets a
    trailing `  # <- fails here`, so the result stays valid Python in a code block. Sources
    up to `max_lines` long come back unchanged.
    """
    lines = source.rstrip("\n").splitlines()
    if len(lines) <= max_lines:
        return source
    if line is None or not 1 <= line <= len(lines):
        kept = lines[: max_lines - 1]
        return "\n".join([*kept, _elided(len(lines) - len(kept), "below", kept[-1])])
    context = max(0, min(context, (max_lines - 3) // 2))
    index = line - 1
    start, end = max(0, index - context), min(len(lines), index + context + 1)
    if start == 1:  # a note would take the place of the one line it hides
        start = 0
    if end == len(lines) - 1:
        end = len(lines)
    out = [_mark(text) if number == index else text for number, text in _window(lines, start, end)]
    if start > 0:
        out.insert(0, _elided(start, "above", lines[start]))
    if end < len(lines):
        out.append(_elided(len(lines) - end, "below", lines[end - 1]))
    return "\n".join(out)


# --- parsing ------------------------------------------------------------------------------


def _drop_preamble(text: str) -> str:
    """The traceback without what comes before it: nbclient's cell source and stream output,
    a script's earlier output."""
    lines = text.splitlines()
    start = 0
    if lines and lines[0].strip() == _NBCLIENT:
        start = _after_rule(lines, 2)
        rest = next((i for i in range(start, len(lines)) if lines[i].strip()), len(lines))
        if rest < len(lines) and _STREAM.match(lines[rest]):
            start = _after_rule(lines, rest + 1)
    begin = next((i for i in range(start, len(lines)) if _starts_traceback(lines, i)), None)
    return "\n".join(lines[begin if begin is not None else start :])


def _after_rule(lines: Sequence[str], start: int) -> int:
    """The index after the next line of nbclient's `------------------` rule."""
    found = next((i for i in range(start, len(lines)) if lines[i] == _NBCLIENT_RULE), None)
    return found + 1 if found is not None else start


def _starts_traceback(lines: Sequence[str], index: int) -> bool:
    line = lines[index]
    if _DASHES.match(line):
        return index + 1 < len(lines) and _HEADER.match(lines[index + 1]) is not None
    return _HEADER.match(line) is not None or _frame_start(line) is not None


def _frame_start(line: str) -> re.Match[str] | None:
    for pattern in _FRAME_STARTS:
        match = pattern.match(line)
        if match:
            return match
    return None


def _parse(text: str, repo_root: str | None) -> list[_Section]:
    """The exceptions of a chain, oldest first; [] when the text holds no frame at all."""
    lines = text.strip("\n").splitlines()
    chunks: list[tuple[list[str], list[str]]] = [([], [])]
    for line in lines:
        if line.strip() in _CHAIN:
            body = chunks[-1][0]
            while body and not body[-1].strip():
                body.pop()
            chunks[-1][1].extend(["", line, ""])
            chunks.append(([], []))
        elif len(chunks) > 1 and not chunks[-1][0] and not line.strip():
            continue  # the blank lines after a chain sentence
        else:
            chunks[-1][0].append(line)
    sections = [_section(body, link, repo_root) for body, link in chunks]
    if not any(item for s in sections for item in s.items):
        return []
    return sections


def _section(lines: list[str], link: list[str], repo_root: str | None) -> _Section:
    head: list[str] = []
    items: list[_Item] = []
    error: list[str] = []
    current: list[str] | None = None  # the lines of the frame being read
    match: re.Match[str] | None = None
    style: Style = "ipython"

    def close() -> None:
        nonlocal current
        if current is not None and match is not None:
            items.append(_frame(tuple(current), match, repo_root))
        current = None

    for number, line in enumerate(lines):
        if error:
            error.append(line)
            continue
        start = _frame_start(line)
        if start is not None:
            close()
            current, match = [line], start
            if start.re is _PLAIN:
                style = "python"
            continue
        skip, repeat = _IPY_SKIP.match(line), _PY_REPEAT.match(line)
        if skip or repeat:
            close()
            if repeat and items and isinstance(items[-1], _Frame):
                frame = items[-1]
                items[-1] = replace(frame, repeats=frame.repeats + int(repeat["count"]))
                continue
            count = int(repeat["count"]) if repeat else _skipped(skip)
            repo = bool(items) and items[-1].repo
            items.append(_Note((line,), count, repo, skipped=skip is not None))
            continue
        if current is not None and (not line.strip() or line[:1].isspace() or _ARROW.match(line)):
            current.append(line)
        elif not line.strip() and items:
            last = items[-1]
            items[-1] = replace(last, lines=(*last.lines, line))
        elif not items and current is None and (not line.strip() or _is_head(lines, number)):
            head.append(line)
        else:
            close()
            error.append(line)
    close()
    while error and not error[-1].strip():
        error.pop()
    return _Section(tuple(head), tuple(items), tuple(error), tuple(link), style)


def _is_head(lines: Sequence[str], index: int) -> bool:
    return _HEADER.match(lines[index]) is not None or (
        _DASHES.match(lines[index]) is not None and index + 1 < len(lines)
    )


def _skipped(match: re.Match[str] | None) -> int:
    if match is None:
        return 0
    if match["hidden"]:
        return int(match["hidden"])
    return sum(int(n) for n in _TIMES.findall(match["similar"] or "")) or 1


def _frame(lines: tuple[str, ...], match: re.Match[str], repo_root: str | None) -> _Frame:
    groups = match.groupdict()
    function = (groups.get("function") or "").strip()
    number = groups.get("line")
    if number is None:
        arrow = next((a for a in map(_ARROW.match, lines) if a), None)
        number = arrow["line"] if arrow else None
    if match.re in (_CELL, _INPUT):
        file, repo = f"<cell {groups['cell']}>", True
    else:
        file = groups["file"]
        repo = _is_repo(file, repo_root)
    return _Frame(lines, file, int(number) if number else None, function, repo)


def _is_repo(file: str, repo_root: str | None) -> bool:
    if file.startswith("<"):
        return file.startswith(_REPO_PSEUDO)
    if repo_root:
        root = os.path.normpath(os.path.expanduser(repo_root))
        path = os.path.normpath(os.path.expanduser(file))
        if path.startswith(root.rstrip(os.sep) + os.sep):
            return _SITE.search(path[len(root) :]) is None
    return _LIBRARY.search(file) is None


# --- trimming -----------------------------------------------------------------------------


def _fold(items: Sequence[_Item], style: Style) -> tuple[_Item, ...]:
    """Recursion folded: a frame, or a cycle of up to `_CYCLE` frames, repeated back to back
    is shown once with a note of how often it came."""
    out: list[_Item] = []
    index = 0
    while index < len(items):
        period, copies = _cycle(items, index)
        item = items[index]
        if period == 1 and isinstance(item, _Frame):
            extra = copies - 1 + sum(_repeats(i) for i in items[index : index + copies])
            if extra:
                out += [replace(item, repeats=0), _fold_note(1, extra, item.repo, style)]
            else:
                out.append(item)
            index += copies
        elif copies > 1:
            out += items[index : index + period]
            repo = any(i.repo for i in items[index : index + period])
            out.append(_fold_note(period, copies - 1, repo, style))
            index += period * copies
        elif (fold := _fold_before(out, item)) is not None:
            # IPython's own "[... skipping similar frames ...]" right after a fold: one note.
            frames = fold.frames + _frames([item])
            out[-1] = _fold_note(fold.folded, frames // fold.folded, fold.repo, style, "~")
            index += 1
        else:
            out.append(item)
            index += 1
    return tuple(out)


def _fold_before(out: Sequence[_Item], item: _Item) -> _Note | None:
    """The fold note just before `item` when `item` is IPython's note of the same recursion."""
    previous = out[-1] if out else None
    if isinstance(previous, _Note) and previous.folded and isinstance(item, _Note) and item.skipped:
        return previous
    return None


def _cycle(items: Sequence[_Item], index: int) -> tuple[int, int]:
    """The period of the repetition starting at `index` that covers most frames, and how many
    times it comes; (1, 1) when nothing repeats."""
    best = (1, 1)
    for period in range(1, _CYCLE + 1):
        block = _keys(items, index, period)
        if len(block) < period or None in block:
            break
        if period > 1 and any(_repeats(i) for i in items[index : index + period]):
            break
        copies = 1
        while _keys(items, index + copies * period, period) == block:
            copies += 1
        if copies > 1 and period * copies > best[0] * best[1]:
            best = (period, copies)
    return best


def _keys(items: Sequence[_Item], start: int, count: int) -> list[_Key | None]:
    return [_key(item) for item in items[start : start + count]]


def _key(item: _Item) -> _Key | None:
    return item.key if isinstance(item, _Frame) else None


def _repeats(item: _Item) -> int:
    return item.repeats if isinstance(item, _Frame) else 0


def _fold_note(period: int, times: int, repo: bool, style: Style, about: str = "") -> _Note:
    what = "previous frame" if period == 1 else f"previous {period} frames"
    text = f"[{what} repeated {about}{_plural(times, 'more time')}]"
    return _Note(_note_lines(text, style), period * times, repo, folded=period)


def _note_lines(text: str, style: Style) -> tuple[str, ...]:
    return (f"  {text}",) if style == "python" else (f"    {text}", "")


def _frames(items: Sequence[_Item]) -> int:
    return sum(1 + i.repeats if isinstance(i, _Frame) else i.frames for i in items)


def _select(items: Sequence[_Item], keep: int, style: Style) -> tuple[_Item, ...]:
    """The repo's frames, and the last `keep` library frames after the last of them."""
    repo = [n for n, item in enumerate(items) if item.repo]
    out: list[_Item] = []
    if repo:
        cursor = 0
        for start, end in _library_runs(items, repo):
            out += items[cursor:start]
            if end < len(items):
                out += _omitted(_frames(items[start:end]), style)
            else:
                tail = _tail(items[start:end], keep)
                out += _omitted(_frames(items[start:end]) - _frames(tail), style)
                out += tail
            cursor = end
        out += items[cursor:]
        return tuple(out)
    first = next((n for n, item in enumerate(items) if isinstance(item, _Frame)), 0)
    tail = _tail(items[first + 1 :], keep)
    middle = items[first + 1 : len(items) - len(tail)]
    return (*items[: first + 1], *_omitted(_frames(middle), style), *tail)


def _library_runs(items: Sequence[_Item], repo: Sequence[int]) -> list[tuple[int, int]]:
    """The [start, end) spans of library items: before, between and after the repo's."""
    runs = []
    edges = [-1, *repo, len(items)]
    for before, after in itertools.pairwise(edges):
        if after - before > 1:
            runs.append((before + 1, after))
    return runs


def _tail(items: Sequence[_Item], keep: int) -> Sequence[_Item]:
    """The last `keep` frames of `items`, with the notes among them."""
    if keep <= 0:
        return ()
    frames = [n for n, item in enumerate(items) if isinstance(item, _Frame)]
    if len(frames) <= keep:
        return items
    return items[frames[-keep] :]


def _omitted(count: int, style: Style) -> list[_Item]:
    if count <= 0:
        return []
    text = f"... {_plural(count, 'library frame')} omitted ..."
    return [_Note(_note_lines(text, style), count, False)]


def _earlier(sections: Sequence[_Section]) -> list[_Section]:
    """The exceptions a chain went through before its last, each by its last frame: the first
    (the root cause) and the one just before the last, when there are more."""
    shown = [_last_frame_only(s) for s in sections]
    if len(shown) <= EARLIER_EXCEPTIONS:
        return shown
    kept = max(1, EARLIER_EXCEPTIONS - 1)
    hidden = len(shown) - kept - 1
    note = ("", f"... {_plural(hidden, 'more chained exception')} omitted ...", *shown[-2].link)
    return [*shown[: kept - 1], replace(shown[kept - 1], link=note), shown[-1]]


def _last_frame_only(section: _Section) -> _Section:
    """An earlier exception of a chain: its last frame and the first line of its error."""
    frames = [item for item in section.items if isinstance(item, _Frame)]
    items: list[_Item] = []
    if frames:
        hidden = _frames(section.items) - 1 - frames[-1].repeats
        text = f"... {_plural(hidden, 'frame')} omitted ..."
        items = [*([_Note(_note_lines(text, section.style), hidden, False)] if hidden else [])]
        items.append(replace(frames[-1], repeats=0))
    error = _trim_message(section.error, 1)
    return replace(section, items=tuple(items), error=error)


def _trim_message(lines: Sequence[str], most: int) -> tuple[str, ...]:
    out = [_cut(line) for line in lines[:most]]
    if len(lines) > most:
        out.append(f"... {_plural(len(lines) - most, 'more line')} of the message ...")
    return tuple(out)


def _cut(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    keep = MAX_LINE_CHARS - 40
    return f"{line[:keep]} ... ({len(line) - keep} more characters)"


def _tighten(
    items: Sequence[_Item], library_only: bool, context: tuple[int, int]
) -> tuple[_Item, ...]:
    """IPython frames cut to the lines around their arrow."""
    return tuple(
        _tighten_frame(item, context)
        if isinstance(item, _Frame) and not (library_only and item.repo)
        else item
        for item in items
    )


def _tighten_frame(frame: _Frame, context: tuple[int, int]) -> _Frame:
    header, body = frame.lines[0], frame.lines[1:]
    arrows = [n for n, line in enumerate(body) if _ARROW.match(line)]
    if not arrows:
        return frame
    start, end = max(0, arrows[0] - context[0]), arrows[-1] + context[1] + 1
    kept = [line for line in body[start:end] if line.strip()]
    trailing = [line for line in body if not line.strip()][-1:]
    return replace(frame, lines=(header, *kept, *trailing))


# --- rendering ----------------------------------------------------------------------------


def _render(sections: Sequence[_Section]) -> list[str]:
    lines: list[str] = []
    for section in sections:
        lines += section.head
        for item in section.items:
            lines += item.lines
        lines += section.error
        if section is not sections[-1]:
            lines += section.link
    return lines


def _cap(lines: Sequence[str], max_lines: int) -> str:
    """`lines` with middle ones cut when there are more than `max_lines`: the end, where the
    error is, matters most."""
    lines = [_cut(line) for line in lines]
    if len(lines) > max_lines:
        keep = max(2, max_lines - 1)
        head = keep // 4
        tail = keep - head
        lines = [*lines[:head], f"... {len(lines) - head - tail} lines omitted ...", *lines[-tail:]]
    return "\n".join(lines).strip("\n")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# --- source -------------------------------------------------------------------------------


def _window(lines: Sequence[str], start: int, end: int) -> list[tuple[int, str]]:
    return [(number, lines[number]) for number in range(start, end)]


def _mark(line: str) -> str:
    if line.rstrip().endswith("\\"):
        return line  # a comment would end the continued line
    return f"{line}  # <- fails here" if line.strip() else "# <- fails here"


def _elided(count: int, where: Literal["above", "below"], near: str) -> str:
    indent = near[: len(near) - len(near.lstrip())]
    return f"{indent}# ... {count} line{'s' if count != 1 else ''} {where} ..."
