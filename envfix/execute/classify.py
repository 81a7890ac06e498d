"""What the first error of a run means: the class that decides what the repair loop can do
and what the report tells the student."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from envfix.model import FailureClass, Location

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MISSING = re.compile(r"No module named '(?P<module>[\w.]+)'")
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
# IPython's frames: "File /path/x.py:12, in f()" (8.x) or "/path/x.py in f(a)" (7.x).
_IPY_FRAME = re.compile(r"(?:^|\n)\s*(?:File )?(?P<file>/[^\s:]+\.py)(?::(?P<line>\d+))?")
_SITE = re.compile(r"[/\\](?:site|dist)-packages[/\\](?P<top>[\w.-]+)")

EXPLANATIONS: dict[FailureClass, str] = {
    "missing-module": "a module the code imports is not installed",
    "removed-api": "the code uses an API that the installed library no longer has",
    "binary-incompatible": "a compiled package was built against another NumPy (1.x vs 2.x)",
    "version-conflict": "installed packages ask for versions of each other that disagree",
    "needs-gpu": "the code needs a CUDA GPU: Runtime > Change runtime type > T4 GPU",
    "needs-network": "the code downloads something and the download failed",
    "needs-data": "a data file or folder the code reads is not there: the README usually says"
    " where to download it",
    "needs-colab": "the code uses google.colab (Drive, uploads): it runs only in Colab",
    "python2-syntax": "the code is Python 2 and does not parse as Python 3",
    "timeout": "a cell ran past its time limit (training? try --smoke, or a longer --cell-timeout)",
    "kernel-died": "the kernel died: usually out of memory, or a crash in compiled code",
    "needs-input": "the code waits for keyboard input (input()), which a run cannot give",
    "repo-bug": "an error in the repo's own code, not in the environment",
}

_BINARY = (
    "numpy.dtype size changed",
    "compiled using NumPy 1.x cannot be run in",
    "_ARRAY_API not found",
    "numpy.core.multiarray failed to import",
    "numpy.core._multiarray_umath failed to import",
    "undefined symbol",
    "Expected 96 from C header, got 88",
    # torchvision's compiled operators built for another torch build.
    "operator torchvision::",
    "Couldn't load custom C++ ops",
    "module compiled against ABI version",
    "module compiled against API version",
)
_GPU = (
    "Torch not compiled with CUDA enabled",
    "Found no NVIDIA driver",
    "no CUDA GPUs are available",
    "CUDA driver version is insufficient",
    "NVIDIA driver on your system is too old",
    "cuda runtime error",
    "Attempting to deserialize object on a CUDA device",
    "libcudart.so",
    "CUDA_ERROR_NO_DEVICE",
    "No CUDA GPUs are available",
    "nvidia-smi: not found",
)
_NETWORK = (
    "URLError",
    "ConnectionError",
    "ConnectTimeout",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Max retries exceeded",
    "Failed to establish a new connection",
    "gaierror",
    "Network is unreachable",
    "HTTPError",
    "HTTP Error",
    "Connection refused",
    "RemoteDisconnected",
)
_DATA_ERRORS = ("FileNotFoundError", "IsADirectoryError", "NotADirectoryError")
_CONFLICT = (
    "VersionConflict",
    "DistributionNotFound",
    "is required by",
    "but you have",
    "incompatible with",
)
# An old library's generated or compiled code under a dependency that moved on (a 2018
# tensorboardX's _pb2 modules under protobuf 4+).
_DEPENDENCY_MOVED_ON = (
    "Descriptors cannot be created directly",
    "generated code is out of date",
)
_API_ERRORS = ("AttributeError", "ImportError", "TypeError", "ValueError", "NameError")


@dataclass(frozen=True)
class Diagnosis:
    """The class of an error, and what in it the repair loop can act on."""

    kind: FailureClass
    module: str | None = None
    recipe: str | None = None
    package: str | None = None
    location: Location | None = None
    suspects: tuple[str, ...] = ()


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def classify(
    ename: str,
    evalue: str,
    traceback: str,
    *,
    local_modules: Iterable[str] = (),
    recipe_errors: Iterable[tuple[str, re.Pattern[str]]] = (),
) -> Diagnosis:
    """The class of an error raised by code whose own modules are `local_modules`.

    `recipe_errors` are (recipe id, the error text a run shows) pairs: a match names the
    recipe that fixes it.
    """
    traceback = strip_ansi(traceback)
    local_modules = tuple(local_modules)
    found = _classify(ename, evalue, traceback, local_modules, recipe_errors)
    local = {m.partition(".")[0] for m in local_modules}
    suspects = [found.package] if found.package else []
    suspects += failing_line_names(traceback)
    suspects += frame_packages(traceback)
    suspects += [m for m in [_library_attribute(evalue)] if m]
    kept = tuple(dict.fromkeys(s for s in suspects if s not in local))
    return replace(found, suspects=kept)


def _classify(
    ename: str,
    evalue: str,
    traceback: str,
    local_modules: Iterable[str],
    recipe_errors: Iterable[tuple[str, re.Pattern[str]]],
) -> Diagnosis:
    text = f"{ename}: {evalue}\n{traceback}"
    package = raising_package(traceback)
    if ename in ("SyntaxError", "IndentationError", "TabError") and _python2(evalue, traceback):
        return Diagnosis("python2-syntax")
    if any(marker in text for marker in _BINARY):
        return Diagnosis("binary-incompatible", package=package)
    # A library may re-raise the import error as its own (gym's DependencyNotInstalled).
    missing = _MISSING.search(evalue)
    if missing:
        module = missing["module"]
        if module.split(".")[0] == "google" and module.startswith("google.colab"):
            return Diagnosis("needs-colab", module=module)
        return Diagnosis("missing-module", module=module, package=package)
    if "google.colab" in text or "drive.mount" in text:
        return Diagnosis("needs-colab")
    if any(marker in text for marker in _GPU) or (
        ename in ("AssertionError", "RuntimeError") and "CUDA" in evalue
    ):
        return Diagnosis("needs-gpu", package=package)
    recipe = next((rid for rid, pattern in recipe_errors if pattern.search(text)), None)
    if recipe is not None:
        return Diagnosis("removed-api", recipe=recipe, package=package)
    if any(marker in text for marker in _CONFLICT) and "pkg_resources" in text:
        return Diagnosis("version-conflict", package=package)
    if any(marker in text for marker in _DEPENDENCY_MOVED_ON):
        return Diagnosis("version-conflict", package=package)
    if any(marker in f"{ename} {evalue}" for marker in _NETWORK) or (
        ename == "OSError" and any(marker in text for marker in _NETWORK)
    ):
        return Diagnosis("needs-network", package=package)
    if ename in _DATA_ERRORS or (ename == "OSError" and "No such file" in evalue):
        return Diagnosis("needs-data", package=package)
    if ename in _API_ERRORS and package is not None and _library_api(ename, evalue):
        return Diagnosis("removed-api", package=package)
    library = _library_attribute(evalue) if ename in ("AttributeError", "ImportError") else None
    if library is not None and library not in set(local_modules):
        return Diagnosis("removed-api", package=library)
    if ename == "EOFError" and re.search(r"\binput\(", traceback):
        return Diagnosis("needs-input")
    return Diagnosis("repo-bug", package=package)


def frame_packages(traceback: str) -> list[str]:
    """The installed libraries the traceback goes through, innermost first."""
    found: list[str] = []
    for line in reversed(traceback.splitlines()):
        for pattern in (_FRAME, _IPY_FRAME):
            match = pattern.search(line)
            site = _SITE.search(match["file"]) if match else None
            if site:
                found.append(site["top"].removesuffix(".py"))
                break
    return list(dict.fromkeys(found))


def raising_package(traceback: str) -> str | None:
    """The top-level folder in site-packages of the last frame, when the error was raised
    inside an installed library."""
    last = None
    for line in traceback.splitlines():
        for pattern in (_FRAME, _IPY_FRAME):
            match = pattern.search(line)
            if match:
                last = match["file"]
    if last is None:
        return None
    site = _SITE.search(last)
    return site["top"].removesuffix(".py") if site else None


_ARROW = re.compile(r"^-+>\s*\d+\s+(?P<code>.*)$", re.MULTILINE)
_NAME_DOT = re.compile(r"\b([A-Za-z_]\w*)\.")


def failing_line_names(traceback: str) -> list[str]:
    """Names used with a dot on the lines the traceback goes through, innermost first
    (`matplotlib.rcParams._get(...)` -> matplotlib): the modules the failing code reached."""
    lines = _ARROW.findall(traceback)
    if not lines:
        for frame in _FRAME.finditer(traceback):
            rest = traceback[frame.end() :].split("\n", 2)
            lines.append(rest[1].strip() if len(rest) > 1 else "")
    names = [n for code in reversed(lines) for n in _NAME_DOT.findall(code)]
    return list(dict.fromkeys(n for n in names if n not in ("self", "cls")))


def failing_line(traceback: str, root: str) -> Location | None:
    """The last frame of a script's traceback that is in the repo: its file and line."""
    found = None
    prefix = root.rstrip("/") + "/"
    for match in _FRAME.finditer(strip_ansi(traceback)):
        if match["file"].startswith(prefix):
            found = Location(match["file"][len(prefix) :], int(match["line"]))
    return found


