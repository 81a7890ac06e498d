"""Redaction: each kind of private fact is removed and counted, ordinary traceback text is
left alone, and a second pass changes nothing.

The fake secrets are glued from two halves so that secret scanners do not flag this file.
"""

from __future__ import annotations

import pytest

from envfix.reporting import redact as redact_module
from envfix.reporting.redact import CATEGORIES, RULES, Redaction, Redactor, describe, redact

GITHUB_CLASSIC = "ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xYz"
HF = "hf_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3x"
OPENAI = "sk-" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xYz5aB3dE5fG7hI9"
OPENAI_PROJECT = "sk-proj-" + "Ab3_De5-Fg7hI9jK1lM3nO5pQ7rS9tU1vW3xYz5aB3dE5fG7hI9jK1lM3nO5p"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
KAGGLE = "0123456789abcdef" + "0123456789abcdef"
JWT = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV"


def _redact(text: str, names: tuple[str, ...] = ()) -> Redaction:
    """Redaction without this machine's login and home, so results do not depend on it."""
    return redact(text, names=names, local=False)


def _assert_removed(text: str, secret: str, category: str, count: int = 1) -> Redaction:
    result = _redact(text)
    assert secret in text
    assert secret not in result.text
    assert dict(result.counts) == {category: count}
    return result


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("git clone https://jane:s3cretpassw0rd@github.com/x/sfn", "s3cretpassw0rd"),
        (f"!git clone https://{GITHUB_CLASSIC}@github.com/x/sfn.git", GITHUB_CLASSIC),
        (f"pip install git+https://oauth2:{HF}@gitlab.com/x/y.git", HF),
        ("fatal: unable to access 'http://jane.doe:pw1234@10.0.0.2:8080/repo/'", "pw1234"),
        ("ftp://anonymous:guest@ftp.example.org/pub/data.tar.gz", "anonymous:guest"),
    ],
)
def test_credentials_in_urls_are_removed_and_the_host_kept(text: str, secret: str) -> None:
    result = _assert_removed(text, secret, "URL credential")
    assert "://<redacted>@" in result.text
    assert "@" + text.split("@", 1)[1] in result.text  # host and path unchanged


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"token = {GITHUB_CLASSIC}", GITHUB_CLASSIC),
        *[(f"GH gh{p}_{GITHUB_CLASSIC[4:]} used", GITHUB_CLASSIC[4:]) for p in "ousr"],
        ("github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", "11ABCDEFG01"),
        (f"huggingface-cli login --token {HF}", HF),
        (f"HTTPError: 401 for url ...?use_auth_token={HF}", HF),
        (f"openai.api_base; client = OpenAI(api_key={OPENAI!r})", OPENAI),
        (f"AuthenticationError: Incorrect API key provided: {OPENAI_PROJECT}.", OPENAI_PROJECT),
        (f"aws_access_key_id = {AWS_ID}", AWS_ID),
        ("AWS_ACCESS_KEY_ID=ASIA" + "Y34FZKBOKMUTVV7A", "Y34FZKBOKMUTVV7A"),
        ('{"username":"<user>","key":"' + KAGGLE + '"}', KAGGLE),
        (f"headers = {{'Authorization': 'Bearer {JWT}'}}", "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV"),
        ("curl -H 'Authorization: Bearer abcdEFGH1234ijklMNOP5678'", "abcdEFGH1234ijklMNOP5678"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
            "-----END OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXktdjEAAAAA",
        ),
    ],
)
def test_tokens_and_keys_known_by_their_format_are_removed(text: str, secret: str) -> None:
    _assert_removed(text, secret, "token")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("KAGGLE_KEY=" + KAGGLE, KAGGLE),
        ("%env KAGGLE_KEY=" + KAGGLE, KAGGLE),
        ("export WANDB_API_KEY=a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0", "a1b2c3d4e5f6a7b8"),
        (f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
        (f'os.environ["AWS_SECRET_ACCESS_KEY"] = "{AWS_SECRET}"', AWS_SECRET),
        ("os.environ['COMET_API_KEY'] = 'Xy7pQ2rS9tU1vW3x'", "Xy7pQ2rS9tU1vW3x"),
        ("os.environ.setdefault('NEPTUNE_API_TOKEN', 'Zk8m2Lq9Rt4v')", "Zk8m2Lq9Rt4v"),
        ("api_key: Zk8m2Lq9Rt4vWx", "Zk8m2Lq9Rt4vWx"),
        ('{"client_secret": "Zk8m2Lq9Rt4vWx"}', "Zk8m2Lq9Rt4vWx"),
        ("ValueError: invalid x-api-key: Zk8m2Lq9Rt4vWx", "Zk8m2Lq9Rt4vWx"),
        ("PASSWORD=hunter2hunter2", "hunter2hunter2"),
        ("!python train.py --wandb_api_key Ab12cd34ef56 --epochs 1", "Ab12cd34ef56"),
        ("!python train.py --hf-token=Ab12cd34ef56", "Ab12cd34ef56"),
        ("db_password = 'correct horse battery staple'", "correct horse battery staple"),
        ("self.hub_token = 'my-long-access-string'", "my-long-access-string"),
    ],
)
def test_values_assigned_to_secret_names_are_removed(text: str, secret: str) -> None:
    result = _assert_removed(text, secret, "secret")
    assert "<redacted>" in result.text


