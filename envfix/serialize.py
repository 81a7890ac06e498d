"""The JSON form of envfix's results: stable field names, a `schema_version`, no surprises.

Locations are flattened into `path`, `line` and `cell` beside the thing they locate, and every
import and requirement carries its canonical distribution `name` as a field of its own.
"""

from __future__ import annotations

from typing import Any

from envfix.model import (
    SCHEMA_VERSION,
    DeclaredRequirement,
    Finding,
    ImportUse,
    Inventory,
    Location,
    NameMapping,
    Runtime,
)
from envfix.pipeline import CloneResult
from envfix.workspace import Workspace

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


def clone_result(result: CloneResult) -> dict[str, Any]:
    return {
        "workspace": workspace(result.workspace),
        "runtime": runtime_summary(result.runtime),
        "inventory": inventory(result.inventory),
    }
