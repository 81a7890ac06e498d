"""Least change: for each need, what to ask the resolver for, and why.

- The runtime's version stays when it satisfies the need.
- A declared pin on a preinstalled package that excludes the runtime's version is honoured
  only when a matching version installs on the target and no other preinstalled package
  excludes it; otherwise the runtime's version stays and the relaxation is recorded.
- A pin on a package the runtime lacks is honoured when it installs; else it is relaxed to the
  nearest version that does (a wheel for the target, or an sdist of pure Python).
- An unpinned package the runtime lacks gets the newest version released within a margin of
  the repo's last commit (the code was written against it), else the newest that installs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.version import InvalidVersion, Version

from envfix.model import Decision, Finding, Need, RelaxCause, Runtime
from envfix.resolve.dependents import Dependents
from envfix.resolve.index import PackageIndex, Project

DATE_MARGIN = timedelta(days=180)
NOT_ON_INDEX = "not-on-index"
NO_INSTALLABLE_VERSION = "no-installable-version"
DROPPED_DECLARATION = "dropped-declaration"
LEFT_OUT = "left-out"


@dataclass(frozen=True)
class Context:
    runtime: Runtime
    tags: frozenset[Tag]
    index: PackageIndex
    dependents: Dependents
    repo_date: datetime | None = None
    compatible: Mapping[str, tuple[SpecifierSet, str]] = field(default_factory=dict)
    """Versions the binary-compatibility rules allow (`scikit-learn>=1.4.2` under NumPy 2):
    no choice is made outside them."""


def public_version(version: str | None) -> Version | None:
    """`2.11.0+cpu` -> 2.11.0: the version as the index knows it."""
    if not version:
        return None
    try:
        return Version(Version(version).public)
    except InvalidVersion:
        return None


@dataclass(frozen=True)
class Wanted:
    """The versions a need accepts: its declarations combined, or, when they disagree (a CPU
    and a GPU environment file pinning different versions), any one of them."""

    spec: SpecifierSet
    alternatives: tuple[SpecifierSet, ...] = ()

    @classmethod
    def of(cls, need: Need, project: Project | None = None) -> Wanted:
        spec = SpecifierSet(need.specifier)
        if need.alternatives and (
            project is None or not list(spec.filter(project.versions, prereleases=True))
        ):
            return cls(spec, tuple(SpecifierSet(a) for a in need.alternatives))
        return cls(spec)

    def contains(self, version: Version) -> bool:
        if self.alternatives:
            return any(a.contains(version, prereleases=True) for a in self.alternatives)
        return self.spec.contains(version, prereleases=True)

    def filter(self, versions: Iterable[Version], prereleases: bool | None = None) -> list[Version]:
        if self.alternatives:
            return [
                v for v in versions if any(a.contains(v, prereleases) for a in self.alternatives)
            ]
        return list(self.spec.filter(versions, prereleases=prereleases))

    def requirement(self, name: str, best: Version, project: Project) -> str:
        """The resolver's line: the declared range, capped at the newest version that installs
        when a newer one in the range does not (an sdist that needs a compiler, say)."""
        if self.alternatives:
            return f"{name}=={best}"
        if any(v > best for v in self.spec.filter(project.versions)):
            return f"{name}{self.spec & SpecifierSet(f'<={best}')}"
        return f"{name}{self.spec}"

    def disagreement(self) -> str:
        if not self.alternatives:
            return ""
        shown = ", ".join(str(a) for a in self.alternatives)
        return f" (the repo's files disagree: {shown}; any of them will do)"


def decide(need: Need, ctx: Context) -> tuple[Decision | None, list[Finding]]:
    """The resolver input for one need; None when the runtime already has what it needs."""
    decision, findings = _decide(need, ctx)
    if decision is not None and need.extras:
        decision = replace(decision, extras=need.extras)
    return decision, findings


def _decide(need: Need, ctx: Context) -> tuple[Decision | None, list[Finding]]:
    runtime_version = public_version(ctx.runtime.version_of(need.name))
    if runtime_version is not None and (
        not need.specifier or SpecifierSet(need.specifier).contains(runtime_version, True)
    ):
        return _kept(need, runtime_version, ctx), []
    project = ctx.index.project(need.name)
    where = need.locations[0] if need.locations else None
    if project is None:
        if runtime_version is not None:
            return None, []
        return None, [
            Finding(
                NOT_ON_INDEX,
                f"{need.name} is not on the package index ({'; '.join(need.reasons)}); "
                "install it from its source",
                where,
                "error",
            )
        ]
    installable = _installable(project, ctx)
    wanted = Wanted.of(need, project)
    if runtime_version is not None and wanted.alternatives and wanted.contains(runtime_version):
        # The repo's files disagree, and one of them admits what is there.
        return _kept(need, runtime_version, ctx), []
    if runtime_version is not None:
        return _preinstalled(need, wanted, runtime_version, installable, project, ctx), []
    if not need.specifier:
        return _unpinned(need, installable, project, ctx)
    return _new_pinned(need, wanted, installable, project, ctx)


def _kept(need: Need, runtime_version: Version, ctx: Context) -> Decision | None:
    """Nothing to ask for when the runtime's version will do, unless the need has extras:
    then the resolver is asked for that same version with them, so that what the extras
    bring in (and the runtime may lack) is locked, and the package itself stays."""
    if not need.extras:
        return None
    extras = ", ".join(need.extras)
    return Decision(
        need.name,
        f"{need.name}=={runtime_version}",
        "runtime",
        f"{need.reasons[0] if need.reasons else need.name}; {ctx.runtime.name}'s"
        f" {runtime_version} stays, with what its extras ({extras}) need",
        extras=need.extras,
    )


def _installable(project: Project, ctx: Context) -> list[Version]:
    """Versions with a wheel for the target, or an sdist that needs no compiler; no yanked
    releases and no pre-releases."""
    python = ctx.runtime.python_version
    compatible = ctx.compatible.get(project.name, (SpecifierSet(), ""))[0]
    return [
        v
        for v in project.versions
        if not v.is_prerelease
        and not project.yanked(v)
        and compatible.contains(v)
        and project.how_installs(v, ctx.tags, python) in ("wheel", "sdist")
    ]


def _asked(need: Need) -> str:
    """What the repo asked for, as it reads best: the exact pin when there is one."""
    spec = SpecifierSet(need.specifier)
    pinned = [s for s in spec if s.operator in ("==", "===") and "*" not in s.version]
    if need.alternatives:
        return f"{need.name}{need.alternatives[0]}"
    return f"{need.name}{pinned[0]}" if pinned else f"{need.name}{need.specifier}"


def _preinstalled(
    need: Need,
    wanted: Wanted,
    runtime_version: Version,
    installable: list[Version],
    project: Project,
    ctx: Context,
) -> Decision:
    keep = f"{need.name}=={runtime_version}"
    candidates = wanted.filter(installable)
    if not candidates:
        why, cause = _why_not(need, wanted, project, ctx)
        return Decision(
            need.name,
            keep,
            "runtime",
            f"{why}; kept {ctx.runtime.name}'s {runtime_version}",
            relaxed_from=_asked(need),
            relaxed_because=cause,
        )
    best = max(candidates)
    blocked = ctx.dependents.excluding(need.name, str(best))
    if blocked:
        more = f" and {len(blocked) - 3} more" if len(blocked) > 3 else ""
        return Decision(
            need.name,
            keep,
            "runtime",
            f"{need.name} {best} would break {', '.join(blocked[:3])}{more};"
            f" kept {ctx.runtime.name}'s {runtime_version}",
            relaxed_from=_asked(need),
            relaxed_because="breaks-preinstalled",
        )
    return Decision(
        need.name,
        wanted.requirement(need.name, best, project),
        "declared",
        f"{need.reasons[0]}; {best} installs on Python {ctx.runtime.python_minor}"
        + wanted.disagreement(),
    )


def _new_pinned(
    need: Need, wanted: Wanted, installable: list[Version], project: Project, ctx: Context
) -> tuple[Decision | None, list[Finding]]:
    candidates = wanted.filter(installable)
    if candidates:
        best = max(candidates)
        requirement = wanted.requirement(need.name, best, project)
        return Decision(
            need.name, requirement, "declared", need.reasons[0] + wanted.disagreement()
        ), []
    why, cause = _why_not(need, wanted, project, ctx)
    if not need.imported:
        return None, [
            Finding(
                DROPPED_DECLARATION,
                f"{why}, and the code never imports it: left out",
                need.locations[0] if need.locations else None,
                "info",
            )
        ]
    nearest = _nearest(wanted, project, installable)
    if nearest is None:
        return None, [_nothing_installs(need, ctx)]
    return Decision(
        need.name,
        f"{need.name}=={nearest}",
        "relaxed",
        f"{why}; {nearest} is the nearest version that does",
        relaxed_from=_asked(need),
        relaxed_because=cause,
    ), []


def _unpinned(
    need: Need, installable: list[Version], project: Project, ctx: Context
) -> tuple[Decision | None, list[Finding]]:
    if not installable:
        return None, [_nothing_installs(need, ctx)]
    if ctx.repo_date is not None and ctx.repo_date + DATE_MARGIN < datetime.now(UTC):
        cutoff = ctx.repo_date + DATE_MARGIN
        dated = [
            v for v in installable if (t := project.upload_time(v)) is not None and t <= cutoff
        ]
        if dated:
            chosen = max(dated)
            # A cap, not a pin: an older release may fit the runtime's versions better.
            return Decision(
                need.name,
                f"{need.name}<={chosen}",
                "date",
                f"{need.reasons[0]}; {chosen} is the newest released by {cutoff:%Y-%m-%d}"
                f" (the repo's last commit, {ctx.repo_date:%Y-%m-%d}, plus"
                f" {DATE_MARGIN.days} days)",
            ), []
    chosen = max(installable)
    # Capped at what was judged to install: a newer release only for older Pythons
    # (`typing 3.10.0.0`) must not be what the resolver picks instead.
    return Decision(
        need.name,
        f"{need.name}<={chosen}",
        "newest",
        f"{need.reasons[0]}; {chosen} is the newest that installs",
    ), []


def _nearest(wanted: Wanted, project: Project, installable: list[Version]) -> Version | None:
    """The installable version closest to what was asked for: the oldest one newer than
    every version asked for, else the newest older one."""
    allowed = wanted.filter(project.versions, prereleases=True)
    if not allowed:
        return max(installable) if installable else None
    newer = [v for v in installable if v > max(allowed)]
    if newer:
        return min(newer)
    older = [v for v in installable if v < min(allowed)]
    return max(older) if older else None


def _why_not(need: Need, wanted: Wanted, project: Project, ctx: Context) -> tuple[str, RelaxCause]:
    """Why no version the need asks for can be used, and which kind of reason it is."""
    python = ctx.runtime.python_minor
    matching = wanted.filter(project.versions, prereleases=True)
    if not matching:
        asked = ", ".join(str(a) for a in wanted.alternatives) or str(wanted.spec)
        return f"no release of {need.name} matches {asked}", "no-wheel"
    tag = f"cp{python.replace('.', '')}"
    how = {v: project.how_installs(v, ctx.tags, ctx.runtime.python_version) for v in matching}
    kinds = set(how.values())
    spec, reason = ctx.compatible.get(project.name, (SpecifierSet(), ""))
    if reason and any(h in ("wheel", "sdist") and not spec.contains(v) for v, h in how.items()):
        # It would install, but not work with a compiled dependency of the target.
        return f"{_asked(need)}: {reason}", "binary-incompatible"
    if "compiled-sdist" in kinds:
        return (
            f"no {_asked(need)} release has a wheel for {tag} (its sdist needs a compiler)",
            "no-wheel",
        )
    return f"no {_asked(need)} release installs on Python {python} ({tag})", "no-wheel"


def _nothing_installs(need: Need, ctx: Context) -> Finding:
    return Finding(
        NO_INSTALLABLE_VERSION,
        f"no release of {need.name} installs on Python {ctx.runtime.python_minor}"
        f" ({'; '.join(need.reasons)})",
        need.locations[0] if need.locations else None,
        "error",
    )


def relax(decision: Decision, runtime: Runtime, why: str) -> Decision:
    """A decision loosened after the resolver found it impossible with everything else."""
    runtime_version = public_version(runtime.version_of(decision.name))
    requirement = f"{decision.name}=={runtime_version}" if runtime_version else decision.name
    return Decision(
        decision.name,
        requirement,
        "runtime" if runtime_version else "newest",
        why,
        relaxed_from=decision.relaxed_from or decision.requirement,
        relaxed_because=decision.relaxed_because or "conflict",
        extras=decision.extras,
    )


def with_extras(name: str, requirement: str, extras: Iterable[str]) -> str:
    """`requirement` (`name<versions>`) as the resolver reads it with `extras`:
    `gymnasium[classic-control]==1.0.0`."""
    listed = ",".join(extras)
    m = re.match(r"\s*[A-Za-z0-9][A-Za-z0-9._-]*(?:\s*\[[^\]]*\])?", requirement)
    if not listed or m is None:
        return requirement
    return f"{name}[{listed}]{requirement[m.end() :]}"
