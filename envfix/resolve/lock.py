"""The lock stage: needs -> decisions -> a real resolver -> what changes against the runtime.

The resolver gets the decisions (see `policy`), the runtime's versions as preferences (pins
of an existing output file, which pip-compile and uv both keep), and the binary-compatibility
constraints. A change that would break a preinstalled package brings that package into the
next round, so the resolver has to respect its requirements too; a decision the resolver
finds impossible is relaxed. Rounds are bounded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envfix.errors import EnvfixError
from envfix.model import Change, Decision, Finding, Inventory, Lock, Need, Runtime
from envfix.resolve.backends import ResolutionError, Resolved, Resolver, ResolveRequest
from envfix.resolve.dependents import Dependents
from envfix.resolve.index import PackageIndex
from envfix.resolve.plan import plan
from envfix.resolve.policy import (
    DROPPED_DECLARATION,
    LEFT_OUT,
    NO_INSTALLABLE_VERSION,
    NOT_ON_INDEX,
    Context,
    decide,
    public_version,
    relax,
    with_extras,
)
from envfix.runtime import supported_tags

REQUIREMENTS_FILE = "requirements.envfix.txt"
MAX_ROUNDS = 5
BUILDS_FROM_SOURCE = "builds-from-source"
BREAKS_PREINSTALLED = "breaks-preinstalled"
COMPAT_UNMET = "binary-compat-unmet"
LOCK_SCHEMA = 1


@dataclass(frozen=True)
class CompatRule:
    """When `when` holds in the environment, each of `requires` must hold too."""

    id: str
    title: str
    when_name: str
    when: SpecifierSet
    requires: tuple[tuple[str, SpecifierSet, str], ...]


@cache
def compat_rules() -> tuple[CompatRule, ...]:
    path = resources.files("envfix") / "data" / "binary_compat.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        CompatRule(
            rule["id"],
            rule["title"],
            rule["when"]["name"],
            SpecifierSet(rule["when"]["specifier"]),
            tuple((r["name"], SpecifierSet(r["specifier"]), r["why"]) for r in rule["requires"]),
        )
        for rule in doc["rules"]
    )


def compat_constraints(
    versions: Callable[[str], Version | None], rules: Iterable[CompatRule]
) -> list[str]:
    """Constraint lines for the rules whose condition holds for `versions` (name -> version)."""
    lines: list[str] = []
    for rule in rules:
        version = versions(rule.when_name)
        if version is not None and rule.when.contains(version, prereleases=True):
            lines.extend(f"{name}{spec}" for name, spec, _ in rule.requires)
    return lines


def compatible_versions(
    versions: Callable[[str], Version | None], rules: Iterable[CompatRule]
) -> dict[str, tuple[SpecifierSet, str]]:
    """Name -> (the versions the rules that hold for `versions` allow, why)."""
    allowed: dict[str, tuple[SpecifierSet, str]] = {}
    for rule in rules:
        version = versions(rule.when_name)
        if version is not None and rule.when.contains(version, prereleases=True):
            for name, spec, _ in rule.requires:
                before = allowed.get(name, (SpecifierSet(), ""))[0]
                why = f"with {rule.when_name} {version}, {name} needs {spec} ({rule.title.lower()})"
                allowed[name] = (before & spec, why)
    return allowed


@dataclass(frozen=True)
class LockInputs:
    """Everything a lock depends on; its digest decides whether a stored lock is reused."""

    needs: tuple[Need, ...]
    runtime: Runtime
    backend: str
    index_url: str | None
    envfix_version: str
    repo_date: datetime | None

    def digest(self) -> str:
        doc = {
            "schema": LOCK_SCHEMA,
            "envfix": self.envfix_version,
            "backend": self.backend,
            "index": self.index_url,
            "repo_date": self.repo_date.isoformat() if self.repo_date else None,
            "runtime": [
                self.runtime.name,
                self.runtime.python_version,
                self.runtime.platforms,
                [(d.name, d.version) for d in self.runtime.distributions],
            ],
            "needs": [(n.name, n.specifier, n.url, n.imported, n.extras) for n in self.needs],
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Resolution:
    """What a lock resolves with: the index, the resolver, what depends on what in the
    runtime, where the resolver works, and the facts that steer the choices."""

    index: PackageIndex
    resolver: Resolver
    dependents: Dependents
    workdir: Path
    repo_date: datetime | None = None
    index_url: str | None = None
    offline: bool = False
    rules: tuple[CompatRule, ...] | None = None
    """Binary-compatibility rules; None for the shipped table."""


def resolve_needs(
    needs: Sequence[Need], runtime: Runtime, setup: Resolution
) -> tuple[tuple[Change, ...], tuple[Decision, ...], tuple[Finding, ...]]:
    """Decide, resolve and compare: the changes against the runtime, the decisions, findings."""
    index, resolver, dependents = setup.index, setup.resolver, setup.dependents
    rules = setup.rules if setup.rules is not None else compat_rules()
    ctx = Context(
        runtime,
        frozenset(supported_tags(runtime)),
        index,
        dependents,
        setup.repo_date,
        compatible_versions(lambda name: public_version(runtime.version_of(name)), rules),
    )
    imported = {need.name for need in needs if need.imported}
    decisions: dict[str, Decision] = {}
    findings: list[Finding] = []
    for need in needs:
        if need.url:
            continue
        decision, found = decide(need, ctx)
        findings.extend(found)
        if decision is not None:
            decisions[need.name] = decision
    if not decisions:
        return (), (), tuple(findings)
    # Constraints of rules that fire only on the resolved versions (NumPy unpinned, so the
    # resolver picks 2.x): added as the rounds find them.
    found_constraints: list[str] = []

    def current_constraints() -> list[str]:
        planned = compat_constraints(lambda name: _planned_version(name, decisions, runtime), rules)
        return list(dict.fromkeys([*planned, *found_constraints]))

    constraints = current_constraints()
    preferences = tuple(
        f"{d.name}=={v}"
        for d in runtime.distributions
        if (v := public_version(d.version)) is not None
    )
    protected: dict[str, str] = {}
    accept_breaks = False
    resolved: tuple[Resolved, ...] = ()
    failure: ResolutionError | None = None
    # First try to change no preinstalled package at all: the runtime's versions as hard
    # constraints (the preferences alone are soft, and a resolver prefers newer releases).
    strict = True
    # The state before the first round that added the rules' constraints, to go back to when
    # they cannot be met.
    before_compat: tuple[dict[str, Decision], Context, bool, int] | None = None
    compat_off = False
    for round_number in range(MAX_ROUNDS + 1):
        if not decisions and not protected:
            resolved, failure = (), None
            break
        pinned = _runtime_pins(runtime, decisions) if strict else ()
        request = ResolveRequest(
            requirements=tuple(
                with_extras(d.name, d.requirement, d.extras) for d in decisions.values()
            )
            + tuple(f"{name}=={version}" for name, version in sorted(protected.items())),
            constraints=tuple(constraints) + pinned,
            preferences=preferences,
            index_url=setup.index_url,
            offline=setup.offline,
        )
        try:
            resolved = _without_build_dependencies(
                resolver.resolve(request, setup.workdir / f"round-{round_number + 1}"), runtime
            )
            failure = None
        except ResolutionError as exc:
            failure = exc
            if strict:
                strict = False
                continue
            if before_compat is not None:
                # What the rules found cannot be met with the rest: resolve as before the
                # rules' constraints (the lock is no worse than without them), and say so.
                decisions, ctx, strict, kept_findings = before_compat
                del findings[kept_findings:]
                findings.append(_compat_unmet(found_constraints, exc))
                before_compat, compat_off = None, True
                found_constraints.clear()
                constraints = current_constraints()
                continue
            # A package no requirement declares (a guessed name) goes before any pin moves.
            guessed = _leave_out(decisions, exc, runtime, needs, undeclared_only=True)
            if guessed:
                findings.extend(_left_out(name, needs, exc) for name in guessed)
                continue
            loosened = _loosen(decisions, exc, runtime, imported)
            for name in loosened:
                if name not in decisions:
                    findings.append(_dropped(name, needs, exc))
            if loosened:
                constraints = current_constraints()
                continue
            # What an extra brings in may be what cannot be installed: the package without it
            # is worth more than no lock.
            stripped = _strip_extras(decisions, exc)
            if stripped:
                findings.extend(_extras_left_out(n, e, needs, exc) for n, e in stripped.items())
                continue
            if protected:
                # The needs cannot be met without moving a preinstalled package after all:
                # let the resolver move it, and report what that breaks.
                protected.clear()
                accept_breaks = True
                continue
            left_out = _leave_out(decisions, exc, runtime, needs)
            if not left_out:
                raise _unsatisfiable(exc, needs) from exc
            findings.extend(_left_out(name, needs, exc) for name in left_out)
            continue
        violated = compat_violations(resolved, rules)
        lines = [f"{name}{spec}" for name, (spec, _) in violated.items()]
        if (
            not compat_off
            and round_number < MAX_ROUNDS
            and any(line not in found_constraints for line in lines)
        ):
            # A rule holds for what was resolved but the resolution breaks it: decide those
            # packages again within what the rule allows, and resolve again.
            if before_compat is None:
                before_compat = (dict(decisions), ctx, strict, len(findings))
            found_constraints.extend(line for line in lines if line not in found_constraints)
            ctx = replace(ctx, compatible={**ctx.compatible, **violated})
            findings.extend(_redecide(decisions, violated, needs, ctx))
            constraints = current_constraints()
            continue
        if accept_breaks:
            break
        changes = _compare(resolved, runtime, decisions)
        in_resolution = {r.name for r in resolved}
        newly_broken = {
            dependent.split(" ", 1)[0]
            for change in changes
            if change.kind in ("upgrade", "downgrade")
            for dependent in dependents.excluding(change.name, change.new, in_resolution)
        } - set(protected)
        if not newly_broken:
            break
        for name in newly_broken:
            version = public_version(runtime.version_of(name))
            if version is not None:
                protected[name] = str(version)
    if failure is not None:
        raise _unsatisfiable(failure, needs)
    changes = _compare(resolved, runtime, decisions)
    in_resolution = {r.name for r in resolved}
    changes = tuple(
        replace(c, breaks=tuple(dependents.excluding(c.name, c.new, in_resolution)))
        if c.kind in ("upgrade", "downgrade")
        else c
        for c in changes
    )
    findings.extend(_change_findings(changes, index, ctx))
    return changes, tuple(decisions.values()), tuple(findings)


def compat_violations(
    resolved: Iterable[Resolved], rules: Iterable[CompatRule]
) -> dict[str, tuple[SpecifierSet, str]]:
    """Name -> (what the rules allow, why) for each resolved package outside what the rules
    that hold for the resolved versions allow."""
    versions: dict[str, Version] = {}
    for r in resolved:
        try:
            versions[r.name] = Version(r.version)
        except InvalidVersion:
            continue
    allowed = compatible_versions(versions.get, rules)
    return {
        name: (spec, why)
        for name, (spec, why) in allowed.items()
        if name in versions and not spec.contains(versions[name], prereleases=True)
    }


def _compat_unmet(constraints: Sequence[str], exc: ResolutionError) -> Finding:
    return Finding(
        COMPAT_UNMET,
        f"the resolved versions need {', '.join(constraints)} to import together, but that"
        f" cannot be resolved with the rest ({_first_sentence(exc.explanation)}); the lock"
        " keeps the versions as resolved, and an import may fail",
    )


def _redecide(
    decisions: dict[str, Decision],
    violated: Mapping[str, tuple[SpecifierSet, str]],
    needs: Sequence[Need],
    ctx: Context,
) -> list[Finding]:
    """Decide again, in place, the needs a compatibility rule found out of bounds."""
    findings: list[Finding] = []
    for need in needs:
        if need.name not in violated or need.name not in decisions or need.url:
            continue
        decision, found = decide(need, ctx)
        findings.extend(found)
        if decision is None:
            del decisions[need.name]
            continue
        why = violated[need.name][1]
        if why not in decision.reason:
            decision = replace(decision, reason=f"{decision.reason}; {why}")
        decisions[need.name] = decision
    return findings


def _runtime_pins(runtime: Runtime, decisions: Mapping[str, Decision]) -> tuple[str, ...]:
    """`name==version` for every preinstalled distribution the decisions do not move."""
    return tuple(
        f"{d.name}=={v}"
        for d in runtime.distributions
        if d.name not in decisions and (v := public_version(d.version)) is not None
    )


def _planned_version(name: str, decisions: dict[str, Decision], runtime: Runtime) -> Version | None:
    """The version `name` will most likely have: a decision's exact pin, else the runtime's."""
    decision = decisions.get(name)
    if decision is not None:
        m = re.search(r"==([^,;\s]+)$", decision.requirement)
        if m:
            try:
                return Version(m[1])
            except InvalidVersion:
                return None
    return public_version(runtime.version_of(name))


def _loosen(
    decisions: dict[str, Decision], exc: ResolutionError, runtime: Runtime, imported: set[str]
) -> list[str]:
    """Relax, in place, the decisions the resolver's explanation names (all of them if it
    names none); return the names changed.

    A package the code never imports and the runtime lacks is not worth any version: its
    decision is dropped instead of relaxed.
    """
    loosenable = {
        name: d for name, d in decisions.items() if d.rule in ("declared", "date", "relaxed")
    }
    chosen = {name: d for name, d in loosenable.items() if name in exc.names}
    if not exc.names:
        chosen = loosenable  # the explanation names nobody: any pin may be the cause
    why = f"could not be resolved with the rest: {_first_sentence(exc.explanation)}"
    for name, decision in chosen.items():
        if name not in imported and runtime.version_of(name) is None:
            del decisions[name]
        else:
            decisions[name] = relax(decision, runtime, why)
    return list(chosen)


def _strip_extras(
    decisions: dict[str, Decision], exc: ResolutionError
) -> dict[str, tuple[str, ...]]:
    """Drop, in place, extras of the decisions the resolver's explanation names (of all of
    them if it names none of those): the extras it names (uv: `gymnasium[box2d]`), else all.
    Return name -> the extras dropped."""
    with_any = {name: d for name, d in decisions.items() if d.extras}
    chosen = {name: d for name, d in with_any.items() if name in exc.names} or (
        with_any if not set(exc.names) & set(decisions) else {}
    )
    dropped: dict[str, tuple[str, ...]] = {}
    for name, decision in chosen.items():
        named = {
            canonicalize_name(extra)
            for listed in re.findall(
                rf"(?<![\w.-]){re.escape(name)}\[([^\]]+)\]", exc.explanation, re.IGNORECASE
            )
            for extra in listed.split(",")
        }
        drop = tuple(e for e in decision.extras if e in named) or decision.extras
        decisions[name] = replace(
            decision, extras=tuple(e for e in decision.extras if e not in drop)
        )
        dropped[name] = drop
    return dropped


def _extras_left_out(
    name: str, extras: tuple[str, ...], needs: Sequence[Need], exc: ResolutionError
) -> Finding:
    need = next((n for n in needs if n.name == name), None)
    where = need.locations[0] if need and need.locations else None
    asked = with_extras(name, name, extras)
    which = f"extra {extras[0]} is" if len(extras) == 1 else f"extras {', '.join(extras)} are"
    return Finding(
        LEFT_OUT,
        f"{name}'s {which} left out of the lock ({name} itself is not):"
        f" {_first_sentence(exc.explanation)}. Install with pip install '{asked}' if you need"
        " what it adds",
        where,
        "warning",
    )


def _leave_out(
    decisions: dict[str, Decision],
    exc: ResolutionError,
    runtime: Runtime,
    needs: Sequence[Need],
    *,
    undeclared_only: bool = False,
) -> list[str]:
    """As a last resort, leave out of the lock the packages the resolver's explanation names
    that the runtime lacks: first those no requirement declares (a Blender script's `bpy`, a
    guessed name), then any (an sdist that no longer builds). One package that cannot be
    installed must not cost the student every other pin; the finding says what is missing."""
    declared = {need.name for need in needs if need.declared}
    named = [n for n in exc.names if n in decisions and runtime.version_of(n) is None]
    guessed = [n for n in named if n not in declared]
    chosen = guessed if undeclared_only else (guessed or named)
    for name in chosen:
        del decisions[name]
    return chosen


def _left_out(name: str, needs: Sequence[Need], exc: ResolutionError) -> Finding:
    need = next(n for n in needs if n.name == name)
    where = need.locations[0] if need.locations else None
    used = f"; the code at {where} needs it" if need.imported and where else ""
    return Finding(
        LEFT_OUT,
        f"{name} is left out of the lock: {_first_sentence(exc.explanation)}{used}."
        " Install it by hand if you need that code",
        where,
        "warning",
    )


def _dropped(name: str, needs: Sequence[Need], exc: ResolutionError) -> Finding:
    need = next(n for n in needs if n.name == name)
    return Finding(
        DROPPED_DECLARATION,
        f"{name} could not be resolved with the rest ({_first_sentence(exc.explanation)}),"
        " and the code never imports it: left out",
        need.locations[0] if need.locations else None,
        "info",
    )


def _first_sentence(text: str, limit: int = 200) -> str:
    text = text.removeprefix("No solution found when resolving dependencies:").strip()
    sentence = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rsplit(" ", 1)[0] + "..."


def _unsatisfiable(exc: ResolutionError, needs: Sequence[Need]) -> EnvfixError:
    lines = [
        f"{with_extras(need.name, need.name, need.extras)}{need.specifier} ({need.locations[0]})"
        for need in needs
        if need.name in exc.names and need.locations
    ]
    where = f" Declared in: {'; '.join(lines)}." if lines else ""
    return ResolutionError(f"{exc.explanation}.{where}", exc.names)


def kept_builds(runtime: Runtime) -> set[str]:
    """Preinstalled distributions from another index or a URL (Colab's `torch 2.11.0+cpu`):
    a resolution that lands on their public version keeps them as they are."""
    return {d.name for d in runtime.distributions if d.url or (d.version and "+" in d.version)}


def _without_build_dependencies(
    resolved: Sequence[Resolved], runtime: Runtime
) -> tuple[Resolved, ...]:
    """The resolution minus what only the index's build of a kept package would bring.

    PyPI's torch 2.11.0 needs CUDA wheels that Colab's CPU build 2.11.0+cpu does not: when
    the resolution keeps torch at the runtime's version, those dependencies are not needs.
    What is still reachable from the requirements without passing through a kept build stays.
    """
    kept = {
        r.name
        for r in resolved
        if r.name in kept_builds(runtime)
        and public_version(runtime.version_of(r.name)) == public_version(r.version)
    }
    if not kept:
        return tuple(resolved)
    children: dict[str, list[str]] = {}
    roots = []
    for r in resolved:
        for parent in r.via:
            if parent.startswith("-"):
                roots.append(r.name)
            else:
                children.setdefault(canonicalize_name(parent), []).append(r.name)
    reachable: set[str] = set()
    queue = list(dict.fromkeys(roots))
    while queue:
        name = queue.pop()
        if name in reachable:
            continue
        reachable.add(name)
        if name not in kept:
            queue.extend(children.get(name, ()))
    return tuple(r for r in resolved if r.name in reachable)


def _compare(
    resolved: Iterable[Resolved], runtime: Runtime, decisions: dict[str, Decision]
) -> tuple[Change, ...]:
    changes = []
    for r in resolved:
        old = runtime.version_of(r.name)
        old_public = public_version(old)
        new = Version(r.version)
        decision = decisions.get(r.name)
        if decision is not None:
            reason = decision.reason
        else:
            parents = [v for v in r.via if not v.startswith("-")]
            reason = f"needed by {', '.join(parents)}" if parents else "asked for directly"
        if old_public is None:
            kind = "add"
        elif old_public == new:
            kind = "keep"
        else:
            kind = "upgrade" if new > old_public else "downgrade"
        changes.append(Change(r.name, kind, old, r.version, reason))  # type: ignore[arg-type]
    return tuple(sorted(changes, key=lambda c: c.name))


def _change_findings(changes: Iterable[Change], index: PackageIndex, ctx: Context) -> list[Finding]:
    findings = []
    for change in changes:
        if change.kind == "keep":
            continue
        if change.breaks:
            findings.append(
                Finding(
                    BREAKS_PREINSTALLED,
                    f"{change.name} {change.old} -> {change.new} breaks {', '.join(change.breaks)}",
                )
            )
        project = index.project(change.name)
        how = (
            project.how_installs(Version(change.new), ctx.tags, ctx.runtime.python_version)
            if project
            else None
        )
        if how in ("sdist", "compiled-sdist"):
            risk = (
                "needs a compiler: a risk in Colab"
                if how == "compiled-sdist"
                else "pure Python, so it should build"
            )
            findings.append(
                Finding(
                    BUILDS_FROM_SOURCE,
                    f"{change.name} {change.new} has no wheel for Python "
                    f"{ctx.runtime.python_minor} and installs from source; {risk}",
                    severity="warning" if how == "compiled-sdist" else "info",
                )
            )
    return findings


def restart_needed(changes: Iterable[Change]) -> tuple[str, ...]:
    """Preinstalled distributions the install changes: a kernel that imported one of them
    keeps the old code until the runtime restarts."""
    return tuple(c.name for c in changes if c.kind in ("upgrade", "downgrade"))


def requirements_text(lock: Lock, runtime: Runtime, envfix_version: str) -> str:
    """The `requirements.envfix.txt` for a lock: every line pinned, each with why."""
    when = f", Colab of {runtime.released}" if runtime.released else ""
    lines = [
        f"# Generated by envfix {envfix_version} for {runtime.name}"
        f" (Python {runtime.python_version}{when}).",
        "# What to install on top of that runtime; everything else stays as it is there.",
        f"# Install with: pip install -r {REQUIREMENTS_FILE}",
    ]
    installs = lock.installs
    missing = [
        f for f in lock.findings if f.code in (NOT_ON_INDEX, NO_INSTALLABLE_VERSION, LEFT_OUT)
    ]
    if not installs and not lock.direct_urls and not missing:
        lines.append("# Nothing to install: the runtime has everything the code needs.")
    elif not installs and not lock.direct_urls:
        lines.append("# Nothing to install from the index; what the code needs beyond it is below.")
    # What the code needs that no pin here provides: said where the pins are read.
    lines.extend(f"# Not installable here: {_comment(f.message)}" for f in missing)
    for change in installs:
        was = f" (was {change.old})" if change.old else ""
        lines.append(f"{change.name}=={change.new}  # {_comment(change.reason)}{was}")
    for need in lock.direct_urls:
        name = with_extras(need.name, need.name, need.extras)
        lines.append(f"{name} @ {need.url}  # {_comment(need.reasons[0])}")
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    return " ".join(text.split())


def lock_inventory(inventory: Inventory, runtime: Runtime, setup: Resolution) -> Lock:
    """The lock for an inventory on a runtime (no file written: the pipeline writes it)."""
    needs, plan_findings = plan(inventory, runtime)
    changes, decisions, findings = resolve_needs(needs, runtime, setup)
    return Lock(
        target=runtime.name,
        backend=setup.resolver.name,
        python_version=runtime.python_version,
        changes=changes,
        decisions=decisions,
        direct_urls=tuple(n for n in needs if n.url),
        findings=plan_findings + findings,
        restart=restart_needed(changes),
        interpreter=runtime.interpreter,
    )


def _uninstallable(result: Lock) -> int:
    return sum(1 for f in result.findings if f.code == NO_INSTALLABLE_VERSION)


def cost(result: Lock) -> int:
    """How much a lock asks of its runtime: installs, pins that could not be honoured, and,
    heavier, needed packages of which no release installs at all."""
    return len(result.installs) + len(result.relaxed) + 10 * _uninstallable(result)


def needs_large_changes(result: Lock) -> bool:
    """Something the code needs does not install on the target's Python as asked, or the
    lock moves many packages."""
    return (
        _uninstallable(result) > 0
        or any(d.relaxed_because == "no-wheel" for d in result.relaxed)
        or cost(result) >= 5
    )


def suggest_runtime(
    current: Lock,
    runtime: Runtime,
    candidates: Iterable[Runtime],
    lock_for: Callable[[Runtime], Lock],
) -> str | None:
    """The runtime among `candidates` (same CPU/GPU kind) that needs the fewest changes, as
    advice, when the current target needs large ones and another needs fewer."""
    if not needs_large_changes(current):
        return None
    score = cost(current)
    best: tuple[int, Runtime, Lock] | None = None
    for other in candidates:
        if other.name == runtime.name or other.accelerator != runtime.accelerator:
            continue
        try:
            other_lock = lock_for(other)
        except EnvfixError:
            continue
        other_cost = cost(other_lock)
        if other_cost < score and (best is None or other_cost < best[0]):
            best = (other_cost, other, other_lock)
    if best is None:
        return None
    _, other, other_lock = best
    version = other.name.removeprefix("colab-").removesuffix("-gpu")
    return (
        f"pin this notebook to Colab runtime {version} (Python {other.python_minor}):"
        f" {_describe(other_lock)} there, against {_describe(current)} on {runtime.name}"
        " (in Colab: Runtime > Change runtime type > Runtime version)"
    )


def _describe(result: Lock) -> str:
    parts = [f"{len(result.installs)} to install", f"{len(result.relaxed)} pins relaxed"]
    if missing := _uninstallable(result):
        parts.append(f"{missing} needed packages that do not install at all")
    return ", ".join(parts)


def stored_lock(state_dir: Path, digest: str) -> dict[str, Any] | None:
    """A lock stored by an earlier run with the same inputs."""
    try:
        doc: dict[str, Any] = json.loads((state_dir / "lock.json").read_text())
    except (OSError, ValueError):
        return None
    return doc if doc.get("digest") == digest else None


def store_lock(state_dir: Path, digest: str, document: dict[str, Any]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "lock.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({**document, "digest": digest}, indent=1))
    temporary.replace(path)


def planned_versions(runtime: Runtime, lock: Lock) -> dict[str, str]:
    """Each distribution's version once the lock is installed on the runtime."""
    versions = {d.name: d.version for d in runtime.distributions if d.version}
    versions.update({c.name: c.new for c in lock.installs})
    return versions
