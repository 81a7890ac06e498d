from __future__ import annotations

from envfix.model import DeclaredRequirement, ImportUse, Inventory, Location
from envfix.resolve.plan import REPLACED_DISTRIBUTION, plan
from envfix.runtime import load_profile

COLAB = load_profile("colab")


def req(name: str, spec: str = "", line: int = 1, **kw: object) -> DeclaredRequirement:
    return DeclaredRequirement(
        name=name,
        location=Location("requirements.txt", line),
        source="requirements",
        specifier=spec,
        original=f"{name}{spec}",
        **kw,  # type: ignore[arg-type]
    )


def inv(
    *reqs: DeclaredRequirement, imported: tuple[str, ...] = (), optional: tuple[str, ...] = ()
) -> Inventory:
    uses = tuple(ImportUse(n, Location("a.py", 1), name=n) for n in imported) + tuple(
        ImportUse(n, Location("a.py", 2), optional=True, name=n) for n in optional
    )
    return Inventory("/r", "colab", "3.13.15", 1, uses, reqs, (), (), (), ())


def test_declared_and_imported_needs_with_combined_specifiers() -> None:
    needs, findings = plan(
        inv(
            req("numpy", "==1.16.4"),
            req("numpy", ">=1.14", 5),
            req("scipy"),
            imported=("numpy", "cv2-dist"),
            optional=("apex",),
        ),
        COLAB,
    )
    by_name = {n.name: n for n in needs}
    # scipy is declared, never imported, and Colab has it: nothing to do for it.
    assert sorted(by_name) == ["cv2-dist", "numpy"]
    numpy = by_name["numpy"]
    assert numpy.declared and numpy.imported
    assert numpy.specifier in ("==1.16.4,>=1.14", ">=1.14,==1.16.4")
    assert numpy.reasons[0] == "requirements.txt:1 asks for numpy==1.16.4"
    assert by_name["cv2-dist"].specifier == "" and not by_name["cv2-dist"].declared
    assert findings == ()


def test_groups_markers_and_local_paths() -> None:
    needs, _ = plan(
        inv(
            req("pytest", group="test"),
            req("sphinx", group="docs"),
            req("torch", group="gpu"),
            req("typing-extensions", marker='python_version < "3.8"'),
            req("dataclasses", marker='python_version >= "3.7"'),
            req("", kind="local", url="."),
            imported=("torch",),
        ),
        COLAB,
    )
    assert [n.name for n in needs] == ["dataclasses", "torch"]


def test_renamed_and_obsolete_distributions() -> None:
    needs, findings = plan(
        inv(
            req("tensorflow-gpu", "==1.15"),
            req("sklearn"),
            req("keras-applications", "==1.0.8"),
            req("tensorflow", ">=1.10", 4),
            imported=("tensorflow",),
        ),
        COLAB,
    )
    assert [n.name for n in needs] == ["scikit-learn", "tensorflow"]
    tensorflow = next(n for n in needs if n.name == "tensorflow")
    assert tensorflow.specifier == ">=1.10"  # tensorflow-gpu's ==1.15 is not carried over
    assert any("(as tensorflow-gpu)" in r for r in tensorflow.reasons)
    assert [f.code for f in findings] == [REPLACED_DISTRIBUTION] * 3
    messages = " ".join(f.message for f in findings)
    assert "GPU support" in messages and "refuses to install" in messages
    assert "merged into Keras" in messages


def test_url_requirements_pass_through_and_unnamed_ones_are_reported() -> None:
    needs, findings = plan(
        inv(
            req("keras-contrib", kind="url", url="git+https://github.com/keras-team/keras-contrib"),
            req("", kind="url", url="https://example.org/pkg.zip"),
        ),
        COLAB,
    )
    assert [(n.name, n.url) for n in needs] == [
        ("keras-contrib", "git+https://github.com/keras-team/keras-contrib")
    ]
    assert [f.code for f in findings] == ["unnamed-url-requirement"]


def test_imported_under_a_replaced_name_is_replaced() -> None:
    # The scan gives `import Box2D` the declared name box2d-py (no wheel since cp37): the
    # need is box2d, which ships the same module.
    needs, findings = plan(
        inv(
            req("box2d-py", "==2.3.8"),
            req("bs4", "==0.0.1", 2),
            req("tensorflow-gpu", "==1.15", 3),
            req("keras-preprocessing", line=4),
            imported=("box2d-py", "bs4", "tensorflow-gpu", "keras-preprocessing"),
        ),
        COLAB,
    )
    by_name = {n.name: n for n in needs}
    assert sorted(by_name) == ["beautifulsoup4", "box2d", "keras-preprocessing", "tensorflow"]
    assert by_name["box2d"].specifier == "" and by_name["box2d"].imported
    assert by_name["beautifulsoup4"].specifier == ""
    assert [f.code for f in findings] == [REPLACED_DISTRIBUTION] * 3
    assert any("box2d-py" in f.message and "box2d instead" in f.message for f in findings)


def test_extras_are_merged_normalised_and_carried_over() -> None:
    needs, _ = plan(
        inv(
            req("gymnasium", extras=("classic_control",)),
            req("gymnasium", ">=0.26", 2, extras=("box2d", "classic-control")),
            req("box2d-py", line=3, extras=("x",)),
            req("box2d", line=4, extras=("y",)),
            imported=("gymnasium", "box2d"),
        ),
        COLAB,
    )
    by_name = {n.name: n for n in needs}
    assert by_name["gymnasium"].extras == ("box2d", "classic-control")
    assert by_name["gymnasium"].specifier == ">=0.26"
    # A renamed distribution keeps the extras asked for under its old name.
    assert by_name["box2d"].extras == ("x", "y")


def test_extras_that_install_a_gpu_stack_are_not_asked_for() -> None:
    # `tensorflow[and-cuda]` would add a dozen nvidia-* packages: Colab brings its own.
    needs, _ = plan(
        inv(
            req("tensorflow", "==2.10.0", extras=("and-cuda",)),
            req("jax", line=2, extras=("cuda12", "cpu")),
            imported=("tensorflow", "jax"),
        ),
        COLAB,
    )
    by_name = {n.name: n for n in needs}
    assert by_name["tensorflow"].extras == () and by_name["jax"].extras == ("cpu",)


def test_extras_of_an_unimported_preinstalled_package_count_but_its_version_stays() -> None:
    installed = COLAB.version_of("scipy")
    assert installed is not None
    needs, findings = plan(
        inv(req("scipy", "==0.19", extras=("extra",)), req("pandas", "==0.20", 2)), COLAB
    )
    # pandas: never imported, the runtime's version stays, nothing to ask for. scipy: the
    # same, but its extras may bring in what the runtime lacks.
    (scipy,) = needs
    assert scipy.name == "scipy" and scipy.extras == ("extra",) and scipy.specifier == ""
    assert [f.code for f in findings] == ["unimported-pins-kept"]
    assert "scipy" in findings[0].message and "pandas" in findings[0].message
