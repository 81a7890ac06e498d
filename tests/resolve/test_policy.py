from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from envfix.model import InstalledDistribution, Location, Need, Runtime
from envfix.resolve.dependents import Dependents, from_requirements
from envfix.resolve.index import Project, release_file
from envfix.resolve.policy import NOT_ON_INDEX, Context, decide, relax, with_extras
from envfix.runtime import manylinux_platforms, supported_tags

CP313 = "cp313-cp313-manylinux_2_17_x86_64"


class MemoryIndex:
    def __init__(self, *files: tuple[str, str]) -> None:
        self.projects: dict[str, list[tuple[str, str]]] = {}
        for filename, uploaded in files:
            self.projects.setdefault(filename.split("-")[0], []).append((filename, uploaded))

    def project(self, name: str) -> Project | None:
        entries = self.projects.get(name.replace("-", "_"))
        if entries is None:
            return None
        parsed = [release_file({"filename": f, "upload-time": t}) for f, t in entries]
        return Project(name, tuple(p for p in parsed if p))


INDEX = MemoryIndex(
    ("tqdm-4.19.5-py2.py3-none-any.whl", "2017-12-01T00:00:00Z"),
    ("tqdm-4.67.3-py3-none-any.whl", "2025-01-01T00:00:00Z"),
    ("numpy-1.16.4.zip", "2019-05-29T00:00:00Z"),
    ("numpy-1.16.4-cp37-cp37m-manylinux1_x86_64.whl", "2019-05-29T00:00:00Z"),
    (f"numpy-2.1.3-{CP313}.whl", "2024-11-02T00:00:00Z"),
    ("purelib-0.3.tar.gz", "2018-06-01T00:00:00Z"),
    ("purelib-0.4rc1-py3-none-any.whl", "2018-07-01T00:00:00Z"),
    ("oldcompiled-1.0-cp36-cp36m-manylinux1_x86_64.whl", "2018-01-01T00:00:00Z"),
    ("oldcompiled-1.0.tar.gz", "2018-01-01T00:00:00Z"),
    (f"oldcompiled-1.5-{CP313}.whl", "2024-01-01T00:00:00Z"),
    (f"oldcompiled-2.0-{CP313}.whl", "2025-01-01T00:00:00Z"),
    ("backportish-3.7.4.3-py3-none-any.whl", "2020-08-01T00:00:00Z"),
    ("backportish-3.10.0.0-py2-none-any.whl", "2021-05-01T00:00:00Z"),
)


def context(dependents: Dependents | None = None, repo_date: datetime | None = None) -> Context:
    rt = Runtime(
        "colab-x",
        "3.13.1",
        manylinux_platforms((2, 35), "x86_64"),
        (InstalledDistribution("numpy", "2.1.3"), InstalledDistribution("tqdm", "4.67.3")),
    )
    return Context(rt, frozenset(supported_tags(rt)), INDEX, dependents or Dependents(), repo_date)


def need(name: str, spec: str = "", imported: bool = True) -> Need:
    return Need(
        name,
        spec,
        (f"requirements.txt:1 asks for {name}{spec}",),
        (Location("requirements.txt", 1),),
        imported=imported,
        declared=bool(spec),
    )


def test_runtime_version_that_satisfies_needs_no_decision() -> None:
    assert decide(need("numpy", ">=1.14"), context()) == (None, [])
    assert decide(need("numpy"), context()) == (None, [])


def test_compiled_sdist_is_not_installable() -> None:
    decision, _ = decide(need("numpy", "==1.16.4"), context())
    assert decision is not None and decision.requirement == "numpy==2.1.3"
    assert decision.relaxed_because == "no-wheel" and "sdist needs a compiler" in decision.reason


def test_pure_sdist_installs_and_prereleases_are_skipped() -> None:
    decision, _ = decide(need("purelib", "<1"), context())
    assert decision is not None and decision.requirement == "purelib<1"
    assert decision.rule == "declared"


