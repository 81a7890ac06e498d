"""Install the lock into the target environment, give it a kernel, and check it.

Off Colab the target is a virtual environment under the clone (`.envfix/venv`), made from
the interpreter envfix runs on, so a user's own Python is never changed unless they ask.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from envfix.errors import EnvironmentProblemError
from envfix.model import InstallReport, Runtime
from envfix.resolve.backends import uv_binary
from envfix.resolve.policy import public_version
from envfix.runner import Runner

VENV_DIR = "venv"
_PIN = re.compile(r"^\s*([^#\s][^#]*?)\s*(?:#.*)?$")


def venv_python(state_dir: Path) -> Path:
    return venv_python_of(state_dir / VENV_DIR)


def ensure_venv(
    state_dir: Path,
    runner: Runner,
    base_python: str | None = None,
    base_venv: Path | None = None,
) -> Path:
    """The interpreter of `.envfix/venv`, made from `base_python` (envfix's own) if absent.
    With `base_venv`, the new environment also sees that one's packages (a batch's shared,
    seeded base): what the lock adds on top lands in this environment only."""
    python = venv_python(state_dir)
    if python.exists():
        return python
    made = make_venv(state_dir / VENV_DIR, runner, base_python)
    if base_venv is not None:
        base = site_packages(venv_python_of(base_venv), runner)
        (site_packages(made, runner) / BASE_LINK).write_text(f"{base}\n", encoding="utf-8")
    return made


BASE_LINK = "_envfix_base.pth"
"""The file that puts a shared base's site-packages on an environment's path."""

SEED_PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "matplotlib", "pillow", "tqdm")
"""What a batch's shared base is seeded with: what most paper repos import, at the target
profile's versions."""


def venv_python_of(folder: Path) -> Path:
    return folder / "bin" / "python"


def make_venv(folder: Path, runner: Runner, base_python: str | None = None) -> Path:
    python = venv_python_of(folder)
    if python.exists():
        return python
    result = runner([base_python or sys.executable, "-m", "venv", str(folder)], timeout=300)
    if not result.ok or not python.exists():
        raise EnvironmentProblemError(
            f"could not make a virtual environment in {folder}: {_last_line(result.stderr)}",
            hint="install the venv module (on Debian: apt install python3-venv)",
        )
    return python


def site_packages(python: Path, runner: Runner) -> Path:
    script = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    result = runner([str(python), "-c", script], timeout=120)
    if not result.ok:
        raise EnvironmentProblemError(f"{python} does not run: {_last_line(result.stderr)}")
    return Path(result.stdout.strip())


def seed_base(
    folder: Path,
    profile: Runtime,
    runner: Runner,
    *,
    packages: Sequence[str] = SEED_PACKAGES,
    index_url: str | None = None,
    offline: bool = False,
) -> bool:
    """Make a shared base environment in `folder` and install the profile's versions of
    `packages` into it, when this Python is the profile's (the same wheels then fit): every
    run of a batch then starts from Colab's versions and installs only what differs. Returns
    whether it was seeded; a base that cannot be seeded is not made at all."""
    local = f"{sys.version_info.major}.{sys.version_info.minor}"
    if profile.python_minor != local:
        return False
    pins = [f"{name}=={v}" for name in packages if (v := public_version(profile.version_of(name)))]
    python = make_venv(folder, runner)
    if not pins:
        return True
    options = ["--disable-pip-version-check", "--no-input"]
    options += ["--index-url", index_url] if index_url else []
    options += ["--no-index"] if offline else []
    _pip(runner, str(python), ["install", *options, *pins])
    return True


def requirement_lines(requirements_file: Path) -> list[str]:
    """The requirement lines of a requirements file, comments stripped."""
    lines = []
    for line in requirements_file.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            lines.append(match[1])
    return lines


def install(
    python: str,
    requirements_file: Path,
    runner: Runner,
    *,
    index_url: str | None = None,
    offline: bool = False,
) -> InstallReport:
    """pip-install the pinned requirements into `python`'s environment, add ipykernel when
    it lacks one, then check the environment with `pip check` and pipdeptree."""
    started = time.monotonic()
    pins = requirement_lines(requirements_file)
    options = ["--disable-pip-version-check", "--no-input"]
    if index_url:
        options += ["--index-url", index_url]
    if offline:
        options.append("--no-index")
    if pins:
        _pip(
            runner,
            python,
            ["install", *options, "-r", str(requirements_file)],
            fallback=_uv_install(python, requirements_file, index_url, offline),
        )
    added_kernel = False
    if not runner([python, "-c", "import ipykernel"], timeout=120).ok:
        _pip(runner, python, ["install", *options, "ipykernel"])
        added_kernel = True
    return InstallReport(
        python=python,
        installed=tuple(pins),
        conflicts=check(python, runner),
        seconds=time.monotonic() - started,
        added_kernel=added_kernel,
    )


def check(python: str, runner: Runner) -> tuple[str, ...]:
    """Conflicts the environment is left with: `pip check` lines, then pipdeptree's
    warnings that pip check does not already say."""
    conflicts: list[str] = []
    result = runner([python, "-m", "pip", "check", "--disable-pip-version-check"], timeout=300)
    if not result.ok:
        conflicts += [line.strip() for line in result.stdout.splitlines() if line.strip()]
    tree = runner(
        [sys.executable, "-m", "pipdeptree", "--python", python, "--warn", "fail"], timeout=300
    )
    if not tree.ok:
        for line in tree.stderr.splitlines():
            line = line.strip()
            if line.startswith("-") or line.startswith("*"):
                conflicts.append(f"pipdeptree: {line.lstrip('-* ').strip()}")
    return tuple(dict.fromkeys(conflicts))


# pip caches a project's index page for up to ten minutes; the resolver read a fresh one.
# A version released in between is "not found" by pip until its cache is bypassed.
_STALE_INDEX = ("No matching distribution found", "Could not find a version that satisfies")


def _pip(runner: Runner, python: str, args: list[str], fallback: list[str] | None = None) -> None:
    result = runner([python, "-m", "pip", *args], timeout=3600)
    if not result.ok and any(text in result.stderr for text in _STALE_INDEX):
        result = runner([python, "-m", "pip", *args, "--no-cache-dir"], timeout=3600)
        # PyPI's JSON and HTML index pages can disagree for a while after a release (a CDN
        # lag): uv, which resolved the lock, then installs the very same pins.
        if not result.ok and fallback is not None:
            uv = runner(fallback, timeout=3600, env={"UV_NO_PROGRESS": "1"})
            result = uv if uv.ok else result
    if not result.ok:
        raise EnvironmentProblemError(
            f"pip install into {python} failed: {_last_line(result.stderr or result.stdout)}",
            hint=f"see pip's own output: {python} -m pip {' '.join(args)}",
        )


def _uv_install(
    python: str, requirements_file: Path, index_url: str | None, offline: bool
) -> list[str]:
    args = [uv_binary(), "pip", "install", "--python", python, "-r", str(requirements_file)]
    if index_url:
        args += ["--index-url", index_url, "--no-config"]
    if offline:
        args.append("--offline")
    return args


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1].strip()