def _python2(evalue: str, traceback: str) -> bool:
    return "Missing parentheses in call to" in evalue or _PY2_LINE.search(traceback) is not None


_PY2_LINE = re.compile(
    r"^\s*(?:print\s+[\"'\w%]|except\s+[\w.]+\s*,\s*\w+\s*:|raise\s+\w+\s*,|exec\s+[\"'])",
    re.MULTILINE,
)


def _library_api(ename: str, evalue: str) -> bool:
    if ename == "AttributeError":
        return any(words in evalue for words in ("has no attribute", "was removed", "been removed"))
    if ename == "ImportError":
        return "cannot import name" in evalue
    if ename == "TypeError":
        return "unexpected keyword argument" in evalue or "positional argument" in evalue
    return ename == "ValueError" and ("is not a valid value" in evalue or "Invalid" in evalue)


_MODULE_ATTRIBUTE = re.compile(r"module '(?P<module>[\w.]+)' has no attribute")
_CANNOT_IMPORT = re.compile(r"cannot import name '\w+' from '(?P<module>[\w.]+)'")


def _library_attribute(evalue: str) -> str | None:
    """`module 'numpy' has no attribute 'float'` raised in the repo's own frame: the
    library's top-level name."""
    match = _MODULE_ATTRIBUTE.search(evalue) or _CANNOT_IMPORT.search(evalue)
    return match["module"].split(".")[0] if match else None
