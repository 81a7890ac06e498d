"""Installing envfix into Colab must not move any package Colab already has."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from envfix.model import Runtime
from envfix.runtime import load_profile, profile_names

ROOT = Path(__file__).resolve().parent.parent


def install_requires() -> list[Requirement]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    return [
        Requirement(line) for line in lines if line.strip() and not line.strip().startswith("#")
    ]


def target_environment(rt: Runtime) -> dict[str, str]:
    env = dict(default_environment())
    env.update(
        python_version=rt.python_minor,
        python_full_version=rt.python_version,
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
        os_name="posix",
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    return env


def conflicts(requirements: list[Requirement], rt: Runtime) -> list[str]:
    problems = []
    for req in requirements:
        installed = rt.version_of(canonicalize_name(req.name))
        if installed is None or (req.marker and not req.marker.evaluate(target_environment(rt))):
            continue
        if not req.specifier.contains(Version(installed), prereleases=True):
            problems.append(f"{req} excludes {rt.name}'s {req.name} {installed}")
    return problems


@pytest.mark.parametrize("profile", [n for n in profile_names() if not n.endswith("-gpu")])
def test_direct_requirements_admit_every_colab_version(profile: str) -> None:
    assert conflicts(install_requires(), load_profile(profile)) == []


def new_requirements(root: str, rt: Runtime) -> list[Requirement]:
    """What installing `root` asks of the runtime, walked the way pip installs it.

    pip keeps an installed distribution that satisfies a requirement (its default upgrade
    strategy is only-if-needed), so the walk stops at distributions the runtime has; those
    it lacks come in at their newest version, as installed in this test environment.
    """
    found: list[Requirement] = []
    seen: set[str] = set()
    queue = [root]
    env = {**target_environment(rt), "extra": ""}
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            # Needed only on the target's Python (libcst needs pyyaml-ft on 3.13), so not
            # installed here: its own requirements are checked by the network test.
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker and not req.marker.evaluate(env):
                continue
            found.append(req)
            dependency = canonicalize_name(req.name)
            if rt.version_of(dependency) is None:
                queue.append(dependency)
    return found


@pytest.mark.parametrize("profile", [n for n in profile_names() if not n.endswith("-gpu")])
def test_new_dependencies_admit_every_colab_version(profile: str) -> None:
    rt = load_profile(profile)
    assert conflicts(new_requirements("envfix", rt), rt) == []


def test_pipdeptree_cap_matches_colabs_pip() -> None:
    # pipdeptree 2.23.2 and newer require pip>=24.2; every Colab profile has pip 24.1.2.
    (pipdeptree,) = [r for r in install_requires() if r.name == "pipdeptree"]
    assert not pipdeptree.specifier.contains("2.23.2")
    assert pipdeptree.specifier.contains("2.23.1")
    for name in profile_names():
        assert load_profile(name).version_of("pip") == "24.1.2"


@pytest.mark.network
@pytest.mark.parametrize("profile", ["colab", "colab-2026.07", "colab-2025.07"])
def test_real_resolution_for_colab_changes_nothing(profile: str, tmp_path: Path) -> None:
    """uv resolves envfix for the profile's Python with every Colab package pinned as it is."""
    from uv import find_uv_bin

    uv = find_uv_bin()
    rt = load_profile(profile)
    constraints = tmp_path / "colab.txt"
    constraints.write_text(
        "\n".join(
            f"{d.name}=={d.version.split('+')[0]}"
            for d in rt.distributions
            if d.version and not d.url and d.name != "envfix"
        )
    )
    requirements = tmp_path / "envfix.txt"
    requirements.write_text("\n".join(str(r) for r in install_requires()))
    result = subprocess.run(
        [
            uv,
            "pip",
            "compile",
            str(requirements),
            "--constraint",
            str(constraints),
            "--python-version",
            rt.python_minor,
            "--python-platform",
            "x86_64-manylinux_2_35",
            "--no-header",
            "--quiet",
            "--index-url",
            "https://pypi.org/simple",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_wheel_carries_the_data_files(tmp_path: Path) -> None:
    """A wheel built from the source tree has the profiles and maps the library reads."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("envfix-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "envfix/data/profiles/colab.json" in names
    for data in ("import_map", "requires", "binary_compat", "distributions", "conda_names"):
        assert f"envfix/data/{data}.json" in names
    assert "envfix/py.typed" in names
    assert any(name.startswith("envfix/catalogue/") and name.endswith(".yaml") for name in names)
    profile = json.loads(zipfile.ZipFile(wheel).read("envfix/data/profiles/colab.json"))
    assert profile["name"] == "colab"
