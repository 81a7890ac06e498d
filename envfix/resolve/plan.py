"""The plan stage: from an inventory to the distributions the code needs, each with its reasons.

Declared requirements count when they apply to the target (main requirements, markers that
hold for its Python); optional groups (dev, test, docs, extras) only for what the code
imports. Imports nobody declared count too. Distributions known to be renamed or gone
(`tensorflow-gpu`, `sklearn`, `tf-nightly`) are replaced, and said so.
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envfix.model import DeclaredRequirement, Finding, ImportUse, Inventory, Location, Need, Runtime
from envfix.resolve.policy import public_version
from envfix.runtime import marker_environment
from envfix.scanner.names import Replacement, replacements

REPLACED_DISTRIBUTION = "replaced-distribution"
UNNAMED_URL = "unnamed-url-requirement"
UNIMPORTED_PINS_KEPT = "unimported-pins-kept"
EXPORTED_PINS_SKIPPED = "exported-pins-skipped"


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
    exported = _exported_files(declared, imported)
    skipped_export: list[str] = []
    kept_preinstalled: list[str] = []
    needs: dict[str, Need] = {}
    for name in sorted(set(declared) | set(imported)):
        if name not in imported:
            # What the code never imports is not worth moving a preinstalled package for,
            # nor, when it comes from a full environment export, worth installing at all.
            installed = public_version(runtime.version_of(name))
            if installed is not None:
                if not _admits(declared[name], installed):
                    kept_preinstalled.append(name)
                if not _extras(declared[name]):
                    continue
                # Its extras may still bring in what the runtime lacks (`pkg[extra]`, the
                # extra's dependencies used through pkg): the version stays, the extras count.
                need = replace(_need(name, declared[name], []), specifier="", alternatives=())
                needs[name] = _merge(needs.get(name), need)
                continue
            if all(r.location.path in exported for r in declared[name]):
                skipped_export.append(name)
                continue
        need = _need(name, declared.get(name, []), imported.get(name, []))
        replaced = replacements().get(name)
        # An import the scan gave the old name provides a module the replacement has too
        # (`import tensorflow` with tensorflow-gpu declared); with no replacement, the code
        # that imports it still needs it.
        if replaced is not None and (replaced.replacement is not None or not imported.get(name)):
            findings.append(_replaced_finding(need, replaced))
            if replaced.replacement is None:
                continue
            need = _merge(needs.get(replaced.replacement), _renamed(need, replaced))
        needs[need.name] = _merge(needs.get(need.name), need)
    if kept_preinstalled:
        findings.append(
            Finding(
                UNIMPORTED_PINS_KEPT,
                f"{len(kept_preinstalled)} pinned packages that {runtime.name} already has are"
                f" never imported by the code; their versions stay as they are:"
                f" {_listing(kept_preinstalled)}",
                severity="info",
            )
        )
    if skipped_export:
        files = ", ".join(sorted(exported))
        findings.append(
            Finding(
                EXPORTED_PINS_SKIPPED,
                f"{files} {'look' if len(exported) > 1 else 'looks'} like a full environment"
                f" export; {len(skipped_export)} pinned packages in it that the code never"
                f" imports are left out: {_listing(skipped_export)}",
                severity="info",
            )
        )
    return tuple(needs[n] for n in sorted(needs)), tuple(findings)


# A declaration file with this many exact pins, most of them never imported, is a dump of a
# whole environment (`pip freeze`, `conda env export`), not a list of what the code needs.
EXPORT_MIN_PINS = 15
EXPORT_MAX_IMPORTED_SHARE = 0.5


def _exported_files(
    declared: Mapping[str, list[DeclaredRequirement]], imported: Mapping[str, list[ImportUse]]
) -> set[str]:
    pins: dict[str, set[str]] = defaultdict(set)
    for name, reqs in declared.items():
        for req in reqs:
            if req.specifier.startswith("=="):
                pins[req.location.path].add(name)
    return {
        path
        for path, names in pins.items()
        if len(names) >= EXPORT_MIN_PINS
        and len(names & set(imported)) <= EXPORT_MAX_IMPORTED_SHARE * len(names)
    }


def _listing(names: list[str], shown: int = 8) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _admits(reqs: Iterable[DeclaredRequirement], version: Version) -> bool:
    spec = SpecifierSet()
    for req in reqs:
        with contextlib.suppress(InvalidSpecifier):
            spec &= SpecifierSet(req.specifier)
    return spec.contains(version, prereleases=True)


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
    # The declarations that constrain the version come first: they are the reason a lock
    # line gives.
    reqs = sorted(reqs, key=lambda r: not r.specifier)
    for req in reqs:
        with contextlib.suppress(InvalidSpecifier):
            specifier &= SpecifierSet(req.specifier)
        asked = req.original or req.requirement
        reasons.append(f"{req.location} asks for {asked}")
    if uses:
        more = f" and {len(uses) - 1} more places" if len(uses) > 1 else ""
        reasons.append(f"imported as '{uses[0].module}' in {uses[0].location}{more}")
    url = next((r.url for r in reqs if r.kind == "url" and r.url), None)
    alternatives = tuple(dict.fromkeys(r.specifier for r in reqs if r.specifier))
    return Need(
        name=name,
        specifier=str(specifier),
        reasons=tuple(reasons),
        locations=tuple(_locations(reqs, uses)),
        imported=bool(uses),
        declared=bool(reqs),
        url=url,
        alternatives=alternatives if len(alternatives) > 1 else (),
        extras=_extras(reqs),
    )


def _extras(reqs: Iterable[DeclaredRequirement]) -> tuple[str, ...]:
    """The extras of every declaration, merged: normalised as PEP 685 says (resolvers compare
    them so: `classic_control` is `classic-control`), sorted."""
    return _union(
        canonicalize_name(extra)
        for req in reqs
        for extra in req.extras
        if not _HARDWARE_EXTRA.search(canonicalize_name(extra))
    )


# Extras that install a GPU stack from PyPI (`tensorflow[and-cuda]`, `jax[cuda12]`): Colab
# brings its own drivers and libraries, and a CPU runtime cannot use them.
_HARDWARE_EXTRA = re.compile(r"(?:^|-)(?:and-)?(?:cuda|gpu|tpu|rocm|cu\d+)(?:\d|-|$)")


def _union(*groups: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({e for group in groups for e in group if e}))


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
        extras=need.extras,
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
        alternatives=tuple(dict.fromkeys(old.alternatives + new.alternatives)),
        extras=_union(old.extras, new.extras),
    )


def _replaced_finding(need: Need, replaced: Replacement) -> Finding:
    instead = f"uses {replaced.replacement} instead" if replaced.replacement else "leaves it out"
    return Finding(
        REPLACED_DISTRIBUTION,
        f"{need.name}: {replaced.why}; envfix {instead}",
        need.locations[0] if need.locations else None,
        severity="info",
    )
