"""A run's record turned into a report: the facts a forum post needs, trimmed and redacted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import git

from envfix.execute.classify import EXPLANATIONS, strip_ansi
from envfix.model import (
    Failure,
    FailureClass,
    Location,
    Lock,
    PackageVersion,
    Patch,
    Report,
    RunRecord,
    Runtime,
)
from envfix.reporting.redact import Redactor
from envfix.reporting.trim import failing_line, trim_source, trim_traceback
from envfix.resolve.lock import planned_versions
from envfix.scanner.names import NameResolver
from envfix.workspace import STATE_DIR, Workspace, open_repo

REPORT_FILE = "ENVFIX_REPORT.md"
MAX_PACKAGES = 6
MAX_CHANGES = 10

# One sentence each: what to do next. Filled from the facts of the failure; a field the
# failure does not have falls back to the general form.
NEXT_STEPS: dict[FailureClass, tuple[str, str]] = {
    "missing-module": (
        "`{module}` is not installed and no package envfix knows provides it: find the package"
        " in the README (or the module's docs), add it to a `%pip install` cell, and run again.",
        "A module is not installed: add its package to a `%pip install` cell and run again.",
    ),
    "removed-api": (
        "{package} {version} no longer has this API and no envfix recipe covers it yet: look up"
        " the replacement in {package}'s changelog and change the code at the line shown.",
        "The installed library no longer has this API: look up the replacement in its"
        " changelog and change the code at the line shown.",
    ),
    "binary-incompatible": (
        "{package} was built against NumPy 1.x: install a release of it built for NumPy 2"
        " (or pin `numpy<2` in a `%pip install` cell), then restart the runtime.",
        "A compiled package was built against NumPy 1.x: install a release built for NumPy 2"
        " (or pin `numpy<2`), then restart the runtime.",
    ),
    "version-conflict": (
        "{package} {version} does not work with the versions installed around it: try the"
        " newest {package} in a `%pip install` cell, then restart the runtime.",
        "Installed packages disagree about each other's versions: see the traceback for which,"
        " upgrade the older one, then restart the runtime.",
    ),
    "needs-gpu": (
        "Runtime > Change runtime type > T4 GPU, then run the notebook again.",
        "Runtime > Change runtime type > T4 GPU, then run the notebook again.",
    ),
    "needs-network": (
        "The download from {url} failed: check that the link still works (paper links move;"
        " the repo's issues often have the new one) and that the runtime has internet access.",
        "A download failed: check that the link in the code still works and that the runtime"
        " has internet access.",
    ),
    "needs-data": (
        "The code needs `{file}`, which the README says to download from {url}: download it"
        " into the path the code reads, then run again.",
        "The code needs `{file}` and the README does not say where to get it: ask where the"
        " data is, or check the repo's issues.",
    ),
    "needs-colab": (
        "The code mounts Google Drive or uploads files: run it in Colab, with the data in your"
        " Drive where the code expects it.",
        "The code mounts Google Drive or uploads files: run it in Colab.",
    ),
    "python2-syntax": (
        "This code is Python 2: port the file shown (`2to3 -w {file}` does most of it), then"
        " run again.",
        "This code is Python 2: port it to Python 3 (`2to3` does most of it), then run again.",
    ),
    "timeout": (
        "The cell was still running after {limit}: a training loop? Lower the epochs or steps,"
        " or run envfix with `--smoke` (or a longer `--cell-timeout`).",
        "A cell ran past its time limit: lower the epochs or steps, or run envfix with"
        " `--smoke` (or a longer `--cell-timeout`).",
    ),
    "kernel-died": (
        "Usually out of memory: lower the batch size or the data loaded at once, or use a"
        " runtime with more RAM; the kernel's last output is in `.envfix/executed/kernel.log`.",
        "Usually out of memory: lower the batch size or the data loaded at once.",
    ),
    "needs-input": (
        "The code asks for keyboard input (an interactive menu?): give the answer as an"
        " argument if the script takes one (see its README or `--help`), or run it in a"
        " terminal.",
        "The code asks for keyboard input: run it in a terminal, or give the answer as an"
        " argument.",
    ),
    "repo-bug": (
        "The error is in the repo's own code ({file}), not in the environment: check the repo's"
        " issues for it, and the README for arguments or files it expects.",
        "The error is in the repo's own code, not in the environment: check the repo's issues"
        " for it, and the README for arguments or files it expects.",
    ),
}

_OUTCOME_MEANING = {
    "runs": "every code cell ran",
    "started": "every cell before the last one ran, and the last was still running at its"
    " limit (smoke mode: a training loop that started)",
}
_MISSING_FILE = re.compile(r"No such file or directory: '(?P<file>[^']+)'")
_URL = re.compile(r"https?://[^\s'\"<>()\]]+")


@dataclass(frozen=True)
class _Context:
    """The facts a next-step template can name."""

    package: str | None = None
    version: str | None = None
    module: str | None = None
    url: str | None = None
    file: str | None = None
    limit: str | None = None
    script: str | None = None
    """A command of the repo's that gets its data (`bash fetch_data.sh`)."""


