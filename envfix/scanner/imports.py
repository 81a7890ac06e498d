"""Imports used by a repo's code: `.py` files and the code cells of notebooks.

Reads source with `ast` (never imports or runs it). Notebook cells first lose their IPython
syntax (magics, `!shell` lines, `?` help) line for line, so line numbers stay right; the
`pip install` commands and package-implying magics found on the way are kept. Files that
only parse as Python 2 are reported and still read for their import lines.
"""

from __future__ import annotations

import ast
import io
import json
import re
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
            _scan_code(text, collector)
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
            c for ws in doc["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", []) or []
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


def _scan_code(text: str, collector: _Collector) -> None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        _scan_unparsable(text, collector, exc)
        return
    _ImportVisitor(collector).visit(tree)


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


class _ImportVisitor(ast.NodeVisitor):
    """Collects imports; knows whether each is optional (guarded by try/except or an if)."""

    def __init__(self, collector: _Collector) -> None:
        self.c = collector
        self.optional_depth = 0

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.c.add_import(alias.name, node.lineno, self.optional_depth > 0)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module or node.module == "__future__":
            return
        self.c.add_import(node.module, node.lineno, self.optional_depth > 0)

    def visit_Expr(self, node: ast.Expr) -> None:
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
                PYTHON2_SOURCE, "Python 2 code ('print >>'); it does not run", node.lineno
            )
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        self._visit_try(node)

    def visit_TryStar(self, node: ast.TryStar) -> None:
        self._visit_try(node)

    def _visit_try(self, node: ast.Try | ast.TryStar) -> None:
        guarded = any(_catches_import_error(h) for h in node.handlers)
        self.optional_depth += guarded
        for stmt in node.body:
            self.visit(stmt)
        self.optional_depth -= guarded
        for part in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(part)

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        conditional = not _is_main_guard(node.test)
        self.optional_depth += conditional
        for stmt in (*node.body, *node.orelse):
            self.visit(stmt)
        self.optional_depth -= conditional

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func)
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) else None
        if name in ("importlib.import_module", "import_module", "__import__") and isinstance(
            literal, str
        ):
            if not literal.startswith("."):
                self.c.add_import(literal, node.lineno, self.optional_depth > 0, via="dynamic")
        elif name in ("sys.path.append", "sys.path.insert"):
            arg = node.args[-1] if node.args else None
            directory = _path_expression(arg) if arg is not None else None
            if directory is not None:
                self.c.search_dirs.append(directory)
        elif name in ("os.chdir", "chdir") and first is not None:
            directory = _path_expression(first)
            if directory is not None:
                self.c.search_dirs.append(directory)
        self.generic_visit(node)


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
