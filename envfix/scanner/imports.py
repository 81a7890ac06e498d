"""Imports used by a repo's code: `.py` files and the code cells of notebooks.

Reads source with `ast` (never imports or runs it). Notebook cells first lose their IPython
syntax (magics, `!shell` lines, `?` help) line for line, so line numbers stay right; the
`pip install` commands and package-implying magics found on the way are kept. Files that
only parse as Python 2 are reported and still read for their import lines.
"""

from __future__ import annotations

import ast
import bisect
import io
import json
import re
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envfix.model import Finding, ImportUse, ImportVia, Location

MAX_SOURCE_BYTES = 5_000_000
MAX_NOTEBOOK_BYTES = 100_000_000

PYTHON2_SOURCE = "python2-source"
SYNTAX_ERROR = "syntax-error"
BINARY_SOURCE = "binary-source"
NON_UTF8_SOURCE = "non-utf8-source"
INVALID_NOTEBOOK = "invalid-notebook"
FILE_TOO_LARGE = "file-too-large"
TENSORFLOW_VERSION_MAGIC = "tensorflow-version-magic"
SYSTEM_PACKAGE = "system-package"

# Magics that need a package beyond IPython itself.
_MAGIC_PACKAGES = {"matplotlib": "matplotlib", "tensorboard": "tensorboard", "pylab": "matplotlib"}
# `%load_ext` extensions that ship with IPython or Colab and need no install.
_BUILTIN_EXTENSIONS = {"autoreload", "storemagic", "google.colab.data_table"}
# Cell magics whose body is Python that runs in the kernel.
_PYTHON_BODY_MAGICS = {"capture", "time", "timeit", "prun", "debug", "memit", "mprun", "expect"}
_SHELL_MAGICS = {"bash", "sh", "shell", "system", "script"}