def test_honoured_pin_unless_a_preinstalled_package_needs_more() -> None:
    decision, _ = decide(need("tqdm", "==4.19.5"), context())
    assert decision is not None and (decision.rule, decision.requirement) == (
        "declared",
        "tqdm==4.19.5",
    )
    hub = from_requirements({("hub", "1.0"): ["tqdm>=4.42.1"]}, context().runtime)
    decision, _ = decide(need("tqdm", "==4.19.5"), context(hub))
    assert decision is not None and decision.requirement == "tqdm==4.67.3"
    assert decision.relaxed_because == "breaks-preinstalled"


def test_new_package_pin_relaxed_to_the_nearest_version_that_installs() -> None:
    decision, _ = decide(need("oldcompiled", "==1.0"), context())
    assert decision is not None and decision.requirement == "oldcompiled==1.5"
    assert decision.rule == "relaxed" and decision.relaxed_from == "oldcompiled==1.0"


def test_declared_but_unused_and_uninstallable_is_dropped() -> None:
    decision, findings = decide(need("oldcompiled", "==1.0", imported=False), context())
    assert decision is None and [f.code for f in findings] == ["dropped-declaration"]


def test_date_rule_and_newest() -> None:
    dated, _ = decide(need("oldcompiled"), context(repo_date=datetime(2023, 9, 1, tzinfo=UTC)))
    # A cap, not a pin: the resolver may take an older release that fits the runtime better.
    assert dated is not None and (dated.rule, dated.requirement) == ("date", "oldcompiled<=1.5")
    assert "1.5 is the newest released by 2024-02-28" in dated.reason
    too_early, _ = decide(need("oldcompiled"), context(repo_date=datetime(2017, 1, 1, tzinfo=UTC)))
    assert too_early is not None and too_early.requirement == "oldcompiled<=2.0"
    assert too_early.rule == "newest" and "2.0 is the newest that installs" in too_early.reason


def test_newest_is_capped_at_the_version_it_names() -> None:
    # Like PyPI's typing: the newest release (3.10.0.0) is a Python 2 wheel; the lock line
    # must not let the resolver take it while the reason names 3.7.4.3.
    decision, _ = decide(need("backportish"), context())
    assert decision is not None and decision.rule == "newest"
    assert decision.requirement == "backportish<=3.7.4.3"
    assert "3.7.4.3 is the newest that installs" in decision.reason


def test_unknown_package() -> None:
    decision, findings = decide(need("nosuch", "==1"), context())
    assert decision is None and [f.code for f in findings] == [NOT_ON_INDEX]
    assert str(findings[0].location) == "requirements.txt:1"


def test_extras_reach_the_resolver_without_moving_what_the_runtime_has() -> None:
    # Colab has numpy: with extras, it is asked for at that version so that what the extras
    # bring in is locked; without them, nothing is asked for.
    kept, _ = decide(replace(need("numpy", ">=1.14"), extras=("dev",)), context())
    assert kept is not None and kept.requirement == "numpy==2.1.3" and kept.rule == "runtime"
    assert kept.extras == ("dev",) and kept.relaxed_from is None and "(dev)" in kept.reason
    assert with_extras(kept.name, kept.requirement, kept.extras) == "numpy[dev]==2.1.3"
    # Any other decision carries them too, and a relaxed one keeps them.
    new, _ = decide(replace(need("tqdm", "<4.20"), extras=("notebook", "telegram")), context())
    assert new is not None and new.requirement == "tqdm<4.20" and new.rule == "declared"
    assert new.extras == ("notebook", "telegram")
    added, _ = decide(replace(need("purelib", "<1"), extras=("x",)), context())
    assert added is not None and added.requirement == "purelib<1" and added.extras == ("x",)
    assert relax(added, context().runtime, "conflict").extras == ("x",)


def test_with_extras_keeps_the_versions_and_replaces_extras_already_there() -> None:
    assert with_extras("torch", "torch<=2.1,>=2", ("a", "b")) == "torch[a,b]<=2.1,>=2"
    assert with_extras("torch", "torch", ("a",)) == "torch[a]"
    assert with_extras("torch", "torch[old]==2.0", ("a",)) == "torch[a]==2.0"
    assert with_extras("torch", "torch==2.0", ()) == "torch==2.0"
