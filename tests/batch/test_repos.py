from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from envfix.batch.repos import parse_list, parse_shard, read_list, shard, shard_of
from envfix.errors import BadInputError
from envfix.model import BatchItem
from tests.helpers import make_git_repo

LIST = """\
# papers for week 3
owner/name@v1.0 notebooks/demo.ipynb   # the one from the lecture

https://github.com/other/Paper-Code
https://github.com/third/repo/blob/main/colab/train.ipynb
git@github.com:ssh/repo.git@dev
https://token@gitlab.com/group/project
"""


def test_a_list_with_refs_notebooks_comments_and_blank_lines(tmp_path: Path) -> None:
    items = parse_list(LIST, base=tmp_path)
    assert items == (
        BatchItem("owner/name", "owner__name", "v1.0", "notebooks/demo.ipynb", 2),
        BatchItem("https://github.com/other/Paper-Code", "other__paper-code", None, None, 4),
        # A browser URL's ref and notebook are read by `envfix clone` itself.
        BatchItem(
            "https://github.com/third/repo/blob/main/colab/train.ipynb", "third__repo", line=5
        ),
        # The `@` of `git@host:` and of credentials in a URL is not a ref.
        BatchItem("git@github.com:ssh/repo.git", "ssh__repo", "dev", line=6),
        BatchItem("https://token@gitlab.com/group/project", "group__project", line=7),
    )


def test_local_paths_are_read_from_the_lists_folder(tmp_path: Path) -> None:
    make_git_repo(tmp_path / "papers" / "Sparse", {"a.py": "import numpy\n"})
    text = "papers/Sparse@main run.py\n./missing\n" + (tmp_path / "papers" / "Sparse").as_uri()
    items = parse_list(text, base=tmp_path)
    assert items[0] == BatchItem(str(tmp_path / "papers" / "Sparse"), "sparse", "main", "run.py", 1)
    # A folder that is not there fails that repo when it is processed, not the whole list.
    assert items[1] == BatchItem(str(tmp_path / "missing"), "missing", line=2)
    assert items[2].slug == "sparse-2" and items[2].source.startswith("file://")


def test_slugs_are_unique_and_lower_case(tmp_path: Path) -> None:
    text = "o/n\nO/N@v2\nhttps://github.com/o/n.git\nhttps://example.org/x/o/n.git\n"
    assert [i.slug for i in parse_list(text, base=tmp_path)] == [
        "o__n",
        "o__n-2",
        "o__n-3",
        "o__n-4",
    ]


def test_a_local_folder_named_like_any_repo_takes_the_slug_of_the_folder_above(
    tmp_path: Path,
) -> None:
    text = "/mirrors/sfujim+TD3/repo\n/mirrors/openai+baselines/repo\n/work/paper/src\n"
    assert [i.slug for i in parse_list(text, base=tmp_path)] == [
        "sfujim__td3",
        "openai__baselines",
        "paper",
    ]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("owner/name extra.ipynb more", "one word too many"),
        ("owner/name@", "names no ref"),
        ("owner/name@-upload-pack", "not a valid branch"),
        ("owner/name ../outside.ipynb", "inside the repo"),
        ("owner/name /etc/x.ipynb", "inside the repo"),
        ("owner/name README.md", "not a notebook"),
        ("ext::sh%20-c%20touch", "remote helpers"),
        ("not a repo at all", "one word too many"),
        ("justaword", "not a URL"),
        ("ftp://host/o/n", "not allowed"),
    ],
)
def test_a_bad_line_is_an_error_that_names_it(tmp_path: Path, line: str, words: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_list(f"# header\nowner/ok\n{line}\n", name="repos.txt", base=tmp_path)
    assert caught.value.message.startswith("repos.txt, line 3: ")
    assert words in caught.value.message
    assert caught.value.hint and "REPO[@REF] [NOTEBOOK]" in caught.value.hint


def test_a_repeated_line_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="line 3: repeats line 1"):
        parse_list("o/n@v1\no/n@v2\no/n@v1  # again\n", base=tmp_path)


def test_read_list_refuses_missing_empty_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no repo list"):
        read_list(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("# nothing yet\n\n")
    with pytest.raises(BadInputError, match="lists no repos"):
        read_list(tmp_path / "empty.txt")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00o/n")
    with pytest.raises(BadInputError, match="not a UTF-8"):
        read_list(tmp_path / "binary.txt")
    (tmp_path / "ok.txt").write_text("o/n\n")
    assert read_list(tmp_path / "ok.txt")[0].slug == "o__n"


@pytest.mark.parametrize(
    ("text", "parsed"), [("1/1", (1, 1)), ("2/4", (2, 4)), (" 3 / 3 ", (3, 3))]
)
def test_parse_shard(text: str, parsed: tuple[int, int]) -> None:
    assert parse_shard(text) == parsed


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "1", "a/b", "-1/2"])
def test_parse_shard_refuses(text: str) -> None:
    with pytest.raises(BadInputError):
        parse_shard(text)


def _items(count: int) -> tuple[BatchItem, ...]:
    return parse_list("".join(f"owner{i}/paper{i}\n" for i in range(count)))


def test_shards_partition_the_list() -> None:
    items = _items(60)
    for count in (1, 2, 3, 7):
        shards = [shard(items, k, count) for k in range(1, count + 1)]
        assert sorted(i.slug for s in shards for i in s) == sorted(i.slug for i in items)
        assert sum(len(s) for s in shards) == len(items)
    # Every shard of a few gets some of 60 repos.
    assert all(shard(items, k, 3) for k in (1, 2, 3))


def test_shards_depend_on_the_slug_alone() -> None:
    items = _items(40)
    shuffled = list(items)
    random.Random(7).shuffle(shuffled)
    for k in (1, 2, 3, 4):
        assert {i.slug for i in shard(items, k, 4)} == {
            i.slug for i in shard(tuple(shuffled), k, 4)
        }
    # A repo stays in its shard when another is removed from the list.
    fewer = items[1:]
    for item in fewer:
        assert item in shard(fewer, shard_of(item.slug, 4), 4)
        assert item in shard(items, shard_of(item.slug, 4), 4)
    # The rule is fixed (sha256 of the slug), so CI runs agree across machines and versions.
    digest = hashlib.sha256(b"owner__name").digest()
    assert shard_of("owner__name", 4) == int.from_bytes(digest, "big") % 4 + 1
