"""The committed `envfix/data/requires.json`, and the generator's choices on a cache made here.

Only the test marked `network` reaches PyPI; the others read the committed file, or run the
generator on a cache written by the test with the network calls replaced by ones that fail.
"""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

import tools.gen_import_map
import tools.gen_requires
from envfix.scanner.wheelfiles import ByteRange
from tools.gen_requires import DEFAULT_OUT, PROFILES, build, main, profile_targets, render

SKIPPED_HOSTS = ("download.pytorch.org", "pypi.nvidia.com")
"""The hosts the committed file was made without (not reachable where it was made)."""


@pytest.fixture(scope="module")
def requires() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DEFAULT_OUT.read_text(encoding="utf-8"))
    return doc


def _profile(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((PROFILES / f"{name}.json").read_text(encoding="utf-8"))
    return doc


def _entry(requires: dict[str, Any], profile: str, name: str) -> dict[str, Any]:
    (version,) = [d["version"] for d in _profile(profile)["distributions"] if d["name"] == name]
    entry: dict[str, Any] = requires["distributions"][name][version]
    return entry


def _unconditional(entry: dict[str, Any]) -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in entry["requires_dist"]]
    return {canonicalize_name(r.name): r for r in reqs if r.marker is None}


# --- the committed file -----------------------------------------------------------------


def test_every_profile_distribution_is_covered(requires: dict[str, Any]) -> None:
    assert requires["schema_version"] == 1
    distributions = requires["distributions"]
    unavailable = requires["unavailable"]
    missing = []
    for path in sorted(PROFILES.glob("*.json")):
        for dist in json.loads(path.read_text(encoding="utf-8"))["distributions"]:
            name = canonicalize_name(dist["name"])
            version = dist.get("version")
            key = f"{name}=={version}" if version else name
            if version not in distributions.get(name, {}) and key not in unavailable:
                missing.append(f"{path.name}: {key}")
    assert not missing


def test_nothing_is_both_read_and_unavailable(requires: dict[str, Any]) -> None:
    read = {f"{n}=={v}" for n, versions in requires["distributions"].items() for v in versions}
    assert not read & set(requires["unavailable"])
    # And nothing beyond the profiles: the file holds exactly their pairs.
    pairs = {t.key for t in profile_targets(PROFILES)}
    assert read | set(requires["unavailable"]) == pairs


def test_huggingface_hub_needs_a_recent_tqdm(requires: dict[str, Any]) -> None:
    tqdm = _unconditional(_entry(requires, "colab", "huggingface-hub"))["tqdm"]
    lower = [Version(s.version) for s in tqdm.specifier if s.operator in (">=", ">", "~=", "==")]
    assert lower and max(lower) > Version("4.19")
    assert not tqdm.specifier.contains("4.19.0")


def test_scikit_learn_needs_numpy_and_scipy(requires: dict[str, Any]) -> None:
    entry = _entry(requires, "colab", "scikit-learn")
    assert {"numpy", "scipy"} <= set(_unconditional(entry))
    assert entry["requires_python"] is not None
    assert entry["source"].startswith("scikit_learn-") and "cp313" in entry["source"]


def test_markers_and_extras_are_kept(requires: dict[str, Any]) -> None:
    lines = _entry(requires, "colab", "tqdm")["requires_dist"]
    assert any("extra ==" in line for line in lines)
    assert any("platform_system" in line for line in lines)


def test_every_requirement_and_python_range_parses(requires: dict[str, Any]) -> None:
    for name, versions in requires["distributions"].items():
        for version, entry in versions.items():
            assert set(entry) == {"requires_dist", "requires_python", "source"}
            for line in entry["requires_dist"]:
                Requirement(line)
            if entry["requires_python"] is not None:
                SpecifierSet(entry["requires_python"])
            assert entry["source"].endswith(".whl"), f"{name}=={version}"


def test_reasons_for_the_unavailable(requires: dict[str, Any]) -> None:
    unavailable = requires["unavailable"]
    assert unavailable["google-colab==1.0.0"] == "installed from file URL"
    assert unavailable["jupyter-kernel-gateway"] == "installed from git URL"
    assert all(reason for reason in unavailable.values())


def test_committed_file_is_rendered_deterministically(requires: dict[str, Any]) -> None:
    assert DEFAULT_OUT.read_text(encoding="utf-8") == render(requires)


# --- the generator, offline ---------------------------------------------------------------


def _no_network(*args: object) -> Any:
    raise urllib.error.URLError("no network in this test")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_range(url: str, byte_range: ByteRange) -> bytes:
        raise urllib.error.URLError(f"no network in this test: {url}")

    monkeypatch.setattr(tools.gen_requires, "index_document", _no_network)
    monkeypatch.setattr(tools.gen_import_map, "http_range", no_range)
    monkeypatch.setattr(tools.gen_import_map, "ATTEMPTS", 1)


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")


TORCH_URL = (
    "https://download.pytorch.org/whl/cpu/torch-2.11.0%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl"
)


