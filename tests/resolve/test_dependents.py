from __future__ import annotations

from envfix.model import InstalledDistribution, Runtime
from envfix.resolve.dependents import from_requirements, shipped_requirements
from envfix.runtime import load_profile, manylinux_platforms


def runtime(python: str = "3.13.1") -> Runtime:
    return Runtime("t", python, manylinux_platforms((2, 35), "x86_64"), ())


def test_dependents_that_a_version_would_break() -> None:
    deps = from_requirements(
        {
            ("hub", "1.0"): ["tqdm>=4.42.1", 'colorama; platform_system == "Windows"'],
            ("other", "2.0"): ["tqdm", "numpy<2; python_version < '3.9'"],
            ("extra-user", "1.0"): ['tqdm<4; extra == "old"'],
        },
        runtime(),
    )
    assert deps.excluding("tqdm", "4.19.5") == ["hub 1.0 (needs tqdm>=4.42.1)"]
    assert deps.excluding("tqdm", "4.67.3") == []
    assert deps.excluding("tqdm", "4.19.5", ignore={"hub"}) == []
    assert deps.excluding("colorama", "0.1") == []  # a Windows-only requirement
    assert deps.excluding("numpy", "2.1.3") == []  # only for old Pythons


def test_shipped_metadata_covers_the_newest_colab() -> None:
    colab = load_profile("colab")
    requires = shipped_requirements(colab)
    assert len(requires) > 0.9 * len(colab.distributions)
    deps = from_requirements(requires, colab)
    broken = deps.excluding("tqdm", "4.19.5")
    assert any(entry.startswith("huggingface-hub ") for entry in broken)
    numpy_one = deps.excluding("numpy", "1.26.4")
    assert numpy_one, "Colab's packages built for NumPy 2 refuse NumPy 1.26"


def test_unknown_versions_have_no_metadata() -> None:
    rt = Runtime("t", "3.13.1", (), (InstalledDistribution("numpy", "0.0.1"),))
    assert shipped_requirements(rt) == {}