_IPYTHON_HINT = re.compile(r"^\s*[%!?]|\?\s*$|=\s*[!%]", re.MULTILINE)
_ASSIGNED_SHELL = re.compile(r"^(\s*)([A-Za-z_][\w.,\s\[\]()]*?)\s*=\s*[!%]")
# `np.array?`, `??np.load`, `np.*load*?`: help requests, not code.
_HELP = re.compile(r"^\s*(?:\?{1,2}[\w.*]+|[\w.*\[\]()]+\?{1,2})\s*$")
_PIP_COMMAND = re.compile(
    r"(?:^|[;&|]\s*|\s)((?:sudo\s+)?(?:python[\d.]*\s+-m\s+)?pip[\d.]*\s+install\b[^;&|]*)"
)
_APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*install\s+(.+)")
# Statements that only Python 2 accepts: print statements, `except E, e`, backticks, `exec "..."`,
# `raise E, "message"`, `<>`, old octal literals, `ur""` strings.
_PYTHON2_MARKERS = re.compile(
    r"^\s*print\s*(?:[^\s(=.,)\]}:;]|>>)"
    r"|^\s*except\s+[\w.]+\s*,\s*\w+\s*:"
    r"|^\s*exec\s+[\"'\w]"
    r"|^\s*raise\s+[\w.]+\s*,"
    r"|`[^`\n]+`"
    r"|<>"
    r"|\b0[0-7]+\b"
    r"|\bur[\"']",
    re.MULTILINE,
)
# What Python 3 itself says when it meets Python 2 syntax.
_PYTHON2_MESSAGES = (
    "Missing parentheses in call to 'print'",
    "Missing parentheses in call to 'exec'",
    "multiple exception types must be parenthesized",
)
_IMPORT_LINE = re.compile(
    r"^\s*(?:from\s+([\w.]+)\s+import\s|import\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*))",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Command:
    """A shell or `%pip` command found in a notebook, with where it was."""

    text: str
    location: Location


@dataclass(frozen=True)
class CodeScan:
    """What one source file (or notebook) says about its needs."""

    imports: tuple[ImportUse, ...] = ()
    pip_commands: tuple[Command, ...] = ()
    shell_commands: tuple[Command, ...] = ()
    findings: tuple[Finding, ...] = ()
    python2: bool = False
    search_dirs: tuple[str, ...] = ()
    """Directories, relative to the file's own folder, that the code puts on `sys.path` or
    changes into (`sys.path.append('src')`, `%cd src`)."""
    written_modules: tuple[str, ...] = ()
    """Modules a notebook writes itself (`%%writefile model.py`)."""


@dataclass
class _Collector:
    """Mutable scratch space while one file is read; frozen into a `CodeScan` at the end."""

    path: str
    cell: int | None = None
    imports: list[ImportUse] = field(default_factory=list)
    pip_commands: list[Command] = field(default_factory=list)
    shell_commands: list[Command] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    python2: bool = False
    search_dirs: list[str] = field(default_factory=list)
    written_modules: list[str] = field(default_factory=list)

    def at(self, line: int | None) -> Location:
        return Location(self.path, line, self.cell)

    def add_import(
        self, module: str, line: int | None, optional: bool, via: ImportVia = "import"
    ) -> None:
        self.imports.append(ImportUse(module, self.at(line), optional, via=via))

    def finding(self, code: str, message: str, line: int | None = None, **kw: Any) -> None:
        self.findings.append(Finding(code, message, self.at(line), **kw))

    def freeze(self) -> CodeScan:
        return CodeScan(
            tuple(self.imports),
            tuple(self.pip_commands),
            tuple(self.shell_commands),
            tuple(self.findings),
            self.python2,
            tuple(dict.fromkeys(self.search_dirs)),
            tuple(dict.fromkeys(self.written_modules)),
        )


# --- reading files ------------------------------------------------------------------------


def decode_source(data: bytes, collector: _Collector) -> str | None:
    """Source text from bytes, honouring a PEP 263 coding line; None for a binary file."""
    if b"\x00" in data[:8192]:
        collector.finding(BINARY_SOURCE, "binary file with a .py name; not read", severity="info")
        return None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        collector.finding(
            NON_UTF8_SOURCE, "not valid UTF-8 and no coding line; read as latin-1", severity="info"
        )
        return data.decode("latin-1")


def scan_python_file(root: Path, relpath: str) -> CodeScan:
    collector = _Collector(relpath)
    data = _read_bytes(root / relpath, MAX_SOURCE_BYTES, collector)
    if data is not None:
        text = decode_source(data, collector)
        if text is not None:
            _scan_code(text, collector, whole=False)
    return collector.freeze()


def scan_notebook_file(root: Path, relpath: str) -> CodeScan:
    collector = _Collector(relpath)
    data = _read_bytes(root / relpath, MAX_NOTEBOOK_BYTES, collector)
    if data is not None:
        scan_notebook_text(data.decode("utf-8", errors="replace"), collector)
    return collector.freeze()


def _read_bytes(path: Path, limit: int, collector: _Collector) -> bytes | None:
    try:
        size = path.stat().st_size
        if size > limit:
            collector.finding(
                FILE_TOO_LARGE, f"{size // 1_000_000} MB, over the {limit // 1_000_000} MB limit"
            )
            return None
        return path.read_bytes()
    except OSError as exc:
        collector.finding("unreadable-file", f"cannot read: {exc.strerror}")
        return None


# --- notebooks ----------------------------------------------------------------------------


def notebook_code_cells(doc: Any) -> Iterator[tuple[int, str]]:
    """(cell number counted from 1 over all cells, source) for each code cell.

    Accepts nbformat 4 (`cells`) and nbformat 3 (`worksheets[].cells`, source in `input`).
    """
    if not isinstance(doc, dict):
        raise ValueError("the top level is not a JSON object")
    cells = doc.get("cells")
    if cells is None and isinstance(doc.get("worksheets"), list):
        cells = [
            c
            for ws in doc["worksheets"]
            if isinstance(ws, dict) and isinstance(ws.get("cells"), list)
            for c in ws["cells"]
        ]
    if not isinstance(cells, list):
        raise ValueError("it has no list of cells")
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if isinstance(source, str) and source.strip():
            yield number, source


def scan_notebook_text(text: str, collector: _Collector) -> None:
    try:
        doc = json.loads(text)
        cells = list(notebook_code_cells(doc))
    except (ValueError, RecursionError) as exc:
        reason = exc.args[0] if isinstance(exc, ValueError) and exc.args else "too deeply nested"
        collector.finding(INVALID_NOTEBOOK, f"not a readable notebook: {reason}", severity="error")
        return
    for number, source in cells:
        collector.cell = number
        _scan_cell(source, collector)
    collector.cell = None


def _scan_cell(source: str, collector: _Collector) -> None:
    lines = source.split("\n")
    first = lines[0].strip()
    if first.startswith("%%"):
        magic, _, args = first[2:].partition(" ")
        if magic in _SHELL_MAGICS:
            _collect_shell(lines[1:], collector, first_line=2)
            return
        if magic == "writefile":
            target = args.split()[-1] if args.split() else ""
            if target.endswith(".py"):
                collector.written_modules.append(Path(target).stem)
                _scan_code("\n".join(["", *lines[1:]]), collector)
            return
        if magic not in _PYTHON_BODY_MAGICS:
            return
        lines = ["", *lines[1:]]
    if _IPYTHON_HINT.search("\n".join(lines)):
        lines = _strip_ipython(lines, collector)
    _scan_code("\n".join(lines), collector)


def _strip_ipython(lines: list[str], collector: _Collector) -> list[str]:
    """Replace IPython-only lines with Python of the same line count, collecting what they ask."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        assigned = _ASSIGNED_SHELL.match(line)
        if not (stripped[:1] in ("!", "%") or assigned or _HELP.match(line)):
            out.append(line)
            index += 1
            continue
        end = index
        # Shell and magic lines continue onto the next line after a trailing backslash.
        while lines[end].rstrip().endswith("\\") and end + 1 < len(lines):
            end += 1
        joined = " ".join(
            part.rstrip().removesuffix("\\").rstrip()
            if at == index
            else part.strip().removesuffix("\\").strip()
            for at, part in enumerate(lines[index : end + 1], start=index)
        )
        indent = line[: len(line) - len(line.lstrip())]
        lineno = index + 1
        command = joined[assigned.end() - 1 :].strip() if assigned else joined.strip()
        if command.startswith("!"):
            _collect_shell([command[1:]], collector, first_line=lineno)
        elif command.startswith("%"):
            _collect_magic(command.lstrip("%"), collector, lineno)
        out.append(f"{indent}{assigned[2]} = None" if assigned else f"{indent}pass")
        out.extend("" for _ in range(end - index))
        index = end + 1
    return out


def _collect_magic(text: str, collector: _Collector, line: int) -> None:
    name, _, args = text.partition(" ")
    args = args.strip()
    if name in ("pip", "conda"):
        collector.pip_commands.append(Command(f"{name} {args}", collector.at(line)))
    elif name in _MAGIC_PACKAGES:
        collector.add_import(_MAGIC_PACKAGES[name], line, optional=False, via="magic")
    elif name == "load_ext" and args and args.split()[0] not in _BUILTIN_EXTENSIONS:
        collector.add_import(args.split()[0], line, optional=False, via="magic")
    elif name == "tensorflow_version":
        collector.finding(
            TENSORFLOW_VERSION_MAGIC,
            f"'%tensorflow_version {args}' no longer works in Colab (removed in 2023);"
            " the code runs on TensorFlow 2",
            line,
        )
        collector.add_import("tensorflow", line, optional=False, via="magic")
    elif name == "cd" and args and not args.startswith(("-", "$", "/", "~")):
        collector.search_dirs.append(args.strip("'\""))
    elif name in ("sx", "system"):
        _collect_shell([args], collector, first_line=line)


def _collect_shell(lines: list[str], collector: _Collector, first_line: int) -> None:
    for offset, line in enumerate(lines):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        location = collector.at(first_line + offset)
        found_pip = False
        for m in _PIP_COMMAND.finditer(text):
            collector.pip_commands.append(Command(m[1].strip(), location))
            found_pip = True
        if not found_pip:
            collector.shell_commands.append(Command(text, location))
        if m2 := _APT_INSTALL.search(text):
            packages = [p for p in m2[1].split() if not p.startswith("-")]
            collector.findings.append(
                Finding(
                    SYSTEM_PACKAGE,
                    f"installs system packages with apt: {' '.join(packages)}",
                    location,
                    severity="info",
                )
            )


# --- Python source ------------------------------------------------------------------------


def _scan_code(text: str, collector: _Collector, whole: bool = True) -> None:
    """Collect the imports of `text`; `whole=False` allows the fast path for big files."""
    if not whole and not _needs_full_parse(text) and _scan_snippets(text, collector):
        return
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        _scan_unparsable(text, collector, exc)
        return
    _ImportVisitor(collector, calls=_mentions_calls(text)).visit_body(tree.body)


# Words that only matter inside expressions (dynamic imports, sys.path tricks, chdir).
_CALL_WORDS = ("import_module", "__import__", "sys.path", "chdir")
# A cheap look for Python 2 statements before trusting the fast path.
_PYTHON2_HINT = re.compile(
    r"^[ \t]*(?:print[ \t]*(?:[^\s(=.,)\]}:;#]|>>)|exec[ \t]+[\"'\w]"
    r"|except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:|raise[ \t]+[\w.]+[ \t]*,)"
    r"|`[\w.]+`",
    re.MULTILINE,
)
_IMPORT_START = re.compile(r"^([ \t]*)(?:import|from)[ \t\\]", re.MULTILINE)
_CONTINUES_BLOCK = ("except", "else", "elif", "finally", ")", "]", "}", "#")


def _mentions_calls(text: str) -> bool:
    return any(word in text for word in _CALL_WORDS)


def _needs_full_parse(text: str) -> bool:
    return _mentions_calls(text) or _PYTHON2_HINT.search(text) is not None


def _scan_snippets(text: str, collector: _Collector) -> bool:
    """Read the imports of a file by parsing only the top-level statements that contain
    import lines, which is many times faster than parsing the whole file.

    Returns False (and collects nothing) when a snippet does not parse, for example when a
    line inside a multi-line string looked like a statement: the caller then parses it all.
    """
    strings = _triple_quoted_spans(text)
    matches = [m for m in _IMPORT_START.finditer(text) if not _inside(strings, m.start())]
    if not matches:
        return True
    lines = text.split("\n")
    ranges: list[tuple[int, int]] = []
    line = 0
    position = 0
    for m in matches:
        line += text.count("\n", position, m.start())
        position = m.start()
        if ranges and line < ranges[-1][1]:
            continue
        start = line
        if m[1]:
            while start > 0 and not _starts_statement(lines[start]):
                start -= 1
        end = line + 1
        while end < len(lines) and not _starts_statement(lines[end]):
            end += 1
        if ranges and start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
    trees = []
    for start, end in ranges:
        try:
            trees.append((start, ast.parse("\n".join(lines[start:end]))))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    for start, tree in trees:
        _ImportVisitor(collector, calls=False, line_offset=start).visit_body(tree.body)
    return True


def _triple_quoted_spans(text: str) -> list[tuple[int, int]]:
    """Where the triple-quoted strings (docstrings) of a file are: their text may look like
    code (`import x` in a usage example)."""
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        double, single = text.find('"""', position), text.find("'''", position)
        starts = [i for i in (double, single) if i >= 0]
        if not starts:
            return spans
        start = min(starts)
        quote = text[start : start + 3]
        end = text.find(quote, start + 3)
        end = len(text) if end < 0 else end + 3
        spans.append((start, end))
        position = end


def _inside(spans: list[tuple[int, int]], offset: int) -> bool:
    index = bisect.bisect_right(spans, (offset, sys.maxsize)) - 1
    return index >= 0 and spans[index][0] <= offset < spans[index][1]


def _starts_statement(line: str) -> bool:
    """A line at column 0 that begins a new top-level statement."""
    return bool(line) and not line[0].isspace() and not line.startswith(_CONTINUES_BLOCK)


def _scan_unparsable(text: str, collector: _Collector, exc: Exception) -> None:
    line = exc.lineno if isinstance(exc, SyntaxError) else None
    message = exc.msg if isinstance(exc, SyntaxError) else ""
    if message.startswith(_PYTHON2_MESSAGES) or _PYTHON2_MARKERS.search(text):
        collector.python2 = True
        if collector.cell is None or not any(f.code == PYTHON2_SOURCE for f in collector.findings):
            collector.finding(
                PYTHON2_SOURCE,
                "Python 2 code (does not parse as Python 3); imports read line by line",
                line,
            )
    else:
        detail = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        collector.finding(
            SYNTAX_ERROR, f"does not parse: {detail}; imports read line by line", line
        )
    for m in _IMPORT_LINE.finditer(text):
        lineno = text.count("\n", 0, m.start()) + 1
        if m[1]:
            if not m[1].startswith("."):
                collector.add_import(m[1], lineno, optional=False)
        else:
            for part in m[2].split(","):
                collector.add_import(part.split()[0], lineno, optional=False)


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


class _ImportVisitor:
    """Collects imports from statements; knows whether each is optional (guarded by
    try/except ImportError or an `if`). Expressions are only searched, for dynamic imports
    and `sys.path` changes, when `calls` is set: most files have none, and walking every
    expression node costs more than parsing."""

    def __init__(self, collector: _Collector, calls: bool, line_offset: int = 0) -> None:
        self.c = collector
        self.calls = calls
        self.offset = line_offset
        self.optional_depth = 0

    def visit_body(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.visit(stmt)

    def visit(self, node: ast.stmt) -> None:
        optional = self.optional_depth > 0
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.c.add_import(alias.name, node.lineno + self.offset, optional)
        elif isinstance(node, ast.ImportFrom):
            if not node.level and node.module and node.module != "__future__":
                self.c.add_import(node.module, node.lineno + self.offset, optional)
        elif isinstance(node, ast.Try | ast.TryStar):
            self._visit_try(node)
        elif isinstance(node, ast.If):
            self._expressions(node.test)
            conditional = not _is_main_guard(node.test)
            self.optional_depth += conditional
            self.visit_body(node.body)
            self.visit_body(node.orelse)
            self.optional_depth -= conditional
        else:
            if isinstance(node, ast.Expr):
                self._python2_print(node)
            for _, value in ast.iter_fields(node):
                if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                    self.visit_body(value)
                elif isinstance(value, list) and value and isinstance(value[0], ast.match_case):
                    for case in value:
                        self.visit_body(case.body)
                elif isinstance(value, ast.expr):
                    self._expressions(value)

    def _visit_try(self, node: ast.Try | ast.TryStar) -> None:
        guarded = any(_catches_import_error(h) for h in node.handlers)
        self.optional_depth += guarded
        self.visit_body(node.body)
        self.optional_depth -= guarded
        for handler in node.handlers:
            self.visit_body(handler.body)
        self.visit_body(node.orelse)
        self.visit_body(node.finalbody)

    def _python2_print(self, node: ast.Expr) -> None:
        # `print >>f, x` still parses as Python 3 (a tuple), but only means something in 2.
        value = node.value
        first = value.elts[0] if isinstance(value, ast.Tuple) and value.elts else value
        if (
            isinstance(first, ast.BinOp)
            and isinstance(first.op, ast.RShift)
            and isinstance(first.left, ast.Name)
            and first.left.id == "print"
        ):
            self.c.python2 = True
            self.c.finding(
                PYTHON2_SOURCE,
                "Python 2 code ('print >>'); it does not run",
                node.lineno + self.offset,
            )

    def _expressions(self, node: ast.expr) -> None:
        if not self.calls:
            return
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                self._call(sub)

    def _call(self, node: ast.Call) -> None:
        name = _dotted(node.func)
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) else None
        optional = self.optional_depth > 0
        if name in ("importlib.import_module", "import_module", "__import__") and isinstance(
            literal, str
        ):
            if not literal.startswith("."):
                self.c.add_import(literal, node.lineno + self.offset, optional, via="dynamic")
        elif name in ("sys.path.append", "sys.path.insert"):
            arg = node.args[-1] if node.args else None
            directory = _path_expression(arg) if arg is not None else None
            if directory is not None:
                self.c.search_dirs.append(directory)
        elif name in ("os.chdir", "chdir") and first is not None:
            directory = _path_expression(first)
            if directory is not None:
                self.c.search_dirs.append(directory)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(_dotted(t).rpartition(".")[2] in _IMPORT_ERRORS for t in types)


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _path_expression(node: ast.expr) -> str | None:
    """A directory relative to the file's folder from a simple path expression, or None.

    Understands string literals, `os.path.dirname(__file__)`, `os.path.join(...)`,
    `os.path.abspath(...)`, `Path(__file__).parent / "src"`, and `os.getcwd()`.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if not node.value.startswith(("/", "~")) else None
    if isinstance(node, ast.Name) and node.id == "__file__":
        return "__file__"
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = _path_expression(node.value)
        return _parent(inner) if inner is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _path_expression(node.left), _path_expression(node.right)
        return _join(left, right) if left is not None and right is not None else None
    if not isinstance(node, ast.Call):
        return None
    func = _dotted(node.func)
    args = [_path_expression(a) for a in node.args]
    if func in ("os.getcwd", "getcwd") and not node.args:
        return "."
    if None in args or not args:
        return None
    parts = [a for a in args if a is not None]
    if func in ("os.path.dirname", "dirname", "path.dirname"):
        return _parent(parts[0])
    if func in (
        "os.path.abspath",
        "abspath",
        "os.path.realpath",
        "realpath",
        "str",
        "Path",
        "pathlib.Path",
        "os.path.normpath",
        "os.fspath",
    ):
        return parts[0]
    if func in ("os.path.join", "join", "path.join"):
        result = parts[0]
        for part in parts[1:]:
            result = _join(result, part)
        return result
    return None


def _parent(path: str) -> str:
    if path == "__file__":
        return "."
    return path + "/.."


def _join(left: str, right: str) -> str:
    if left == "__file__":
        left = "."
    return right if right.startswith("/") else f"{left}/{right}"
