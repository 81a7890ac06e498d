"""The plan stage: from an inventory to the distributions the code needs, each with its reasons.

Declared requirements count when they apply to the target (main requirements, markers that
hold for its Python); optional groups (dev, test, docs, extras) only for what the code
imports. Imports nobody declared count too. Distributions known to be renamed or gone
(`tensorflow-gpu`, `sklearn`, `tf-nightly`) are replaced, and said so.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from envfix.model import DeclaredRequirement, Finding, ImportUse, Inventory, Location, Need, Runtime
from envfix.runtime import marker_environment

REPLACED_DISTRIBUTION = "replaced-distribution"
UNNAMED_URL = "unnamed-url-requirement"


@dataclass(frozen=True)
class Replacement:
    replacement: str | None
    why: str


@cache
def replacements() -> Mapping[str, Replacement]:
    path = resources.files("envfix") / "data" / "distributions.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: Replacement(entry["replacement"], entry["why"])
        for name, entry in doc["replaced"].items()
    }


def plan(inventory: Inventory, runtime: Runtime) -> tuple[tuple[Need, ...], tuple[Finding, ...]]:
    """What the code needs on `runtime`, one `Need` per distribution, sorted by name."""
    env = marker_environment(runtime)
    imported: dict[str, list[ImportUse]] = defaultdict(list)
    for use in inventory.imports:
        if use.name and not use.optional:
            imported[use.name].append(use)
    declared: dict[str, list[DeclaredRequirement]] = defaultdict(list)
    findings: list[Finding] = []
    for req in inventory.requirements:
        if not _applies(req, env, imported):
            continue
        if req.kind == "url" and not req.name:
            findings.append(
                Finding(
                    UNNAMED_URL,
                    f"installs from {req.url} without naming the package; envfix leaves it out",
                    req.location,
                )
            )
            continue
        declared[req.name].append(req)
    needs: dict[str, Need] = {}
    for name in sorted(set(declared) | set(imported)):
        need = _need(name, declared.get(name, []), imported.get(name, []))
        replaced = replacements().get(name)
        if replaced is not None and not imported.get(name):
            findings.append(_replaced_finding(need, replaced))
            if replaced.replacement is None:
                continue
            need = _merge(needs.get(replaced.replacement), _renamed(need, replaced))
        needs[need.name] = _merge(needs.get(need.name), need)
    return tuple(needs[n] for n in sorted(needs)), tuple(findings)


def _applies(
    req: DeclaredRequirement, env: dict[str, str], imported: Mapping[str, list[ImportUse]]
) -> bool:
    if req.kind == "local":
        return False
    if req.group is not None and req.name not in imported:
        return False
    if req.marker:
        try:
            return Marker(req.marker).evaluate({**env, "extra": ""})
        except InvalidMarker:
            return True
    return True


def _need(name: str, reqs: list[DeclaredRequirement], uses: list[ImportUse]) -> Need:
    specifier = SpecifierSet()
    reasons: list[str] = []
    for req in reqs:
        with contextlib.suppress(InvalidSpecifier):
            specifier &= SpecifierSet(req.specifier)
        asked = req.original or req.requirement
        reasons.append(f"{req.location} asks for {asked}")
    if uses:
        more = f" and {len(uses) - 1} more places" if len(uses) > 1 else ""
        reasons.append(f"imported as '{uses[0].module}' in {uses[0].location}{more}")
    url = next((r.url for r in reqs if r.kind == "url" and r.url), None)
    return Need(
        name=name,
        specifier=str(specifier),
        reasons=tuple(reasons),
        locations=tuple(_locations(reqs, uses)),
        imported=bool(uses),
        declared=bool(reqs),
        url=url,
    )


def _locations(reqs: Iterable[DeclaredRequirement], uses: Iterable[ImportUse]) -> list[Location]:
    return [*(r.location for r in reqs), *(u.location for u in uses)]


def _renamed(need: Need, replaced: Replacement) -> Need:
    assert replaced.replacement is not None
    return Need(
        name=replaced.replacement,
        # The old name's versions mean nothing for the new one (tf-nightly's dates).
        specifier="",
        reasons=tuple(f"{reason} (as {need.name})" for reason in need.reasons),
        locations=need.locations,
        imported=need.imported,
        declared=need.declared,
    )


def _merge(old: Need | None, new: Need) -> Need:
    if old is None:
        return new
    return Need(
        name=new.name,
        specifier=str(SpecifierSet(old.specifier) & SpecifierSet(new.specifier)),
        reasons=old.reasons + new.reasons,
        locations=old.locations + new.locations,
        imported=old.imported or new.imported,
        declared=old.declared or new.declared,
        url=old.url or new.url,
    )


def _replaced_finding(need: Need, replaced: Replacement) -> Finding:
    instead = f"uses {replaced.replacement} instead" if replaced.replacement else "leaves it out"
    return Finding(
        REPLACED_DISTRIBUTION,
        f"{need.name}: {replaced.why}; envfix {instead}",
        need.locations[0] if need.locations else None,
        severity="info",
    )