def compose(record: RunRecord, root: Path, *, names: Iterable[str] = ()) -> Report:
    """The report of a run. `root` is the folder of the code; `names` are extra words to
    redact (a user name, the git author)."""
    redactor = Redactor(names=names)
    run = record.run
    final = run.final
    failure = final.failure
    versions = planned_versions(record.runtime, record.lock)
    packages = _packages(failure, record.runtime, versions) if failure else ()
    kind = failure.kind if failure and final.status == "blocked" else None
    context = _context(failure, packages, root, run.entry.path) if failure else _Context()
    meaning, next_step = _meaning(final.status, kind, context)
    if run.entry.kind == "script" and final.status == "runs":
        meaning = "the script ran to the end without an error"
    if run.entry.kind == "script":
        next_step = next_step.replace("run the notebook again", "run the script again")
    code = _code(failure, root, run.final.executed_path, run.entry.path) if kind else None
    trimmed = trim_traceback(failure.traceback, repo_root=str(root)) if kind and failure else None
    entry = " ".join(("python", run.entry.path, *run.entry.args))
    if run.entry.kind == "notebook":
        entry = run.entry.path
    return Report(
        title=redactor.redact(_title(record, kind)),
        outcome=final.status,
        failure_class=kind,
        meaning=redactor.redact(meaning),
        next_step=redactor.redact(next_step),
        repo=redactor.redact(record.source),
        commit=record.commit,
        entry=redactor.redact(entry),
        where=_where(failure.location, run.entry.path) if kind and failure else None,
        environment=redactor.redact(run.environment),
        runtime=redactor.redact(_runtime(record.runtime, run.environment)),
        cells_passed=final.cells_passed,
        cells_total=final.cells_total,
        packages=packages,
        code=redactor.redact(code) if code else None,
        traceback=redactor.redact(trimmed) if trimmed else None,
        changes=tuple(redactor.redact(line) for line in _changes(record.lock, versions)),
        recipes=tuple(redactor.redact(line) for line in _recipes(record.patches)),
        rounds=tuple(redactor.redact(line) for line in _rounds(record)),
        install_cell=f"%pip install -r {Path(record.lock.requirements_file or '').name}"
        if record.lock.installs and record.runtime.is_colab
        else "",
        command=redactor.redact(_command(record)),
        redacted=redactor.counts(),
        logs=f"{STATE_DIR}/",
        pins_for_colab=record.runtime.is_colab,
    )


def runtime_line(runtime: Runtime) -> str:
    """`Colab 2026.07: Python 3.12.13, GPU (CUDA 12.8)`, or the interpreter it was."""
    kind = "GPU" + (f" (CUDA {runtime.cuda})" if runtime.cuda else "")
    kind = kind if runtime.accelerator == "gpu" else "CPU"
    if runtime.is_colab:
        name = f"Colab of {runtime.released}" if runtime.released else "Colab"
    else:
        name = "not Colab"
    return f"{name}: Python {runtime.python_version}, {kind}"


