from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.tags import Tag
from packaging.version import Version

from envfix.errors import NetworkError
from envfix.resolve.index import Project, SimpleIndex, release_file
from envfix.runtime import load_profile, supported_tags

COLAB_TAGS = frozenset(supported_tags(load_profile("colab")))


def doc(*files: dict[str, object]) -> bytes:
    return json.dumps({"meta": {"api-version": "1.1"}, "files": list(files)}).encode()


def entry(filename: str, **extra: object) -> dict[str, object]:
    return {"filename": filename, "url": f"https://files/{filename}", **extra}


def test_release_files_from_pep_691_entries() -> None:
    wheel = release_file(
        entry(
            "numpy-2.1.3-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            **{"upload-time": "2024-11-02T19:00:00.000000Z", "requires-python": ">=3.10"},
        )
    )
    assert wheel is not None and wheel.version == Version("2.1.3")
    assert Tag("cp313", "cp313", "manylinux_2_17_x86_64") in wheel.tags
    assert wheel.upload_time == datetime(2024, 11, 2, 19, tzinfo=UTC)
    assert not wheel.supports_python("3.9.1") and wheel.supports_python("3.13.15")
    sdist = release_file(entry("numpy-1.16.4.zip"))
    assert sdist is not None and not sdist.is_wheel
    assert release_file(entry("numpy-1.16.4.exe")) is None
    assert release_file(entry("not a file name.whl")) is None


def project(*filenames: str) -> Project:
    files = [release_file(entry(name)) for name in filenames]
    return Project("x", tuple(f for f in files if f))


def test_how_a_version_installs() -> None:
    compiled = project(
        "x-1.0.tar.gz",
        "x-1.0-cp37-cp37m-manylinux1_x86_64.whl",
        "x-2.0-cp313-cp313-manylinux_2_17_x86_64.whl",
        "x-2.0.tar.gz",
    )
    assert compiled.has_compiled_code
    assert compiled.how_installs(Version("1.0"), COLAB_TAGS, "3.13.15") == "compiled-sdist"
    assert compiled.how_installs(Version("2.0"), COLAB_TAGS, "3.13.15") == "wheel"
    assert compiled.how_installs(Version("3.0"), COLAB_TAGS, "3.13.15") is None
    pure = project("y-0.1.tar.gz", "y-0.2-py2.py3-none-any.whl")
    assert pure.how_installs(Version("0.1"), COLAB_TAGS, "3.13.15") == "sdist"
    assert pure.how_installs(Version("0.2"), COLAB_TAGS, "3.13.15") == "wheel"
    windows_only = project("z-1.0-cp313-cp313-win_amd64.whl")
    assert windows_only.how_installs(Version("1.0"), COLAB_TAGS, "3.13.15") is None


class Answers:
    """A stand-in for the network: answers by URL, counts calls, can be switched off."""

    def __init__(self, answers: dict[str, bytes | None]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.down = False

    def __call__(self, url: str) -> bytes | None:
        self.calls.append(url)
        if self.down:
            raise NetworkError("cannot reach the package index (test)")
        return self.answers.get(url)


def test_cache_then_stale_cache_when_the_network_is_down(tmp_path: Path) -> None:
    net = Answers({"https://idx/simple/tqdm/": doc(entry("tqdm-4.67.3-py3-none-any.whl"))})
    first = SimpleIndex("https://idx/simple", tmp_path, fetch=net)
    assert first.project("TQDM") is not None and len(net.calls) == 1
    assert SimpleIndex("https://idx/simple", tmp_path, fetch=net).project("tqdm") is not None
    assert len(net.calls) == 1  # served from the cache
    net.down = True
    expired = SimpleIndex("https://idx/simple", tmp_path, fetch=net, max_age=0)
    found = expired.project("tqdm")
    assert found is not None and expired.stale
    with pytest.raises(NetworkError, match="cannot reach"):
        expired.project("numpy")


def test_missing_project_and_offline_mode(tmp_path: Path) -> None:
    net = Answers({})
    index = SimpleIndex("https://idx/simple", tmp_path, fetch=net)
    assert index.project("no-such-thing") is None
    offline = SimpleIndex("https://idx/simple", tmp_path, fetch=net, offline=True)
    assert offline.project("no-such-thing") is None  # a cached "does not exist"
    with pytest.raises(NetworkError, match="offline"):
        offline.project("never-seen")
