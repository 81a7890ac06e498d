from __future__ import annotations

import pytest

from envfix.model import InstalledDistribution, Runtime
from envfix.runtime import load_profile
from envfix.scanner.names import (
    ImportMap,
    NameResolver,
    bundled_import_map,
    describe_former_stdlib,
    former_stdlib_modules,
    live_lookup,
    stdlib_modules,
)

COLAB = load_profile("colab")


def runtime_with(*names: str, python: str = "3.13.1") -> Runtime:
    return Runtime(
        name="test",
        python_version=python,
        platforms=("linux_x86_64",),
        distributions=tuple(InstalledDistribution(n, "1.0") for n in names),
    )


SMALL_MAP = ImportMap(
    modules={
        "cv2": ("opencv-contrib-python", "opencv-python", "opencv-python-headless"),
        "google.protobuf": ("protobuf",),
        "google.cloud.storage": ("google-cloud-storage",),
        "yaml": ("pyyaml",),
        "attr": ("attrs",),
        "foo": ("bar-dist", "zed-dist"),
    },
    preferred={"cv2": "opencv-python"},
)


def test_well_known_mappings_for_colab() -> None:
    resolver = NameResolver(COLAB, live=None)
    expected = {
        "cv2": "opencv-python",
        "sklearn": "scikit-learn",
        "PIL": "pillow",
        "yaml": "pyyaml",
        "skimage": "scikit-image",
        "google.protobuf": "protobuf",
        "bs4": "beautifulsoup4",
        "torch": "torch",
        "tensorboardX": "tensorboardx",
    }
    got = {module: resolver.resolve(module).name for module in expected}
    assert got == expected


def test_deepest_namespace_prefix_wins() -> None:
    resolver = NameResolver(runtime_with(), SMALL_MAP, live=None)
    m = resolver.resolve("google.protobuf.text_format")
    assert (m.module, m.name, m.source) == ("google.protobuf", "protobuf", "import-map")
    assert resolver.resolve("google.cloud.storage.blob").name == "google-cloud-storage"


def test_installed_candidate_wins_and_says_why() -> None:
    resolver = NameResolver(runtime_with("opencv-python-headless"), SMALL_MAP, live=None)
    m = resolver.resolve("cv2")
    assert m.name == "opencv-python-headless"
    assert "only one of 3 installed" in m.reason
    assert m.candidates == SMALL_MAP.modules["cv2"]


def test_preferred_among_several_installed_or_none() -> None:
    both = NameResolver(
        runtime_with("opencv-python", "opencv-contrib-python"), SMALL_MAP, live=None
    )
    assert both.resolve("cv2").name == "opencv-python"
    assert "2 are installed" in both.resolve("cv2").reason
    none = NameResolver(runtime_with(), SMALL_MAP, live=None)
    assert none.resolve("cv2").name == "opencv-python"
    assert "none is installed" in none.resolve("cv2").reason
    assert none.resolve("foo").name == "bar-dist"  # no preference: first by name, said so
    assert "first by name" in none.resolve("foo").reason


def test_live_environment_comes_first() -> None:
    def live(module: str) -> tuple[str, tuple[str, ...]] | None:
        return ("yaml", ("pyyaml",)) if module.startswith("yaml") else None

    resolver = NameResolver(runtime_with(), SMALL_MAP, live=live)
    assert resolver.resolve("yaml").source == "live-env"
    assert resolver.resolve("attr").source == "import-map"


def test_same_name_guess_is_marked() -> None:
    resolver = NameResolver(runtime_with("my-lib"), SMALL_MAP, live=None)
    guess = resolver.resolve("some_unknown_pkg.sub")
    assert (guess.module, guess.name, guess.source) == (
        "some_unknown_pkg",
        "some-unknown-pkg",
        "same-name",
    )
    assert "assumed" in guess.reason
    assert "installed" in resolver.resolve("my_lib").reason


def test_real_live_environment_lookup() -> None:
    assert live_lookup("packaging.version") == ("packaging", ("packaging",))
    assert live_lookup("surely_not_installed_anywhere") is None