def _runtime(runtime: Runtime, environment: str) -> str:
    """The Colab release for Colab; elsewhere the environment itself, which says its Python."""
    if runtime.is_colab:
        return f"{runtime_line(runtime)}, in {environment}"
    kind = "GPU" if runtime.accelerator == "gpu" else "CPU"
    return f"{environment}, {kind}"


def applied_patches(workspace: Workspace) -> tuple[str | None, tuple[Patch, ...]]:
    """The paper's own commit and envfix's patch commits on top of it, oldest first, read
    from git: what the checkout really has, whichever command made it."""
    try:
        repo = open_repo(workspace.root)
        commits = list(repo.iter_commits("HEAD", max_count=500))
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError, git.GitCommandError):
        return workspace.commit, ()
    patches: list[Patch] = []
    for commit in commits:
        if commit.author.name != "envfix":
            return commit.hexsha, tuple(reversed(patches))
        message = str(commit.message).strip()
        _, recipe, title = (part.strip() for part in [*message.split(":", 2), "", ""][:3])
        if recipe and not recipe.startswith("pinned requirements"):
            files = tuple(str(f) for f in commit.stats.files)
            patches.append(Patch(recipe, title, files, len(files), commit=commit.hexsha))
    return None, tuple(reversed(patches))


def _title(record: RunRecord, kind: FailureClass | None) -> str:
    final = record.run.final
    entry = record.run.entry.path
    if final.status == "runs":
        cells = f" ({final.cells_total} code cells)" if final.cells_total else ""
        return f"{entry} runs{cells}"
    failure = final.failure
    where = _where(failure.location, entry) if failure else None
    if final.status == "started":
        cell = failure.location.cell if failure and failure.location else None
        running = f"cell {cell}" if cell else "the last cell"
        return f"{entry} starts: {final.cells_passed} code cells ran, {running} was still running"
    if failure is None:
        return f"{entry} does not run"
    at = f" in {where}" if where else f" in {entry}"
    if kind == "timeout":
        return f"{(where or entry)[0].upper()}{(where or entry)[1:]} ran past its time limit"
    if kind == "kernel-died":
        return f"The kernel died{at}"
    message = f"{failure.ename}: {failure.evalue}".strip().splitlines()[0]
    if len(message) > 120:
        message = message[:117] + "..."
    return f"`{message}`{at}"


def _where(location: Location | None, entry: str) -> str | None:
    if location is None:
        return None
    if location.cell is not None:
        return f"cell {location.cell} of {location.path or entry}"
    return f"{location.path}, line {location.line}" if location.line else location.path


def _meaning(status: str, kind: FailureClass | None, context: _Context) -> tuple[str, str]:
    if kind is None:
        return _OUTCOME_MEANING.get(status, ""), ""
    if kind == "needs-data" and context.script:
        step = (
            f"The code needs `{context.file or 'its data'}`, which the repo's own script gets:"
            f" run `!{context.script}` in the repo's folder first, then run again."
        )
        return EXPLANATIONS[kind], step
    specific, general = NEXT_STEPS[kind]
    fields = {k: v for k, v in vars(context).items() if v}
    try:
        step = specific.format(**fields)
    except KeyError:
        step = general.format(file=context.file or "the file shown")
    return EXPLANATIONS[kind], step


