from __future__ import annotations

from pathlib import Path

from tools.gen_profiles import DEFAULT_OUT, DEFAULT_SOURCE, generate, read_apt, read_os_info

SHARED = DEFAULT_SOURCE


def test_committed_profiles_are_what_the_generator_makes() -> None:
    # ../shared/colab-runtimes is beside every checkout (CI included); without it this fails.
    assert (SHARED / "README.md").exists(), f"{SHARED} is missing"
    generated = generate(SHARED)
    committed = {p.name: p.read_text(encoding="utf-8") for p in DEFAULT_OUT.glob("*.json")}
    assert sorted(committed) == sorted(generated)
    for name, text in generated.items():
        assert committed[name] == text, f"{name} differs: run python tools/gen_profiles.py"


def test_every_published_folder_becomes_a_profile() -> None:
    folders = [p.name for p in SHARED.iterdir() if p.is_dir()]
    names = set(generate(SHARED))
    for folder in folders:
        base = "colab" if folder == "latest" else f"colab-{folder}"
        assert f"{base}.json" in names and f"{base}-gpu.json" in names


def test_os_info_and_apt_readers(tmp_path: Path) -> None:
    os_info = tmp_path / "os-info.txt"
    os_info.write_text("# generated\nUbuntu 22.04.5 LTS\nPython 3.13.15\nR version 4.5\n")
    assert read_os_info(os_info) == ("Ubuntu 22.04.5 LTS", "3.13.15")
    apt = tmp_path / "apt-list.txt"
    apt.write_text(
        "Listing...\n"
        "libc6/jammy-updates,now 2.35-0ubuntu3.14 amd64 [installed]\n"
        "ffmpeg/jammy,now 7:4.4.2-0ubuntu0.22.04.1 amd64 [installed]\n"
    )
    packages, glibc, machine = read_apt(apt)
    assert (glibc, machine) == ("2.35", "x86_64")
    assert packages["ffmpeg"] == "7:4.4.2-0ubuntu0.22.04.1"