def test_a_token_in_an_assignment_is_counted_once_as_a_token() -> None:
    result = _redact(f'os.environ["HF_TOKEN"] = "{HF}"')
    assert result.text == 'os.environ["HF_TOKEN"] = "<hf-token>"'
    assert result.counts == (("token", 1),)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Author: Jane Doe <jane.doe@gmail.com>", "jane.doe@gmail.com"),
        ("contact j.doe+colab@cs.stanford.edu for the data", "j.doe+colab@cs.stanford.edu"),
        ("PermissionError: jane_doe99@student.uni-example.ac.uk has no access", "jane_doe99@"),
        ("mailto:JANE@EXAMPLE.IO", "JANE@EXAMPLE.IO"),
    ],
)
def test_email_addresses_are_removed(text: str, secret: str) -> None:
    result = _assert_removed(text, secret, "e-mail address")
    assert "<email>" in result.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/content/drive/MyDrive/jane.doe/data/x.npy", "<drive>/.../x.npy"),
        (
            "No such file or directory: '/content/drive/My Drive/Colab Notebooks/jane/x.npy'",
            "No such file or directory: '<drive>/.../x.npy'",
        ),
        ("/content/drive/Shareddrives/Doe Lab/sfn/ckpt.pt", "<drive>/.../ckpt.pt"),
        ("/content/gdrive/MyDrive/weights.h5", "<drive>/weights.h5"),
        ("/content/drive/Shareddrives/DoeLab", "<drive>"),
        ("/content/drive/.shortcut-targets-by-id/1AbC/sfn/x.npy", "<drive>/.../x.npy"),
        ("drive.mount('/content/drive')", "drive.mount('<drive>')"),
        (
            'File "/home/jane/sfn/train.py", line 12, in main',
            'File "~/.../train.py", line 12, in main',
        ),
        (
            "File /Users/jane/sfn/model.py:40, in forward(self, x)",
            "File ~/.../model.py:40, in forward(self, x)",
        ),
        ("cd /home/jane/ && ls /home/jane", "cd ~/ && ls ~"),
        ("open('/home/jane/x.npy')", "open('~/x.npy')"),
        (
            "/home/jane/sfn/.venv/lib/python3.12/site-packages/torch/nn/modules/module.py:1736",
            "~/.../site-packages/torch/nn/modules/module.py:1736",
        ),
        (r"C:\Users\jane\Documents\sfn\data\x.npy", r"~\...\x.npy"),
        (r"open('C:\\Users\\jane\\sfn\\x.npy')", r"open('~\\...\\x.npy')"),
        ("c:/users/jane/sfn/x.npy", "~/.../x.npy"),
    ],
)
def test_home_and_drive_paths_keep_only_the_file_name(text: str, expected: str) -> None:
    result = _redact(text)
    assert result.text == expected
    assert dict(result.counts) == {"path": text.count("/home/") or 1}