def _context(
    failure: Failure, packages: tuple[PackageVersion, ...], root: Path, entry: str
) -> _Context:
    package = packages[0] if packages else None
    text = f"{failure.evalue}\n{failure.traceback}"
    url = None
    missing = _MISSING_FILE.search(failure.evalue)
    file = missing["file"] if missing else None
    script = None
    if failure.kind == "needs-data":
        url = data_source(root, file)
        script = data_script(root)
    elif failure.kind == "needs-network":
        found = _URL.search(text)
        url = found[0].rstrip(".,;:") if found else None
    if file is None:
        file = _repo_file(failure.traceback, root)
    if file is None and failure.location is not None:
        file = failure.location.path or entry
    limit = None
    if failure.kind == "timeout":
        seconds = re.search(r"(\d+(?:\.\d+)?) ?s(?:econds)?\b", failure.evalue)
        limit = f"{float(seconds[1]):g} s" if seconds else None
    return _Context(
        package=package.name if package else failure.package,
        version=package.version if package else None,
        module=failure.module,
        url=url,
        file=file,
        limit=limit,
        script=script,
    )


_FILE = re.compile(r'File "(?P<quoted>[^"]+\.py)"|File (?P<bare>\S+\.py):\d+')
_LIBRARY = re.compile(r"[/\\](?:site|dist)-packages[/\\]|[/\\]lib[/\\]python3")


def _repo_file(traceback: str, root: Path) -> str | None:
    """The last file of the repo's own that the traceback names, relative to the repo."""
    found = None
    for match in _FILE.finditer(strip_ansi(traceback)):
        path = match["quoted"] or match["bare"]
        if _LIBRARY.search(path):
            continue
        marker = f"/{root.name}/"
        if path.startswith(f"{root}/"):
            found = path[len(str(root)) + 1 :]
        elif marker in path:
            found = path.split(marker, 1)[1]
    return found


def data_source(root: Path, missing: str | None) -> str | None:
    """Where the README says to download data from: a link on a line that names the missing
    file (the link whose text names it first), else one on a line about downloading a
    dataset. A paper's page is not a place to download data from."""
    readmes = sorted(p for p in root.glob("*") if p.name.lower().startswith("readme"))
    texts = (p.read_text(errors="replace") for p in readmes if p.is_file())
    lines = [line for text in texts for line in text.splitlines() if _URL.search(line)]
    wanted = Path(missing).name.lower() if missing else ""
    stem = Path(wanted).stem
    ranked = [line for line in lines if wanted and (wanted in line.lower() or stem in line.lower())]
    ranked += [
        line for line in lines if re.search(r"download|dataset|\bdata\b", line, re.IGNORECASE)
    ]
    for line in ranked:
        named = [m["url"] for m in _LINK.finditer(line) if stem and stem in m["text"].lower()]
        for url in [*named, *(m[0] for m in _URL.finditer(line))]:
            if not _NOT_DATA.search(url):
                return url.rstrip(".,;:")
    return None


_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<url>https?://[^\s)]+)\)")
_NOT_DATA = re.compile(
    r"colab\.research\.google\.com|shields\.io|arxiv\.org/(?:abs|pdf)|openreview\.net"
    r"|doi\.org|paperswithcode\.com|aclanthology\.org|proceedings\.|badge"
)
_SCRIPT_WORDS = re.compile(r"(?:fetch|download|get_data|get-data|prepare_data|setup_data)")


def data_script(root: Path) -> str | None:
    """A script of the repo that gets its data (`fetch_data.sh`, `download.py`), as a
    command: the README's mention first, else one named so near the top."""
    readmes = sorted(p for p in root.glob("*") if p.name.lower().startswith("readme"))
    for readme in readmes:
        text = readme.read_text(errors="replace") if readme.is_file() else ""
        for found in re.finditer(r"(?:\./|bash |sh |python3? )?([\w./-]+\.(?:sh|py))\b", text):
            name = found[1].removeprefix("./")
            if _SCRIPT_WORDS.search(Path(name).name.lower()) and (root / name).is_file():
                return _command_for(name)
    for depth in ("*", "*/*"):
        for path in sorted(root.glob(depth)):
            if path.suffix in (".sh", ".py") and _SCRIPT_WORDS.search(path.name.lower()):
                return _command_for(str(path.relative_to(root)))
    return None