def _profiles(folder: Path) -> Path:
    dists = [
        {"name": "Demo_Pkg", "version": "1.0"},
        {"name": "torch", "version": "2.11.0+cpu", "url": TORCH_URL},
        {"name": "colabtool", "version": "1.0", "url": "file:///tmp/colabtool-1.0.tar.gz"},
        {"name": "gateway", "url": "git+https://example.com/gateway@abc"},
        {"name": "sdistonly", "version": "2.0"},
    ]
    base = {"released": "2026-01-01", "python_version": "3.13.1", "glibc": "2.35"}
    _write(folder / "new.json", {**base, "name": "new", "distributions": dists})
    old = {**base, "name": "old", "released": "2025-01-01", "python_version": "3.11.2"}
    _write(folder / "old.json", {**old, "distributions": [{"name": "demo-pkg", "version": "0.9"}]})
    return folder


def _index(cache: Path, name: str, version: str, filenames: list[str]) -> None:
    files = [
        {"filename": f, "url": f"https://files.example/{f}", "size": 10_000, "yanked": False}
        for f in filenames
    ]
    _write(cache / "index" / f"{name}=={version}.json", {"files": files})


def _metadata(cache: Path, host: str, filename: str, headers: str) -> None:
    entry = {"filename": filename, "headers": headers, "member": "x", "size": 10_000, "url": ""}
    _write(cache / "metadata" / host / f"{filename}.json", entry)


def test_generator_chooses_wheels_and_records_reasons(tmp_path: Path, offline: None) -> None:
    profiles = _profiles(tmp_path / "profiles")
    cache = tmp_path / "cache"
    demo_wheels = [
        "demo_pkg-1.0-py3-none-any.whl",
        "demo_pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.whl",
        "demo_pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "demo_pkg-1.0.tar.gz",
    ]
    _index(cache, "demo-pkg", "1.0", demo_wheels)
    _index(cache, "demo-pkg", "0.9", ["demo_pkg-0.9-cp311-cp311-win_amd64.whl"])
    _index(cache, "sdistonly", "2.0", ["sdistonly-2.0.tar.gz"])
    host = "files.example"
    headers = (
        "Name: demo-pkg\nVersion: 1.0\nRequires-Python: >=3.9\n"
        'Requires-Dist: numpy>=1.22\nRequires-Dist: torch; extra == "torch"\n'
    )
    _metadata(cache, host, demo_wheels[1], headers)
    _metadata(cache, host, "demo_pkg-0.9-cp311-cp311-win_amd64.whl", "Name: demo-pkg\n")
    torch_wheel = "torch-2.11.0+cpu-cp313-cp313-manylinux_2_28_x86_64.whl"
    _metadata(cache, "download.pytorch.org", torch_wheel, "Requires-Dist: filelock\n")

    doc = build(cache, 4, profiles=profiles).document
    assert doc["distributions"] == {
        "demo-pkg": {
            "1.0": {
                # The wheel for the profile's Python, before the pure one.
                "requires_dist": ["numpy>=1.22", 'torch; extra == "torch"'],
                "requires_python": ">=3.9",
                "source": demo_wheels[1],
            },
            # Any wheel of the version when none fits.
            "0.9": {
                "requires_dist": [],
                "requires_python": None,
                "source": "demo_pkg-0.9-cp311-cp311-win_amd64.whl",
            },
        },
        "torch": {
            "2.11.0+cpu": {
                "requires_dist": ["filelock"],
                "requires_python": None,
                "source": torch_wheel,
            }
        },
    }
    assert doc["unavailable"] == {
        "colabtool==1.0": "installed from file URL",
        "gateway": "installed from git URL",
        "sdistonly==2.0": "sdist only",
    }


def test_a_skipped_host_reads_from_pypi(tmp_path: Path, offline: None) -> None:
    profiles = _profiles(tmp_path / "profiles")
    cache = tmp_path / "cache"
    pypi_torch = "torch-2.11.0-cp313-cp313-manylinux_2_28_x86_64.whl"
    _index(cache, "torch", "2.11.0", [pypi_torch])
    _metadata(cache, "files.example", pypi_torch, "Requires-Dist: filelock\n")
    for name, version in [("demo-pkg", "1.0"), ("demo-pkg", "0.9"), ("sdistonly", "2.0")]:
        _write(cache / "index" / f"{name}=={version}.json", {"missing": "not on PyPI"})
    doc = build(cache, 2, frozenset({"download.pytorch.org"}), profiles=profiles).document
    assert doc["distributions"]["torch"]["2.11.0+cpu"]["source"] == pypi_torch
    assert doc["unavailable"]["demo-pkg==1.0"] == "not on PyPI"


def test_a_failed_fetch_stops_the_run(tmp_path: Path, offline: None) -> None:
    profiles = _profiles(tmp_path / "profiles")
    with pytest.raises(SystemExit, match="could not fetch") as caught:
        build(tmp_path / "cache", 2, profiles=profiles)
    message = str(caught.value)
    assert "torch==2.11.0+cpu" in message and "demo-pkg==1.0" in message
    assert "--skip-host download.pytorch.org" in message


# --- against PyPI -------------------------------------------------------------------------


@pytest.mark.network
def test_regenerating_gives_the_committed_file(tmp_path: Path) -> None:
    out = tmp_path / "requires.json"
    skip = [arg for host in SKIPPED_HOSTS for arg in ("--skip-host", host)]
    assert main(["--out", str(out), *skip]) == 0
    assert out.read_bytes() == DEFAULT_OUT.read_bytes()