def test_a_home_folder_outside_home_is_shortened_when_named() -> None:
    text = "File /data/users/jdoe7/sfn/train.py:3 and /data/users/jdoe7x/y.py"
    result = redact(text, home="/data/users/jdoe7", local=False)
    assert result.text == "File ~/.../train.py:3 and /data/users/jdoe7x/y.py"
    assert result.counts == (("path", 1),)


@pytest.mark.parametrize(
    ("text", "names", "secret", "count"),
    [
        ("fatal: could not read from /tmp/jane/repo", ("jane",), "jane", 1),
        ("JANE pushed; Jane's branch; jane", ("jane",), "jane", 3),
        ("git log: Jane Doe committed; doe_jane stays", ("Jane Doe",), "Jane Doe", 1),
        ("Author: Doe, Janet / Janet Doe", ("Janet Doe",), "Janet", 2),
        ("/scratch/jane.doe/run1", ("jane.doe@gmail.com",), "jane.doe", 1),
        ('{"username":"janedoe","key":"<kaggle-key>"}', (), "janedoe", 1),
        ("KAGGLE_USERNAME=janedoe", (), "janedoe", 1),
    ],
)
def test_user_names_are_removed_as_whole_words(
    text: str, names: tuple[str, ...], secret: str, count: int
) -> None:
    result = _redact(text, names)
    assert secret.lower() not in result.text.lower()
    assert dict(result.counts) == {"user name": count}
    assert "<user>" in result.text


def test_parts_of_words_and_short_or_generic_names_are_kept() -> None:
    text = "janet jane_doe mary_jane torch.max root /root user <user> drive"
    result = _redact(text, ("jane", "Max Li", "root", "user", "drive", "al"))
    assert result.text == text
    assert result.counts == ()


def test_paths_are_redacted_before_the_names_inside_them() -> None:
    result = _redact("/home/jane/sfn/x.py and /content/drive/MyDrive/jane/y.py", ("jane",))
    assert result.text == "~/.../x.py and <drive>/.../y.py"
    assert result.counts == (("path", 2),)


def test_this_machines_login_and_home_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact_module, "_local_login", lambda: "jdoe7")
    monkeypatch.setattr(redact_module, "_local_home", lambda: "/srv/people/jdoe7")
    result = redact("File /srv/people/jdoe7/sfn/a.py:1\nPermissionError: jdoe7")
    assert result.text == "File ~/.../a.py:1\nPermissionError: <user>"
    assert result.counts == (("path", 1), ("user name", 1))


def test_colabs_root_login_and_home_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redact_module, "_local_login", lambda: "root")
    monkeypatch.setattr(redact_module, "_local_home", lambda: "/root")
    text = "/root/.cache/huggingface/hub/models--bert-base-uncased; root logger"
    assert redact(text) == Redaction(text)


TRACEBACK = """\
---------------------------------------------------------------------------
ValueError                                Traceback (most recent call last)
Cell In[4], line 7
      5 MAX_TOKEN_LEN = 512
      6 tokenizer.pad_token = "<pad>"
----> 7 out = model(**tokenizer(text, max_length=tokenizer.max_token_len, token=token_ids_v2))
      8 scores = q@k.transpose(-2, -1) / math.sqrt(d_k)

File /usr/local/lib/python3.12/dist-packages/torch/nn/modules/module.py:1736, in Module._wrapped_call_impl(self, *args, **kwargs)
   1734     return self._compiled_call_impl(*args, **kwargs)  # type: ignore[misc]
   1735 else:
-> 1736     return self._call_impl(*args, **kwargs)

File /usr/local/lib/python3.12/dist-packages/transformers/tokenization_utils_base.py:2887, in PreTrainedTokenizerBase.__call__(self, text, text_pair, add_special_tokens, padding, truncation, max_length, stride, api_key: str = None, eos_token="end of text", dtype_key=torch.float16)
File /content/sfn/model.py:88, in SFN.forward(self, x)
File "/root/.cache/huggingface/modules/transformers_modules/sfn/config.py", line 3, in <module>
  File "/usr/lib/python3.12/importlib/__init__.py", line 126, in import_module
KeyError: 'hidden_size_key'; repo git@github.com:paper/sfn.git pinned numpy@1.26.4
ValueError: Input length 700 exceeds max_token_len 512 (commit 3f2a9b1c0d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a)
"""