def test_stdlib_is_for_the_target_python() -> None:
    assert "tomllib" in stdlib_modules("3.13") and "tomllib" not in stdlib_modules("3.10")
    assert "imp" in stdlib_modules("3.11") and "imp" not in stdlib_modules("3.12")
    assert "distutils" in former_stdlib_modules("3.12")
    assert {"imp", "distutils", "asyncore", "cgi", "telnetlib", "urllib2", "cPickle"} <= (
        former_stdlib_modules("3.13")
    )
    assert "cgi" not in former_stdlib_modules("3.12")
    resolver = NameResolver(runtime_with(python="3.11.9"), SMALL_MAP, live=None)
    assert resolver.is_stdlib("imp.reload") and not resolver.is_stdlib("numpy")


@pytest.mark.parametrize(
    ("module", "words"),
    [("urllib2", "urllib.request"), ("distutils.core", "setuptools"), ("imp", "must change")],
)
def test_former_stdlib_explanations(module: str, words: str) -> None:
    assert words in describe_former_stdlib(module, "3.13")


def test_bundled_map_preferences_are_candidates() -> None:
    shipped = bundled_import_map()
    for module, name in shipped.preferred.items():
        assert name in shipped.modules[module], module


def test_colab_only_module_and_namespace_guesses() -> None:
    resolver = NameResolver(COLAB, live=None)
    colab = resolver.resolve("google.colab.drive")
    assert (colab.module, colab.name) == ("google.colab", "google-colab")
    guess = NameResolver(runtime_with(), SMALL_MAP, live=None).resolve("google.cloud.vision.v1")
    assert (guess.module, guess.name, guess.source) == (
        "google.cloud.vision",
        "google-cloud-vision",
        "same-name",
    )
    # Colab has a `google` distribution installed; a namespace import is not it.
    assert resolver.resolve("google.some_new_lib").name == "google-some-new-lib"


def test_a_declared_candidate_wins() -> None:
    resolver = NameResolver(runtime_with("opencv-python"), SMALL_MAP, live=None)
    m = resolver.resolve("cv2", {"opencv-contrib-python", "numpy"})
    assert m.name == "opencv-contrib-python" and "declares" in m.reason
    # Several declared: the usual rules choose among those.
    two = resolver.resolve("cv2", {"opencv-contrib-python", "opencv-python-headless"})
    assert two.name == "opencv-contrib-python" and "2 are declared" in two.reason
    assert resolver.resolve("cv2").name == "opencv-python"


def test_a_declared_distribution_named_for_an_unknown_module_wins_over_the_guess() -> None:
    resolver = NameResolver(runtime_with(), SMALL_MAP, live=None)
    assert resolver.resolve("decouple").name == "decouple"
    m = resolver.resolve("decouple", {"python-decouple", "numpy"})
    assert (m.module, m.name) == ("decouple", "python-decouple")
    assert "declares python-decouple" in m.reason
    assert resolver.resolve("decouple", {"decouple", "python-decouple"}).name == "decouple"
    assert resolver.knows("decouple", {"python-decouple"}) and not resolver.knows("decouple")


def test_a_declared_renamed_distribution_provides_its_replacements_module() -> None:
    resolver = NameResolver(COLAB, live=None)
    assert resolver.resolve("tensorflow", {"tensorflow-gpu"}).name == "tensorflow-gpu"
    assert resolver.resolve("tensorflow", {"tensorflow-gpu", "tensorflow"}).name == "tensorflow"
    assert resolver.resolve("bs4", {"bs4"}).name == "bs4"
    assert resolver.resolve("bs4", {"bs4", "beautifulsoup4"}).name == "beautifulsoup4"
    assert resolver.resolve("Box2D", {"box2d-py"}).name == "box2d-py"
    assert resolver.resolve("Box2D").name == "box2d"
    # A declaration that provides something else does not take over the module.
    assert resolver.resolve("bs4", {"sklearn"}).name == "beautifulsoup4"
