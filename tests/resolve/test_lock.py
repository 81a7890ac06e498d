"""The lock stage end to end, against a real index of tiny wheels on loopback, with both real
resolvers: uv for a Colab-like profile (Python 3.13 from this 3.11), pip-compile for the
running interpreter."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from envfix.model import (
    Decision,
    DeclaredRequirement,
    ImportUse,
    InstalledDistribution,
    Inventory,
    Location,
    Lock,
    Need,
    Runtime,
)
from envfix.resolve.backends import PipCompileResolver, ResolutionError, Resolver, UvResolver
from envfix.resolve.dependents import Dependents, from_requirements
from envfix.resolve.index import SimpleIndex
from envfix.resolve.lock import (
    CompatRule,
    LockInputs,
    Resolution,
    compat_rules,
    lock_inventory,
    requirements_text,
    suggest_runtime,
)
from envfix.runner import default_runner
from envfix.runtime import manylinux_platforms
from envfix.serialize import lock as lock_document
from envfix.serialize import lock_from
from tests.resolve.fake_index import Dist, FakeIndex, serve

CP313 = "cp313-cp313-manylinux_2_17_x86_64"
CP311 = "cp311-cp311-manylinux_2_17_x86_64"
OLD = "cp37-cp37m-manylinux1_x86_64"

# A small world: what a Colab-like runtime has, and old releases an old repo pins.
WORLD = [
    Dist("numpy", "1.16.4", tag=OLD, uploaded="2019-05-29T00:00:00Z"),
    Dist("numpy", "1.16.4", sdist=True, uploaded="2019-05-29T00:00:00Z"),
    Dist("numpy", "2.1.3", tag=CP313, uploaded="2024-11-02T00:00:00Z"),
    Dist("numpy", "2.1.3", tag=CP311, uploaded="2024-11-02T00:00:00Z"),
    Dist("tqdm", "4.19.0", tag="py2.py3-none-any", uploaded="2017-10-14T00:00:00Z"),
    Dist("tqdm", "4.67.3", uploaded="2025-01-01T00:00:00Z"),
    Dist("hub", "1.0", requires=("tqdm>=4.42.1",), uploaded="2025-01-01T00:00:00Z"),
    Dist("protobuf", "3.20.3", uploaded="2022-09-29T00:00:00Z"),
    Dist("protobuf", "5.29.0", uploaded="2024-11-27T00:00:00Z"),
    Dist("tboard", "1.0", requires=("protobuf>=5",), uploaded="2025-01-01T00:00:00Z"),
    Dist(
        "tensorboardx",
        "1.2",
        requires=("protobuf>=3.2.0", "numpy"),
        tag="py2.py3-none-any",
        uploaded="2018-04-21T00:00:00Z",
    ),
    Dist(
        "tensorboardx",
        "2.6.2",
        requires=("protobuf>=3.20", "numpy"),
        uploaded="2023-08-01T00:00:00Z",
    ),
    Dist("oldlib", "1.0", uploaded="2018-01-10T00:00:00Z"),
    Dist("oldlib", "2.0", uploaded="2019-03-10T00:00:00Z"),
    Dist("oldlib", "3.0", uploaded="2023-05-10T00:00:00Z"),
    Dist(
        "scikit-learn",
        "1.2.2",
        requires=("numpy>=1.17.3",),
        tag=CP313,
        uploaded="2023-03-08T00:00:00Z",
    ),
    Dist(
        "scikit-learn",
        "1.2.2",
        requires=("numpy>=1.17.3",),
        tag=CP311,
        uploaded="2023-03-08T00:00:00Z",
    ),
    Dist(
        "scikit-learn",
        "1.6.1",
        requires=("numpy>=1.19.5",),
        tag=CP313,
        uploaded="2025-01-10T00:00:00Z",
    ),
    Dist(
        "scikit-learn",
        "1.6.1",
        requires=("numpy>=1.19.5",),
        tag=CP311,
        uploaded="2025-01-10T00:00:00Z",
    ),
    Dist("legacy311", "0.9", tag=CP311, uploaded="2020-01-01T00:00:00Z"),
    Dist("needsnew", "1.0", requires=("missingdep>=2",), uploaded="2020-01-01T00:00:00Z"),
    Dist("missingdep", "1.0", uploaded="2020-01-01T00:00:00Z"),
    Dist("cvthing", "1.0", requires=("numpy>=1.14",), uploaded="2019-01-10T00:00:00Z"),
    Dist("cvthing", "2.0", requires=("numpy>=1.21",), uploaded="2024-06-10T00:00:00Z"),
    Dist("cvuser", "1.0", requires=("cvthing<2",), uploaded="2019-02-10T00:00:00Z"),
    Dist("matplotlib", "3.10.0", uploaded="2024-12-14T00:00:00Z"),
    Dist("seaborn", "0.11.2", requires=("matplotlib>=2.2",), uploaded="2021-08-16T00:00:00Z"),
    Dist("seaborn", "0.13.2", requires=("matplotlib>=3.4",), uploaded="2024-01-25T00:00:00Z"),
]
PREINSTALLED = {
    "numpy": "2.1.3",
    "tqdm": "4.67.3",
    "hub": "1.0",
    "protobuf": "5.29.0",
    "tboard": "1.0",
}
PREINSTALLED_REQUIRES = {("hub", "1.0"): ["tqdm>=4.42.1"], ("tboard", "1.0"): ["protobuf>=5"]}
NUMPY2 = CompatRule(
    "numpy2-abi",
    "Built against NumPy 1.x",
    "numpy",
    SpecifierSet(">=2"),
    (("scikit-learn", SpecifierSet(">=1.4.2"), "built against NumPy 2"),),
)


@pytest.fixture(scope="module")
def index() -> Iterator[FakeIndex]:
    with serve(WORLD) as served:
        yield served


def colab_like(python: str = "3.13.1", name: str = "colab-test") -> Runtime:
    return Runtime(
        name=name,
        python_version=python,
        platforms=manylinux_platforms((2, 35), "x86_64"),
        distributions=tuple(InstalledDistribution(n, v) for n, v in PREINSTALLED.items()),
        is_colab=True,
    )


def this_interpreter() -> Runtime:
    """The running interpreter as target, with a made-up set of preinstalled versions."""
    version = ".".join(map(str, sys.version_info[:3]))
    return Runtime(
        name="live",
        python_version=version,
        platforms=manylinux_platforms((2, 35), "x86_64"),
        distributions=tuple(InstalledDistribution(n, v) for n, v in PREINSTALLED.items()),
        interpreter=sys.executable,
    )


def inventory(*declared: str, imported: tuple[str, ...] = ()) -> Inventory:
    """An inventory as the scan makes it: requirements.txt lines, and imports in train.py."""
    parsed = [(number, line, Requirement(line)) for number, line in enumerate(declared, 1)]
    reqs = tuple(
        DeclaredRequirement(
            name=canonicalize_name(req.name),
            location=Location("requirements.txt", number),
            source="requirements",
            specifier=str(req.specifier),
            extras=tuple(sorted(req.extras)),
            original=line,
        )
        for number, line, req in parsed
    )
    uses = tuple(
        ImportUse(name, Location("train.py", number), name=name)
        for number, name in enumerate(imported, start=1)
    )
    return Inventory("/repo", "t", "3.13", 1, uses, reqs, (), (), (), ())


def lock_with(
    inv: Inventory,
    runtime: Runtime,
    index: FakeIndex,
    tmp_path: Path,
    resolver: Resolver | None = None,
    *,
    repo_date: datetime | None = None,
    dependents: Dependents | None = None,
    rules: tuple[CompatRule, ...] = (NUMPY2,),
) -> Lock:
    return lock_inventory(
        inv,
        runtime,
        Resolution(
            index=SimpleIndex(index.url, tmp_path / "cache"),
            resolver=resolver or UvResolver(runtime, default_runner),
            dependents=dependents or from_requirements(PREINSTALLED_REQUIRES, runtime),
            workdir=tmp_path / "work",
            repo_date=repo_date,
            index_url=index.url,
            rules=rules,
        ),
    )


def by_name(lock: Lock) -> dict[str, tuple[str, str | None, str]]:
    return {c.name: (c.kind, c.old, c.new) for c in lock.changes}


def test_least_change_keeps_what_the_runtime_has(index: FakeIndex, tmp_path: Path) -> None:
    lock = lock_with(inventory("numpy", "tqdm>=4"), colab_like(), index, tmp_path)
    assert lock.installs == () and lock.decisions == () and lock.restart == ()


def test_unavailable_and_breaking_pins_are_relaxed_and_said(
    index: FakeIndex, tmp_path: Path
) -> None:
    lock = lock_with(
        inventory(
            "numpy==1.16.4",
            "tqdm==4.19.0",
            "tensorboardX==1.2",
            imported=("numpy", "tqdm", "tensorboardx"),
        ),
        colab_like(),
        index,
        tmp_path,
    )
    assert lock.installs and {c.name for c in lock.installs} == {"tensorboardx"}
    assert by_name(lock)["tensorboardx"] == ("add", None, "1.2")
    relaxed = {d.name: d for d in lock.relaxed}
    assert relaxed["numpy"].relaxed_because == "no-wheel"
    assert (
        "cp313" in relaxed["numpy"].reason and "kept colab-test's 2.1.3" in relaxed["numpy"].reason
    )
    assert relaxed["tqdm"].relaxed_because == "breaks-preinstalled"
    assert "hub 1.0 (needs tqdm>=4.42.1)" in relaxed["tqdm"].reason
    assert lock.restart == ()
    text = requirements_text(lock, colab_like(), "0.1")
    pins = [line for line in text.splitlines() if not line.startswith("#")]
    assert pins == ["tensorboardx==1.2  # requirements.txt:3 asks for tensorboardX==1.2"]
    assert "127.0.0.1" not in text and "--" not in text


def test_a_pin_honoured_when_it_installs_and_breaks_nothing(
    index: FakeIndex, tmp_path: Path
) -> None:
    lock = lock_with(
        inventory("protobuf==3.20.3", imported=("protobuf",)),
        colab_like(),
        index,
        tmp_path,
        dependents=Dependents(),
    )
    assert by_name(lock)["protobuf"] == ("downgrade", "5.29.0", "3.20.3")
    assert lock.restart == ("protobuf",)


def test_a_downgrade_that_breaks_a_preinstalled_package_is_not_made(
    index: FakeIndex, tmp_path: Path
) -> None:
    lock = lock_with(
        inventory("protobuf==3.20.3", imported=("protobuf",)), colab_like(), index, tmp_path
    )
    assert lock.installs == ()
    (relaxed,) = lock.relaxed
    assert "tboard 1.0 (needs protobuf>=5)" in relaxed.reason


def test_numpy2_binary_constraint(index: FakeIndex, tmp_path: Path) -> None:
    lock = lock_with(
        inventory("scikit-learn==1.2.2", imported=("scikit-learn",)), colab_like(), index, tmp_path
    )
    assert by_name(lock)["scikit-learn"] == ("add", None, "1.6.1")
    (relaxed,) = lock.relaxed
    assert relaxed.relaxed_from == "scikit-learn==1.2.2"
    assert relaxed.relaxed_because == "binary-incompatible"
    assert (
        "with numpy 2.1.3, scikit-learn needs >=1.4.2 (built against numpy 1.x)" in relaxed.reason
    )


def test_unpinned_new_package_follows_the_repo_date(index: FakeIndex, tmp_path: Path) -> None:
    inv = inventory(imported=("oldlib",))
    dated = lock_with(
        inv, colab_like(), index, tmp_path / "a", repo_date=datetime(2019, 1, 15, tzinfo=UTC)
    )
    assert by_name(dated)["oldlib"] == ("add", None, "2.0")
    (decision,) = dated.decisions
    assert decision.rule == "date" and "2019-07-14" in decision.reason
    newest = lock_with(inv, colab_like(), index, tmp_path / "b")
    assert by_name(newest)["oldlib"] == ("add", None, "3.0")
    assert newest.decisions[0].rule == "newest"


def test_a_package_missing_from_the_index_is_named_with_where(
    index: FakeIndex, tmp_path: Path
) -> None:
    lock = lock_with(inventory("nosuchpkg==1.0", "oldlib"), colab_like(), index, tmp_path)
    (finding,) = [f for f in lock.findings if f.code == "not-on-index"]
    assert "nosuchpkg" in finding.message and str(finding.location) == "requirements.txt:1"
    assert "oldlib" in by_name(lock)


def test_a_package_that_cannot_install_is_left_out_and_explained(
    index: FakeIndex, tmp_path: Path
) -> None:
    # needsnew needs a missingdep that does not exist: one such package must not cost the
    # student every other pin.
    lock = lock_with(
        inventory("needsnew==1.0", "oldlib", imported=("needsnew", "oldlib")),
        colab_like(),
        index,
        tmp_path,
    )
    (finding,) = [f for f in lock.findings if f.code == "left-out"]
    assert finding.message.startswith("needsnew is left out of the lock: ")
    assert "missingdep" in finding.message and "the code at requirements.txt:1 needs it" in (
        finding.message
    )
    assert "╰" not in finding.message and "×" not in finding.message
    assert "oldlib" in by_name(lock) and "needsnew" not in by_name(lock)
    # The pinned file says so too, where a student reads the pins.
    text = requirements_text(lock, colab_like(), "0.1")
    assert "# Not installable here: needsnew is left out of the lock" in text


def test_nothing_to_install_is_not_said_when_something_is_missing(
    index: FakeIndex, tmp_path: Path
) -> None:
    lock = lock_with(inventory("nosuchpkg"), colab_like(), index, tmp_path)
    text = requirements_text(lock, colab_like(), "0.1")
    assert "the runtime has everything the code needs" not in text
    assert "# Not installable here: nosuchpkg is not on the package index" in text


def test_an_undeclared_import_is_left_out_before_a_declared_one(
    index: FakeIndex, tmp_path: Path
) -> None:
    # A Blender script's `import bpy`: guessed, never declared, and impossible here.
    lock = lock_with(
        inventory("oldlib==2.0", imported=("needsnew", "oldlib")), colab_like(), index, tmp_path
    )
    assert [f.message.split(" ")[0] for f in lock.findings if f.code == "left-out"] == ["needsnew"]
    assert by_name(lock)["oldlib"] == ("add", None, "2.0")


def test_unsatisfiable_requirements_raise_a_blocked_error_with_a_hint() -> None:
    error = ResolutionError("tqdm<4 and hub disagree", ["tqdm", "hub"])
    assert error.exit_code == 3 and error.hint and "requirements" in error.hint


def test_pip_compile_backend_for_the_running_interpreter(index: FakeIndex, tmp_path: Path) -> None:
    runtime = this_interpreter()
    resolver = PipCompileResolver(runtime, default_runner)
    lock = lock_with(
        inventory(
            "numpy==1.16.4",
            "tqdm==4.19.0",
            "tensorboardX==1.2",
            imported=("oldlib", "numpy", "tqdm"),
        ),
        runtime,
        index,
        tmp_path,
        resolver,
        repo_date=datetime(2019, 1, 15, tzinfo=UTC),
    )
    assert lock.backend == "pip-tools"
    assert by_name(lock)["tensorboardx"] == ("add", None, "1.2")
    assert by_name(lock)["oldlib"] == ("add", None, "2.0")
    assert {d.name for d in lock.relaxed} == {"numpy", "tqdm"}


def test_past_runtime_suggested_when_the_target_needs_large_changes(
    index: FakeIndex, tmp_path: Path
) -> None:
    inv = inventory("legacy311==0.9")
    target = colab_like("3.13.1", "colab-2026.07")
    current = lock_with(inv, target, index, tmp_path / "now")
    assert current.installs == () and [f.code for f in current.findings] == ["dropped-declaration"]
    inv_imported = inventory("legacy311==0.9", imported=("legacy311",))
    current = lock_with(inv_imported, target, index, tmp_path / "now2")
    older = colab_like("3.11.9", "colab-2025.07")
    suggestion = suggest_runtime(
        current,
        target,
        [target, older],
        lambda rt: lock_with(inv_imported, rt, index, tmp_path / rt.name),
    )
    assert suggestion is not None and "2025.07 (Python 3.11)" in suggestion


def test_pins_the_code_never_imports_do_not_move_preinstalled_packages(
    index: FakeIndex, tmp_path: Path
) -> None:
    lock = lock_with(
        inventory("protobuf==3.20.3", "tqdm==4.19.0", "oldlib==1.0"),
        colab_like(),
        index,
        tmp_path,
        dependents=Dependents(),
    )
    assert by_name(lock) == {"oldlib": ("add", None, "1.0")}
    (kept,) = [f for f in lock.findings if f.code == "unimported-pins-kept"]
    assert "protobuf, tqdm" in kept.message


def test_a_full_environment_export_is_not_installed_wholesale(
    index: FakeIndex, tmp_path: Path
) -> None:
    exported = [f"pkg{n}==1.0" for n in range(20)] + ["oldlib==1.0"]
    lock = lock_with(inventory(*exported, imported=("oldlib",)), colab_like(), index, tmp_path)
    assert by_name(lock) == {"oldlib": ("add", None, "1.0")}
    (skipped,) = [f for f in lock.findings if f.code == "exported-pins-skipped"]
    assert "20 pinned packages" in skipped.message
    assert not [f for f in lock.findings if f.code == "not-on-index"]


def test_declarations_that_disagree_accept_any_of_them(index: FakeIndex, tmp_path: Path) -> None:
    inv = inventory("oldlib==1.0", "oldlib==2.0", imported=("oldlib",))
    lock = lock_with(inv, colab_like(), index, tmp_path)
    assert by_name(lock) == {"oldlib": ("add", None, "2.0")}
    (decision,) = lock.decisions
    assert "disagree" in decision.reason and decision.requirement == "oldlib==2.0"


def test_a_kept_build_from_another_index_brings_none_of_the_index_builds_dependencies(
    tmp_path: Path,
) -> None:
    # Colab's torch 2.11.0+cpu came from download.pytorch.org; PyPI's 2.11.0 needs CUDA wheels.
    world = [
        Dist("torch", "2.11.0", requires=("nvidia-cublas>=12", "filelock")),
        Dist("nvidia-cublas", "12.9"),
        Dist("filelock", "3.20"),
        Dist("addon", "0.2", requires=("torch>=2", "filelock")),
    ]
    runtime = Runtime(
        "colab-test",
        "3.13.1",
        manylinux_platforms((2, 35), "x86_64"),
        (
            InstalledDistribution(
                "torch", "2.11.0+cpu", "https://download.pytorch.org/whl/cpu/t.whl"
            ),
        ),
        is_colab=True,
    )
    with serve(world) as index:
        lock = lock_with(inventory(imported=("addon",)), runtime, index, tmp_path)
    assert {c.name: c.kind for c in lock.changes} == {
        "addon": "add",
        "filelock": "add",
        "torch": "keep",
    }


def test_compat_rules_hold_for_the_versions_the_resolver_picks(
    index: FakeIndex, tmp_path: Path
) -> None:
    # NumPy unpinned and not on the target: the resolver takes 2.x, so the 2019 release of a
    # package built against NumPy 1 (the repo date's choice) cannot stay.
    runtime = Runtime("venv", "3.13.1", manylinux_platforms((2, 35), "x86_64"), ())
    rule = CompatRule(
        "numpy2-abi",
        "Built against NumPy 1.x",
        "numpy",
        SpecifierSet(">=2"),
        (("cvthing", SpecifierSet(">=2.0"), "built against NumPy 2"),),
    )
    lock = lock_with(
        inventory("numpy", "cvthing", imported=("numpy", "cvthing")),
        runtime,
        index,
        tmp_path,
        repo_date=datetime(2019, 6, 1, tzinfo=UTC),
        dependents=Dependents(),
        rules=(rule,),
    )
    assert by_name(lock)["numpy"] == ("add", None, "2.1.3")
    assert by_name(lock)["cvthing"] == ("add", None, "2.0")
    decision = next(d for d in lock.decisions if d.name == "cvthing")
    assert "with numpy 2.1.3, cvthing needs >=2.0" in decision.reason
    assert not [f for f in lock.findings if f.code == "binary-compat-unmet"]
    # When the rest cannot take what the rule asks, the lock is the one found before, and
    # says what may fail.
    unmet = lock_with(
        inventory("numpy", "cvthing", "cvuser", imported=("numpy", "cvthing", "cvuser")),
        runtime,
        index,
        tmp_path / "unmet",
        repo_date=datetime(2019, 6, 1, tzinfo=UTC),
        dependents=Dependents(),
        rules=(rule,),
    )
    assert by_name(unmet)["cvthing"] == ("add", None, "1.0")
    (finding,) = [f for f in unmet.findings if f.code == "binary-compat-unmet"]
    assert "cvthing>=2.0" in finding.message


def shipped(*ids: str) -> tuple[CompatRule, ...]:
    return tuple(r for r in compat_rules() if r.id in ids)


def test_old_generated_protobuf_code_is_not_installed_beside_protobuf_5(
    index: FakeIndex, tmp_path: Path
) -> None:
    # tensorboardX 1.2's _pb2.py files fail with "Descriptors cannot be created directly".
    lock = lock_with(
        inventory("tensorboardX==1.2", imported=("tensorboardx",)),
        colab_like(),
        index,
        tmp_path,
        rules=shipped("protobuf4-generated-code"),
    )
    assert by_name(lock)["tensorboardx"] == ("add", None, "2.6.2")
    (relaxed,) = lock.relaxed
    assert relaxed.relaxed_from == "tensorboardx==1.2"
    assert relaxed.relaxed_because == "binary-incompatible"
    assert "with protobuf 5.29.0, tensorboardx needs >=2.6.1" in relaxed.reason


def test_a_working_seaborn_is_not_downgraded_to_one_matplotlib_breaks(
    index: FakeIndex, tmp_path: Path
) -> None:
    installed = {**PREINSTALLED, "matplotlib": "3.10.0", "seaborn": "0.13.2"}
    runtime = replace(
        colab_like(),
        distributions=tuple(InstalledDistribution(n, v) for n, v in installed.items()),
    )
    lock = lock_with(
        inventory("seaborn==0.11.2", imported=("seaborn",)),
        runtime,
        index,
        tmp_path,
        rules=shipped("matplotlib39-colormap-registry"),
    )
    assert lock.installs == ()
    (relaxed,) = lock.relaxed
    assert relaxed.relaxed_because == "binary-incompatible"
    assert "with matplotlib 3.10.0, seaborn needs >=0.12.0" in relaxed.reason


# gymnasium's extras: pygame for classic-control, oldlib for "toy", a package that is not on
# the index for "broken".
GYM_WORLD = [
    Dist(
        "gymnasium",
        "1.0.0",
        requires=(
            "numpy>=1.21",
            'pygame>=2.1.3; extra == "classic-control"',
            'oldlib>=2; extra == "toy"',
            'nosuchdep; extra == "broken"',
        ),
        uploaded="2024-10-08T00:00:00Z",
    ),
    Dist("numpy", "2.1.3", uploaded="2024-11-02T00:00:00Z"),
    Dist("pygame", "2.6.1", uploaded="2024-09-29T00:00:00Z"),
    Dist("oldlib", "2.0", uploaded="2019-03-10T00:00:00Z"),
]


def with_gymnasium(runtime: Runtime) -> Runtime:
    gymnasium = InstalledDistribution("gymnasium", "1.0.0")
    return replace(runtime, distributions=(*runtime.distributions, gymnasium))


@pytest.mark.parametrize("backend", ["uv", "pip-tools"])
def test_an_extra_of_a_preinstalled_package_adds_its_dependencies_and_keeps_it(
    tmp_path: Path, backend: str
) -> None:
    runtime = with_gymnasium(colab_like() if backend == "uv" else this_interpreter())
    resolver = PipCompileResolver(runtime, default_runner) if backend == "pip-tools" else None
    with serve(GYM_WORLD) as index:
        lock = lock_with(
            inventory("gymnasium[classic-control]", imported=("gymnasium",)),
            runtime,
            index,
            tmp_path,
            resolver,
        )
    assert by_name(lock) == {
        "gymnasium": ("keep", "1.0.0", "1.0.0"),
        "numpy": ("keep", "2.1.3", "2.1.3"),
        "pygame": ("add", None, "2.6.1"),
    }
    (decision,) = lock.decisions
    assert decision.requirement == "gymnasium==1.0.0" and decision.extras == ("classic-control",)
    assert decision.rule == "runtime" and not lock.relaxed and lock.restart == ()
    text = requirements_text(lock, runtime, "0.1")
    pins = [line for line in text.splitlines() if not line.startswith("#")]
    assert pins == ["pygame==2.6.1  # needed by gymnasium"]


def test_extras_of_several_declarations_are_merged(index: FakeIndex, tmp_path: Path) -> None:
    inv = inventory("gymnasium[classic-control]>=1", imported=("gymnasium",))
    notebook = DeclaredRequirement(
        "gymnasium",
        Location("demo.ipynb", 2),
        "notebook",
        extras=("toy",),
        original="gymnasium[toy]",
    )
    inv = replace(inv, requirements=(*inv.requirements, notebook))
    with serve(GYM_WORLD) as served:
        lock = lock_with(inv, colab_like(), served, tmp_path)
    assert by_name(lock) == {
        "gymnasium": ("add", None, "1.0.0"),
        "numpy": ("keep", "2.1.3", "2.1.3"),
        "oldlib": ("add", None, "2.0"),
        "pygame": ("add", None, "2.6.1"),
    }
    (decision,) = lock.decisions
    assert decision.extras == ("classic-control", "toy")
    text = requirements_text(lock, colab_like(), "0.1")
    pins = sorted(line.split("  #")[0] for line in text.splitlines() if line[:1].isalpha())
    assert pins == ["gymnasium==1.0.0", "oldlib==2.0", "pygame==2.6.1"]


def test_an_extra_that_cannot_install_is_left_out_not_the_package(tmp_path: Path) -> None:
    runtime = with_gymnasium(colab_like())
    with serve(GYM_WORLD) as index:
        lock = lock_with(
            inventory("gymnasium[broken,classic-control]", imported=("gymnasium",)),
            runtime,
            index,
            tmp_path,
        )
    # uv names the extra that fails (`gymnasium[broken]`): only that one goes.
    assert by_name(lock) == {
        "gymnasium": ("keep", "1.0.0", "1.0.0"),
        "numpy": ("keep", "2.1.3", "2.1.3"),
        "pygame": ("add", None, "2.6.1"),
    }
    (finding,) = [f for f in lock.findings if f.code == "left-out"]
    assert finding.message.startswith(
        "gymnasium's extra broken is left out of the lock (gymnasium itself is not): "
    )
    assert "nosuchdep" in finding.message and "pip install 'gymnasium[broken]'" in finding.message
    assert str(finding.location) == "requirements.txt:1"
    (decision,) = lock.decisions
    assert decision.extras == ("classic-control",)


def test_a_changed_extra_locks_again_and_extras_survive_a_stored_lock() -> None:
    gym = Need("gymnasium", ">=1", extras=("classic-control",))
    inputs = LockInputs((gym,), colab_like(), "uv", None, "0.1", None)
    assert inputs.digest() == replace(inputs).digest()
    assert inputs.digest() != replace(inputs, needs=(replace(gym, extras=("box2d",)),)).digest()
    assert inputs.digest() != replace(inputs, needs=(replace(gym, extras=()),)).digest()
    decision = Decision("gymnasium", "gymnasium==1.0.0", "runtime", "r", extras=("box2d",))
    url = Need("gym", url="git+https://example.org/gym", reasons=("r",), extras=("atari",))
    stored = Lock("colab-test", "uv", "3.13.1", (), (decision,), (url,), (), ())
    again = lock_from(json.loads(json.dumps(lock_document(stored))))
    assert again.decisions == (decision,) and again.direct_urls[0].extras == ("atari",)
    # A lock stored before extras were kept reads as one without them.
    old = lock_document(stored)
    for d in old["decisions"]:
        del d["extras"]
    assert lock_from(old).decisions[0].extras == ()
    text = requirements_text(stored, colab_like(), "0.1")
    assert "gym[atari] @ git+https://example.org/gym  # r" in text
