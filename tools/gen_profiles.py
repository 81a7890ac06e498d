"""Generate envfix's bundled Colab runtime profiles from Colab's published package lists.

    python tools/gen_profiles.py [--source ../shared/colab-runtimes] [--out envfix/data/profiles]

Each folder of the source (one per Colab runtime version, `latest` the newest) holds
`pip-freeze.txt` (and `pip-freeze.gpu.txt` where the GPU runtime was published apart),
`os-info.txt` and `apt-list.txt`; its README's table gives the backend-info commit and date.
The output is one JSON file per profile: `colab`, `colab-gpu`, `colab-2026.07`,
`colab-2026.07-gpu`, ... Deterministic: the same input gives byte-identical files, and
tests/test_profiles_generated.py checks the committed files against a fresh run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envfix.runtime import cuda_from_distributions, parse_freeze

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "colab-runtimes"
DEFAULT_OUT = ROOT / "envfix" / "data" / "profiles"
PROFILE_SCHEMA = 1
_DEBIAN_TO_MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}


@dataclass(frozen=True)
class Snapshot:
    folder: str
    commit: str
    released: str


def read_table(readme: Path) -> dict[str, Snapshot]:
    """The `| folder | backend-info commit | date | ...` table of the source README."""
    rows: dict[str, Snapshot] = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[0-9a-f]{40}", cells[1]):
            rows[cells[0]] = Snapshot(cells[0], cells[1], cells[2])
    return rows


def _data_lines(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def read_os_info(path: Path) -> tuple[str, str]:
    """(OS description, Python version) from `lsb_release -ds; python --version` output."""
    lines = _data_lines(path)
    python = next(line.split()[1] for line in lines if line.startswith("Python "))
    return lines[0], python


def read_apt(path: Path) -> tuple[dict[str, str], str, str]:
    """(package -> version, glibc version, machine) from `apt list --installed` output."""
    packages: dict[str, str] = {}
    glibc = machine = ""
    for line in _data_lines(path):
        m = re.match(r"^([^/\s]+)/\S+\s+(\S+)\s+(\S+)", line)
        if not m:
            continue
        name, version, arch = m.groups()
        packages[name] = version
        if name == "libc6":
            glibc = ".".join(version.split("-")[0].split(".")[:2])
            machine = _DEBIAN_TO_MACHINE.get(arch, arch)
    if not glibc:
        raise SystemExit(f"{path}: no libc6 line, cannot tell the glibc version")
    return dict(sorted(packages.items())), glibc, machine


def build_profile(
    source: Path, snapshot: Snapshot, freeze_name: str, gpu: bool, shared: bool
) -> dict[str, Any]:
    folder = source / snapshot.folder
    freeze = folder / freeze_name
    gpu_info = folder / "os-info-gpu.txt"
    os_info = gpu_info if gpu and gpu_info.exists() else folder / "os-info.txt"
    os_desc, python = read_os_info(os_info)
    apt, glibc, machine = read_apt(folder / "apt-list.txt")
    dists, unreadable = parse_freeze(freeze.read_text(encoding="utf-8"))
    if unreadable:
        raise SystemExit(f"{freeze}: cannot read lines {[u.line for u in unreadable]}")
    base = "colab" if snapshot.folder == "latest" else f"colab-{snapshot.folder}"
    notes = []
    if shared:
        notes.append(
            "Colab published one package list for this version; its CPU and GPU runtimes"
            " shared that image (CUDA builds included)."
        )
    return {
        "schema_version": PROFILE_SCHEMA,
        "name": f"{base}-gpu" if gpu else base,
        "colab_version": snapshot.folder,
        "released": snapshot.released,
        "backend_info_commit": snapshot.commit,
        "source": f"googlecolab/backend-info@{snapshot.commit[:12]}"
        f" {snapshot.folder}/{freeze_name}",
        "os": os_desc,
        "python_version": python,
        "glibc": glibc,
        "machine": machine,
        "accelerator": "gpu" if gpu else "cpu",
        "cuda": cuda_from_distributions(dists),
        "notes": notes,
        "distributions": [
            {
                key: value
                for key, value in (
                    ("name", d.name),
                    ("display_name", d.display_name),
                    ("version", d.version),
                    ("url", d.url),
                )
                if value is not None
            }
            for d in dists
        ],
        "apt": apt,
    }


def generate(source: Path) -> dict[str, str]:
    """File name -> file text for every profile the source describes."""
    table = read_table(source / "README.md")
    files: dict[str, str] = {}
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        if folder.name not in table:
            raise SystemExit(f"{folder}: no row for it in {source / 'README.md'}")
        snapshot = table[folder.name]
        gpu_freeze = folder / "pip-freeze.gpu.txt"
        shared = not gpu_freeze.exists()
        variants = [
            ("pip-freeze.txt", False),
            (gpu_freeze.name if not shared else "pip-freeze.txt", True),
        ]
        for freeze_name, gpu in variants:
            doc = build_profile(source, snapshot, freeze_name, gpu, shared)
            files[f"{doc['name']}.json"] = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not (args.source / "README.md").exists():
        print(f"error: {args.source} has no README.md; pass --source", file=sys.stderr)
        return 2
    files = generate(args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} profiles to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
