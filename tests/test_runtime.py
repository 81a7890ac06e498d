from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from packaging.tags import Tag

from envfix.errors import UnknownTargetError
from envfix.model import InstalledDistribution
from envfix.runtime import (
    LIVE,
    cuda_from_distributions,
    detect_live,
    in_colab,
    inspect_interpreter,
    load_freeze_file,
    load_profile,
    manylinux_platforms,
    parse_freeze,
    profile_names,
    resolve_target,
    supported_tags,
    version_from_url,
)

FREEZE = """\
# a comment
absl-py==1.4.0
PyYAML==6.0.3
torch @ https://download.pytorch.org/whl/cpu/torch-2.11.0%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl
google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz
jupyter_kernel_gateway @ git+https://github.com/googlecolab/kernel_gateway@b134e99
-e git+https://github.com/me/tool.git@abc#egg=my_tool
this is not a requirement
"""


def test_parse_freeze_keeps_local_labels_and_urls() -> None:
    dists, unreadable = parse_freeze(FREEZE)
    by_name = {d.name: d for d in dists}
    assert by_name["pyyaml"] == InstalledDistribution("pyyaml", "6.0.3", None, "PyYAML")
    assert by_name["torch"].version == "2.11.0+cpu"
    assert by_name["torch"].url and by_name["torch"].url.startswith("https://download.pytorch")
    assert by_name["google-colab"].version == "1.0.0"
    assert by_name["jupyter-kernel-gateway"].version is None
    assert by_name["my-tool"].version is None
    assert [u.line for u in unreadable] == [8]


def test_version_from_url() -> None:
    assert version_from_url(
        "https://x/torchvision-0.26.0%2Bcu128-cp313-cp313-linux_x86_64.whl"
    ) == ("0.26.0+cu128")
    assert version_from_url("git+https://github.com/a/b@main") is None


def test_cuda_version_from_torch_label_or_runtime_wheel() -> None:
    assert cuda_from_distributions([InstalledDistribution("torch", "2.11.0+cu128")]) == "12.8"
    assert cuda_from_distributions([InstalledDistribution("torch", "2.6.0+cu124")]) == "12.4"
    assert cuda_from_distributions([InstalledDistribution("torch", "2.11.0+cpu")]) is None
    runtime_wheel = InstalledDistribution("nvidia-cuda-runtime-cu12", "12.6.77")
    assert cuda_from_distributions([runtime_wheel]) == "12.6"


def test_manylinux_platforms_follow_pep_600() -> None:
    platforms = manylinux_platforms((2, 35), "x86_64")
    assert platforms[0] == "manylinux_2_35_x86_64"
    assert platforms[-1] == "linux_x86_64"
    assert "manylinux2014_x86_64" in platforms and "manylinux1_x86_64" in platforms
    assert platforms.index("manylinux_2_17_x86_64") + 1 == platforms.index("manylinux2014_x86_64")


def test_bundled_profiles_cover_every_published_runtime() -> None:
    names = profile_names()
    assert names[:2] == ["colab", "colab-gpu"]
    for version in ("2026.07", "2026.04", "2026.01", "2025.10", "2025.07"):
        assert f"colab-{version}" in names and f"colab-{version}-gpu" in names
    dates = [load_profile(n).released or "" for n in names]
    assert dates == sorted(dates, reverse=True)


def test_newest_profile_matches_colabs_published_list() -> None:
    colab = load_profile("colab")
    assert colab.python_version == "3.13.15"
    assert colab.version_of("numpy") == "2.1.3"
    assert colab.version_of("torch") == "2.11.0+cpu"
    assert colab.installed["torch"].url
    assert colab.accelerator == "cpu" and colab.cuda is None and colab.is_colab
    gpu = load_profile("colab-gpu")
    assert gpu.accelerator == "gpu" and gpu.cuda == "12.8"
    assert gpu.version_of("torch") == "2.11.0+cu128"
    old = load_profile("colab-2025.07-gpu")
    assert old.python_minor == "3.11" and old.cuda == "12.4"
    assert any("one package list" in note for note in old.notes)


def test_profile_tags_are_for_the_target_python_not_this_one() -> None:
    tags = supported_tags(load_profile("colab"))
    assert tags[0] == Tag("cp313", "cp313", "manylinux_2_35_x86_64")
    assert Tag("cp313", "abi3", "manylinux2014_x86_64") in tags
    assert Tag("py3", "none", "any") in tags
    assert not any(t.interpreter == "cp311" and t.abi == "cp311" for t in tags)


def test_live_runtime_is_this_interpreter() -> None:
    live = detect_live()
    assert live.name == LIVE
    assert live.python_version.startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
    assert "packaging" in live.installed
    assert live.interpreter == sys.executable
    assert supported_tags(live)[0].interpreter.startswith("cp3")


def test_colab_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert not in_colab()
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20260819-060000_RC00")
    assert in_colab()
    assert resolve_target(None).name == LIVE


def test_default_target_off_colab_is_the_newest_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert resolve_target(None).name == "colab"


def test_target_from_a_freeze_file(tmp_path: Path) -> None:
    freeze = tmp_path / "freeze.txt"
    freeze.write_text(FREEZE)
    rt = resolve_target(str(freeze))
    assert rt.python_version == "3.13"  # read from the cp313 wheel URL
    assert rt.version_of("absl-py") == "1.4.0"
    assert any("line 8" in note for note in rt.notes)
    plain = tmp_path / "plain.txt"
    plain.write_text("numpy==1.26.4\n")
    rt = load_freeze_file(plain)
    assert rt.python_version == load_profile("colab").python_version
    assert any("assumed" in note for note in rt.notes)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(UnknownTargetError, match="lists no packages"):
        resolve_target(str(empty))


def test_target_from_an_interpreter_and_a_venv(tmp_path: Path) -> None:
    rt = resolve_target(sys.executable)
    assert rt.interpreter and Path(rt.interpreter).name.startswith("python")
    assert "packaging" in rt.installed
    venv_root = Path(sys.prefix)
    if (venv_root / "pyvenv.cfg").exists():
        assert resolve_target(str(venv_root)).python_version == rt.python_version


def test_interpreter_that_is_not_python(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho nope >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(UnknownTargetError, match="did not run as a Python interpreter"):
        inspect_interpreter(fake)


def test_unknown_target_lists_the_choices() -> None:
    with pytest.raises(UnknownTargetError) as info:
        resolve_target("colab-1999.01")
    assert info.value.hint and "colab-2026.07-gpu" in info.value.hint


@pytest.mark.skipif(os.name != "posix", reason="posix paths")
def test_load_profile_unknown() -> None:
    with pytest.raises(UnknownTargetError):
        load_profile("nope")