def _command_for(script: str) -> str:
    return f"bash {script}" if script.endswith(".sh") else f"python {script}"


def _packages(
    failure: Failure, runtime: Runtime, versions: dict[str, str]
) -> tuple[PackageVersion, ...]:
    resolver = NameResolver(runtime, live=None)
    found: dict[str, PackageVersion] = {}
    modules = [failure.package, *failure.suspects, failure.module]
    for module in modules:
        if not module or resolver.is_stdlib(module):
            continue
        name = resolver.resolve(module).name
        if name in versions and name not in found:
            found[name] = PackageVersion(name, versions[name])
    return tuple(found.values())[:MAX_PACKAGES]


def _code(failure: Failure | None, root: Path, executed: str | None, entry: str) -> str | None:
    if failure is None or failure.location is None:
        return None
    location = failure.location
    if location.cell is not None:
        source = _cell_source(root, executed, location.path or entry, location.cell)
        line = failing_line(failure.traceback)
    else:
        path = root / location.path
        source = path.read_text(errors="replace") if path.is_file() else None
        line = location.line
    return trim_source(source, line) if source else None


def _cell_source(root: Path, executed: str | None, notebook: str, cell: int) -> str | None:
    """Cell number `cell` (counted from 1) of the executed copy, else of the notebook."""
    for candidate in (Path(executed) if executed else None, root / notebook):
        if candidate is None or not candidate.is_file():
            continue
        try:
            cells = json.loads(candidate.read_text(encoding="utf-8")).get("cells", [])
            source = cells[cell - 1]["source"] if 0 < cell <= len(cells) else None
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # unreadable: try the next copy
        if source is not None:
            return "".join(source) if isinstance(source, list) else str(source)
    return None


def _changes(lock: Lock, versions: dict[str, str]) -> list[str]:
    relaxed = {d.name: d for d in lock.relaxed}
    lines = [
        f"relaxed {d.relaxed_from} -> {d.name}=={versions[d.name]}: {d.reason}"
        if d.name in versions
        else f"relaxed {d.relaxed_from} -> {d.requirement}: {d.reason}"
        for d in relaxed.values()
    ]
    pulled_in = []
    for change in lock.installs:
        if change.name in relaxed:
            continue
        if change.kind == "add" and change.reason.startswith("needed by"):
            pulled_in.append(change.name)
        elif change.kind == "add":
            lines.append(f"added {change.name}=={change.new}: {change.reason}")
        else:
            lines.append(
                f"{change.kind}d {change.name} {change.old} -> {change.new}: {change.reason}"
            )
    if pulled_in:
        shown = ", ".join(pulled_in[:6]) + (", ..." if len(pulled_in) > 6 else "")
        lines.append(f"added {len(pulled_in)} packages the ones above need ({shown})")
    if len(lines) > MAX_CHANGES:
        rest = len(lines) - MAX_CHANGES + 1
        lines = [*lines[: MAX_CHANGES - 1], f"... and {rest} more in requirements.envfix.txt"]
    return lines


def _recipes(patches: tuple[Patch, ...]) -> list[str]:
    return [
        f"{p.recipe}: {p.title}" + (f" ({', '.join(p.files[:3])})" if p.files else "")
        for p in patches
    ]


def _rounds(record: RunRecord) -> list[str]:
    lines = []
    for one in record.run.rounds:
        execution = one.execution
        failure = execution.failure
        where = _where(failure.location, record.run.entry.path) if failure else None
        state = execution.status + (f" in {where}" if where else "")
        if failure is not None and execution.status == "blocked":
            state += f" ({failure.ename or failure.kind})"
        actions = "; then " + "; ".join(one.actions) if one.actions else ""
        lines.append(f"round {one.number}: {state}{actions}")
    return lines


def _command(record: RunRecord) -> str:
    entry = record.run.entry
    notebook = f" --notebook {entry.path}" if entry.path else ""
    return f"envfix clone {record.source}{notebook}"
