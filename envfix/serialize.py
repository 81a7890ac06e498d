"""The JSON form of envfix's results: stable field names, a `schema_version`, no surprises.

Locations are flattened into `path`, `line` and `cell` beside the thing they locate, and every
import and requirement carries its canonical distribution `name` as a field of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envfix.model import (
    SCHEMA_VERSION,
    Change,
    Decision,
    DeclaredRequirement,
    Entry,
    Execution,
    Failure,
    Finding,
    ImportUse,
    InstalledDistribution,
    InstallReport,
    Inventory,
    Location,
    Lock,
    NameMapping,
    Need,
    Patch,
    PatchResult,
    Report,
    Round,
    RunRecord,
    RunResult,
    Runtime,
)
from envfix.recipes.engine import Recipe
from envfix.resolve.lock import REQUIREMENTS_FILE
from envfix.workspace import Workspace

if TYPE_CHECKING:
    from envfix.pipeline import CloneResult

KEY_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "torch",
    "torchvision",
    "tensorflow",
    "keras",
    "jax",
    "transformers",
    "opencv-python",
    "pillow",
)


def document(command: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "command": command, **body}


def location(loc: Location | None) -> dict[str, Any]:
    if loc is None:
        return {"path": None, "line": None, "cell": None}
    return {"path": loc.path, "line": loc.line, "cell": loc.cell}


def finding(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "severity": f.severity, "message": f.message, **location(f.location)}


def import_use(use: ImportUse) -> dict[str, Any]:
    return {
        "module": use.module,
        "name": use.name,
        "optional": use.optional,
        "via": use.via,
        **location(use.location),
    }


def requirement(req: DeclaredRequirement) -> dict[str, Any]:
    return {
        "name": req.name,
        "requirement": req.requirement,
        "specifier": req.specifier,
        "extras": list(req.extras),
        "marker": req.marker,
        "url": req.url,
        "kind": req.kind,
        "editable": req.editable,
        "group": req.group,
        "source": req.source,
        "original": req.original,
        **location(req.location),
    }


def mapping(m: NameMapping) -> dict[str, Any]:
    return {
        "module": m.module,
        "name": m.name,
        "source": m.source,
        "candidates": list(m.candidates),
        "reason": m.reason,
    }


def inventory(inv: Inventory) -> dict[str, Any]:
    return {
        "root": inv.root,
        "target": inv.target,
        "python_version": inv.python_version,
        "files_scanned": inv.files_scanned,
        "summary": {
            "declared_and_imported": list(inv.declared_and_imported),
            "undeclared": list(inv.undeclared),
            "declared_unused": list(inv.declared_unused),
        },
        "imports": [import_use(u) for u in inv.imports],
        "requirements": [requirement(r) for r in inv.requirements],
        "mappings": [mapping(m) for m in inv.mappings],
        "local_modules": list(inv.local_modules),
        "project_names": list(inv.project_names),
        "python2_files": list(inv.python2_files),
        "findings": [finding(f) for f in inv.findings],
    }


def runtime_summary(rt: Runtime) -> dict[str, Any]:
    return {
        "name": rt.name,
        "python_version": rt.python_version,
        "platform": rt.platforms[0] if rt.platforms else None,
        "accelerator": rt.accelerator,
        "cuda": rt.cuda,
        "is_colab": rt.is_colab,
        "os": rt.os,
        "released": rt.released,
        "source": rt.source,
        "interpreter": rt.interpreter,
        "package_count": len(rt.distributions),
        "key_packages": {name: rt.version_of(name) for name in KEY_PACKAGES if rt.version_of(name)},
        "notes": list(rt.notes),
    }


def runtime(rt: Runtime) -> dict[str, Any]:
    return {
        **runtime_summary(rt),
        "platforms": list(rt.platforms),
        "distributions": [
            {"name": d.name, "version": d.version, "url": d.url} for d in rt.distributions
        ],
    }


def workspace(ws: Workspace) -> dict[str, Any]:
    return {
        "root": str(ws.root),
        "path": str(ws.path),
        "source": ws.source,
        "ref": ws.ref,
        "commit": ws.commit,
        "reused": ws.reused,
        "notebook": ws.notebook,
        "notes": list(ws.notes),
    }


def change(c: Change) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "old": c.old,
        "new": c.new,
        "reason": c.reason,
        "breaks": list(c.breaks),
    }


def decision(d: Decision) -> dict[str, Any]:
    return {
        "name": d.name,
        "requirement": d.requirement,
        "rule": d.rule,
        "reason": d.reason,
        "relaxed_from": d.relaxed_from,
        "relaxed_because": d.relaxed_because,
        "extras": list(d.extras),
    }


def need(n: Need) -> dict[str, Any]:
    return {
        "name": n.name,
        "specifier": n.specifier,
        "url": n.url,
        "imported": n.imported,
        "declared": n.declared,
        "extras": list(n.extras),
        "reasons": list(n.reasons),
        "locations": [location(loc) for loc in n.locations],
    }


def lock(result: Lock) -> dict[str, Any]:
    return {
        "target": result.target,
        "backend": result.backend,
        "python_version": result.python_version,
        "requirements_file": result.requirements_file,
        "reused": result.reused,
        "restart_required": bool(result.restart),
        "restart_because": list(result.restart),
        "install_cell": install_cell(result),
        "suggestion": result.suggestion,
        "interpreter": result.interpreter,
        "summary": {
            kind: sorted(c.name for c in result.changes if c.kind == kind)
            for kind in ("add", "upgrade", "downgrade", "keep")
        },
        "changes": [change(c) for c in result.changes],
        "relaxed": [decision(d) for d in result.relaxed],
        "decisions": [decision(d) for d in result.decisions],
        "direct_urls": [need(n) for n in result.direct_urls],
        "findings": [finding(f) for f in result.findings],
    }


def install_cell(result: Lock) -> str:
    """The Colab cell that installs the lock (and says when to restart)."""
    cell = f"%pip install -r {REQUIREMENTS_FILE}"
    if result.restart:
        cell += "\n# then: Runtime > Restart session (installed versions changed)"
    return cell


def lock_from(doc: dict[str, Any], *, reused: bool = False) -> Lock:
    """A `Lock` back from its JSON form (a lock stored by an earlier run)."""
    loc = _location_from
    return Lock(
        target=doc["target"],
        backend=doc["backend"],
        python_version=doc["python_version"],
        changes=tuple(
            Change(c["name"], c["kind"], c["old"], c["new"], c["reason"], tuple(c["breaks"]))
            for c in doc["changes"]
        ),
        decisions=tuple(
            Decision(
                d["name"],
                d["requirement"],
                d["rule"],
                d["reason"],
                d["relaxed_from"],
                d["relaxed_because"],
                tuple(d.get("extras", ())),
            )
            for d in doc["decisions"]
        ),
        direct_urls=tuple(
            Need(
                n["name"],
                n["specifier"],
                tuple(n["reasons"]),
                tuple(x for x in (loc(where) for where in n["locations"]) if x),
                n["imported"],
                n["declared"],
                n["url"],
                extras=tuple(n.get("extras", ())),
            )
            for n in doc["direct_urls"]
        ),
        findings=tuple(
            Finding(f["code"], f["message"], loc(f), f["severity"]) for f in doc["findings"]
        ),
        restart=tuple(doc["restart_because"]),
        requirements_file=doc["requirements_file"],
        reused=reused,
        suggestion=doc["suggestion"],
        interpreter=doc.get("interpreter"),
    )


def patch(p: Patch) -> dict[str, Any]:
    return {
        "recipe": p.recipe,
        "title": p.title,
        "files": list(p.files),
        "changes": p.changes,
        "review": p.review,
        "requires": list(p.requires),
        "commit": p.commit,
        "note": p.note,
    }


def patch_result(result: PatchResult) -> dict[str, Any]:
    return {
        "branch": result.branch,
        "base": result.base,
        "dry_run": result.dry_run,
        "requires": list(result.requires),
        "patches": [patch(p) for p in result.patches],
        "findings": [finding(f) for f in result.findings],
        "diff": result.diff,
    }


def recipe_summary(r: Recipe) -> dict[str, Any]:
    return {
        "id": r.id,
        "title": r.title,
        "library": r.library,
        "gone_in": str(r.gone_in),
        "review": r.review,
        "fix_kinds": [fix.kind for fix in r.fixes],
        "requires": list(r.requires),
        "error": r.error,
        "source": r.source,
        "breakage": r.breakage,
    }


def clone_result(result: CloneResult) -> dict[str, Any]:
    return {
        "workspace": workspace(result.workspace),
        "runtime": runtime_summary(result.runtime),
        "inventory": inventory(result.inventory),
        "lock": lock(result.lock) if result.lock else None,
        "patch": patch_result(result.patch) if result.patch else None,
        "outcome": result.run.outcome if result.run else None,
        "run": run_result(result.run) if result.run else None,
        "report": report(result.report) if result.report else None,
        "error": {
            "stage": result.error.stage,
            "message": result.error.message,
            "hint": result.error.hint,
            "exit_code": result.error.exit_code,
        }
        if result.error
        else None,
    }


def entry(e: Entry) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "path": e.path,
        "args": list(e.args),
        "reason": e.reason,
        "candidates": list(e.candidates),
    }


def failure(f: Failure | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {
        "class": f.kind,
        "ename": f.ename,
        "evalue": f.evalue,
        **location(f.location),
        "module": f.module,
        "recipe": f.recipe,
        "package": f.package,
        "explanation": f.explanation,
        "suspects": list(f.suspects),
        "traceback": f.traceback,
    }


def execution(e: Execution) -> dict[str, Any]:
    return {
        "status": e.status,
        "cells_total": e.cells_total,
        "cells_passed": e.cells_passed,
        "seconds": round(e.seconds, 2),
        "executed_path": e.executed_path,
        "failure": failure(e.failure),
    }


def round_record(r: Round) -> dict[str, Any]:
    """One round of the repair loop, as recorded in `.envfix/rounds/`."""
    return {
        "round": r.number,
        "run": execution(r.execution),
        "install": {
            "python": r.install.python,
            "installed": list(r.install.installed),
            "conflicts": list(r.install.conflicts),
            "seconds": round(r.install.seconds, 2),
            "added_kernel": r.install.added_kernel,
        }
        if r.install
        else None,
        "actions": list(r.actions),
    }


def run_result(result: RunResult) -> dict[str, Any]:
    return {
        "outcome": result.outcome,
        "environment": result.environment,
        "python": result.python,
        "entry": entry(result.entry),
        "rounds": [round_record(r) for r in result.rounds],
        "failure": failure(result.final.failure),
        "executed_path": result.final.executed_path,
    }


def runtime_from(doc: dict[str, Any]) -> Runtime:
    """A `Runtime` back from the form `runtime()` writes (a run's record)."""
    return Runtime(
        name=doc["name"],
        python_version=doc["python_version"],
        platforms=tuple(doc["platforms"]),
        distributions=tuple(
            InstalledDistribution(d["name"], d["version"], d["url"]) for d in doc["distributions"]
        ),
        accelerator=doc["accelerator"],
        cuda=doc["cuda"],
        source=doc["source"],
        is_colab=doc["is_colab"],
        os=doc["os"],
        released=doc["released"],
        interpreter=doc["interpreter"],
        notes=tuple(doc["notes"]),
    )


def _location_from(doc: dict[str, Any]) -> Location | None:
    return Location(doc["path"], doc["line"], doc["cell"]) if doc.get("path") else None


def _failure_from(doc: dict[str, Any] | None) -> Failure | None:
    if doc is None:
        return None
    return Failure(
        kind=doc["class"],
        ename=doc["ename"],
        evalue=doc["evalue"],
        traceback=doc["traceback"],
        location=_location_from(doc),
        module=doc["module"],
        recipe=doc["recipe"],
        package=doc["package"],
        explanation=doc["explanation"],
        suspects=tuple(doc.get("suspects", ())),
    )


def _entry_from(doc: dict[str, Any]) -> Entry:
    return Entry(
        doc["kind"], doc["path"], doc["reason"], tuple(doc["args"]), tuple(doc["candidates"])
    )


def run_from(doc: dict[str, Any]) -> RunResult:
    """A `RunResult` back from the form `run_result()` writes (a run's record)."""
    entry_ = _entry_from(doc["entry"])
    rounds = []
    for r in doc["rounds"]:
        run, inst = r["run"], r["install"]
        execution_ = Execution(
            run["status"],
            entry_,
            run["cells_total"],
            run["cells_passed"],
            run["seconds"],
            _failure_from(run["failure"]),
            run["executed_path"],
        )
        install = (
            InstallReport(
                inst["python"],
                tuple(inst["installed"]),
                tuple(inst["conflicts"]),
                inst["seconds"],
                inst["added_kernel"],
            )
            if inst
            else None
        )
        rounds.append(Round(r["round"], execution_, install, tuple(r["actions"])))
    return RunResult(doc["environment"], doc["python"], entry_, tuple(rounds))


def report(r: Report) -> dict[str, Any]:
    return {
        "title": r.title,
        "outcome": r.outcome,
        "class": r.failure_class,
        "meaning": r.meaning,
        "next_step": r.next_step,
        "repo": r.repo,
        "commit": r.commit,
        "entry": r.entry,
        "where": r.where,
        "environment": r.environment,
        "runtime": r.runtime,
        "cells_passed": r.cells_passed,
        "cells_total": r.cells_total,
        "packages": {p.name: p.version for p in r.packages},
        "code": r.code,
        "traceback": r.traceback,
        "changes": list(r.changes),
        "recipes": list(r.recipes),
        "rounds": list(r.rounds),
        "install_cell": r.install_cell,
        "reproduce_command": r.command,
        "redacted": dict(r.redacted),
        "logs": r.logs,
        "pins_for_colab": r.pins_for_colab,
    }


def run_record(record: RunRecord) -> dict[str, Any]:
    """What a run leaves in `.envfix/run.json` for the report."""
    return document(
        "run-record",
        {
            "run": run_result(record.run),
            "runtime": runtime(record.runtime),
            "lock": lock(record.lock),
            "source": record.source,
            "commit": record.commit,
            "patches": [patch(p) for p in record.patches],
        },
    )


def run_record_from(doc: dict[str, Any]) -> RunRecord:
    return RunRecord(
        run=run_from(doc["run"]),
        runtime=runtime_from(doc["runtime"]),
        lock=lock_from(doc["lock"]),
        source=doc["source"],
        commit=doc["commit"],
        patches=tuple(
            Patch(
                p["recipe"],
                p["title"],
                tuple(p["files"]),
                p["changes"],
                p["review"],
                tuple(p["requires"]),
                p["commit"],
                p["note"],
            )
            for p in doc["patches"]
        ),
    )