def test_ordinary_traceback_text_is_unchanged() -> None:
    result = _redact(TRACEBACK, ("Jane Doe", "jane.doe@gmail.com"))
    assert result.text == TRACEBACK
    assert result.counts == ()
    assert result.summary() == ""


PRIVATE = f"""\
!git clone https://jane:s3cretpassw0rd@github.com/jane/sfn
%env HF_TOKEN={HF}
os.environ["KAGGLE_KEY"] = "{KAGGLE}"
FileNotFoundError: [Errno 2] No such file or directory: '/content/drive/MyDrive/jane.doe/data/x.npy'
File /home/jane/sfn/train.py:3 by Jane Doe <jane.doe@gmail.com>
"""


def test_redacting_twice_changes_and_counts_nothing_more() -> None:
    names = ("Jane Doe", "jane.doe@gmail.com", "jane")
    first = _redact(PRIVATE + TRACEBACK, names)
    second = _redact(first.text, names)
    assert second.text == first.text
    assert second.counts == ()
    assert dict(first.counts) == {
        "URL credential": 1,
        "token": 1,
        "secret": 1,
        "e-mail address": 1,
        "path": 2,
        "user name": 2,  # the account in the clone URL, the author's name
    }
    for leaked in ("s3cretpassw0rd", HF, KAGGLE, "jane", "Jane", "MyDrive"):
        assert leaked not in first.text, leaked


def test_a_redactor_adds_up_its_counts_over_many_texts() -> None:
    redactor = Redactor(names=("jane",), local=False)
    assert redactor.summary() == ""
    assert redactor.redact("/home/jane/a.py") == "~/a.py"
    assert redactor.redact(f"{HF} and {GITHUB_CLASSIC} by jane@example.com") == (
        "<hf-token> and <github-token> by <email>"
    )
    assert redactor.redact("/Users/jane/b.py, jane") == "~/b.py, <user>"
    assert redactor.counts() == (("token", 2), ("e-mail address", 1), ("path", 2), ("user name", 1))
    assert redactor.summary() == "Redacted: 2 tokens, 1 e-mail address, 2 paths, 1 user name."


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((), ""),
        (
            (("path", 2), ("token", 1), ("e-mail address", 1)),
            "Redacted: 2 paths, 1 token, 1 e-mail address.",
        ),
        (
            (("e-mail address", 3), ("URL credential", 2)),
            "Redacted: 3 e-mail addresses, 2 URL credentials.",
        ),
        ((("secret", 0),), ""),
    ],
)
def test_describe_says_how_many_of_each_without_values(
    counts: tuple[tuple[str, int], ...], expected: str
) -> None:
    assert describe(counts) == expected


def test_every_rule_counts_in_a_known_category() -> None:
    assert {rule.category for rule in RULES} <= set(CATEGORIES)


@pytest.mark.parametrize(
    "code",
    [
        "np.random.seed(0)",
        "env.seed(args.seed)",
        "seed = 0",
        "def seed(self, value):",
        "torch.manual_seed(seed, 1)",
        "import seed",
    ],
)
def test_a_word_of_the_users_name_is_not_redacted_in_code(code: str) -> None:
    # The machine's git user.name was "Seed c00b7928 maintainers": code must stay readable.
    result = _redact(code, ("Seed Lee",))
    assert result.text == code


def test_a_word_of_the_users_name_is_still_redacted_in_prose() -> None:
    result = _redact("Written by Seed on a laptop of seed's", ("Seed Lee",))
    assert result.text == "Written by <user> on a laptop of <user>'s"
