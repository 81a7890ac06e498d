"""Private facts taken out of text before it goes into a public forum post.

A report is pasted into the course forum, where the whole class reads it. Before that, every
text in it goes through a `Redactor`, which replaces, in this order:

1. credentials in URLs (`https://jane:pw@host/...` -> `https://<redacted>@host/...`), before
   e-mail addresses, which `jane:pw@host` resembles;
2. tokens and keys that announce themselves by their format (GitHub, Hugging Face, OpenAI,
   AWS key ids, JWTs, bearer tokens, private-key blocks, the key in `kaggle.json`);
3. secrets found by the name they are assigned to: the value of `HF_TOKEN=...`,
   `api_key: ...`, `os.environ["X_SECRET"] = "..."`, `password = "..."`;
4. e-mail addresses;
5. Google Drive and home folder paths, cut down to the file name
   (`/content/drive/MyDrive/jane.doe/data/x.npy` -> `<drive>/.../x.npy`,
   `/home/jane/proj/x.py` -> `~/.../x.py`), before user names, so that the name inside a
   path goes with the path;
6. user names: this machine's login name and the names the caller passes (the git author),
   as whole words, in any case.

`/root` stays as it is: it is the home folder of every Colab user, so it tells nobody
anything, and `/root/.cache/...` paths in a traceback stay readable. Library paths
(`.../site-packages/numpy/__init__.py`) are kept whole, and a home path that leads into one
keeps the part from `site-packages` on.

The patterns are data: `RULES` is one table of (category, pattern, replacement), in the
order they apply; only the home folder and the names, which depend on the caller, are added
per `Redactor`. Every replacement is a placeholder none of the patterns matches, so
redacting twice changes nothing more and counts nothing more. What was redacted is counted
per category, never recorded.
"""

from __future__ import annotations

import getpass
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

__all__ = [
    "CATEGORIES",
    "RULES",
    "Redaction",
    "Redactor",
    "Rule",
    "describe",
    "redact",
]

URL_CREDENTIAL = "URL credential"
TOKEN = "token"
SECRET = "secret"
EMAIL = "e-mail address"
PATH = "path"
USER_NAME = "user name"

CATEGORIES = (URL_CREDENTIAL, TOKEN, SECRET, EMAIL, PATH, USER_NAME)
"""The categories counted, in the order a summary names them (singular labels)."""

Replacement = str | Callable[[re.Match[str]], str | None]
"""A `re` template (`\\g<name>` refers to a group), or a function of the match that returns
the new text, or None when the match is not a secret after all and stays as it is."""


@dataclass(frozen=True)
class Rule:
    """One kind of private fact: how to find it and what takes its place."""

    category: str
    pattern: re.Pattern[str]
    replacement: Replacement


@dataclass(frozen=True)
class Redaction:
    """A text with its private facts replaced, and how many of each kind were."""

    text: str
    counts: tuple[tuple[str, int], ...] = ()
    """(category, count) pairs in `CATEGORIES` order, only the categories found."""

    def summary(self) -> str:
        """`Redacted: 2 paths, 1 token.`, or "" when nothing was redacted."""
        return describe(self.counts)


# --- the pieces the patterns are built from -------------------------------------------------

# One path component: anything but separators, whitespace, quotes and the punctuation that
# ends a path in a traceback (`x.py:12`, `"x.py", line 3`, `(x.py)`).
_SEG = r"[^\s/\\'\"`<>|:*?,;()\[\]{}]+"
# A folder in the middle of a path may contain single spaces ("Colab Notebooks", "My Drive"):
# it is only taken as a folder when a separator follows it.
_DIR = rf"{_SEG}(?: {_SEG})*"
_POSIX_TAIL = rf"(?:/{_DIR}(?=/))*(?:/{_SEG})?"
_WIN_SEP = r"(?:\\{1,2}|/)"  # `\`, or `\\` as a Python repr shows it, or `/`
_WIN_TAIL = rf"(?:{_WIN_SEP}{_DIR}(?={_WIN_SEP}))*(?:{_WIN_SEP}{_SEG})?"
_PATH_START = r"(?<![\w.~-])"
_PACKAGES = ("site-packages", "dist-packages")
# Drive folders whose next part names a drive, a shortcut or a computer, not a file.
_NAMED_CONTAINERS = ("Shareddrives", "Shared drives", ".shortcut-targets-by-id", "Othercomputers")

# Top-level domains an e-mail address may end in: any two letters (country codes) or one of
# these. A closed list keeps `q@k.transpose(...)` and `x@model.weight` in code out.
_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|name|pro|io|ai|dev|app|me|co|xyz|tech|cloud|"
    "online|site|email|mail|science|research|academy|school|university|institute"
)

# A whole word (possessive, so a long one is read once) that ends in one of these.
_SECRET_NAME = (
    r"(?<![\w-])(?P<flag>--)?[\w-]*+"
    r"(?:(?<=token)|(?<=secret)|(?<=password)|(?<=passwd)|(?<=passphrase)|(?<=[_-]key))"
)
# Values that are placeholders or references, not secrets: `<redacted>`, `${VAR}`, `%(x)s`.
_NOT_A_VALUE = tuple("<$%{[(")
# Names whose quoted value is a secret even with spaces in it ("correct horse battery").
_PHRASES = ("password", "passwd", "passphrase", "secret")
_SNAKE_CASE = re.compile(r"[a-z_][a-z0-9_]*_[a-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def _secret_value(match: re.Match[str]) -> str | None:
    """`NAME=<redacted>` when the value looks like a secret: 8 characters or more, with a
    letter; quoted, without spaces unless it is a password; unquoted, with a digit and not a
    Python name (`token_ids_v2`, `torch.float16`). So `MAX_TOKEN_LEN = 512`,
    `pad_token="<pad>"`, `eos_token="end of text"` and `api_key: str` stay."""
    value = match["value"]
    quote = value[0] if value[0] in "\"'" else ""
    inner = value[1:-1] if quote else value
    if len(inner) < 8 or inner.startswith(_NOT_A_VALUE) or not any(c.isalpha() for c in inner):
        return None
    if quote:
        if any(c.isspace() for c in inner) and not match["name"].lower().endswith(_PHRASES):
            return None
    elif (
        not any(c.isdigit() for c in inner)
        or _SNAKE_CASE.fullmatch(inner)
        or _DOTTED.fullmatch(inner)
    ):
        return None
    return f"{match['name']}{match['sep']}{quote}<redacted>{quote}"


def _shortened(placeholder: str, parts: list[str], sep: str) -> str:
    """A path under `placeholder` cut to its last component, or to its library part."""
    for i, part in enumerate(parts):
        if part in _PACKAGES:
            return sep.join((placeholder, "...", *parts[i:]))
    if not parts:
        return placeholder
    if len(parts) == 1:
        return sep.join((placeholder, parts[0]))
    return sep.join((placeholder, "...", parts[-1]))


def _drive_path(match: re.Match[str]) -> str:
    # The container goes: MyDrive, or Shareddrives and the shared drive's name.
    parts = [p for p in match["rest"].split("/") if p]
    container = 2 if parts and parts[0] in _NAMED_CONTAINERS else 1
    return _shortened("<drive>", parts[container:], "/")


def _home_path(match: re.Match[str]) -> str:
    return _shortened("~", [p for p in match["rest"].split("/") if p], "/")


def _windows_home_path(match: re.Match[str]) -> str:
    sep = match["sep"]
    parts = [p for p in re.split(r"[\\/]+", match["rest"]) if p]
    return _shortened("~", parts, sep)


def _rule(category: str, pattern: str, replacement: Replacement, flags: int = 0) -> Rule:
    return Rule(category, re.compile(pattern, flags), replacement)


RULES: tuple[Rule, ...] = (
    # https://user:pass@host, https://<token>@host; `git@` (ssh) is no credential.
    _rule(
        URL_CREDENTIAL,
        r"(?P<scheme>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*+://)(?!git@)"
        r"[^\s/?#@<>'\"`]++@(?=[\w\[])",
        r"\g<scheme><redacted>@",
    ),
    _rule(
        TOKEN,
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
        "<private-key>",
        re.DOTALL,
    ),
    _rule(
        TOKEN,
        r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{30,255})"
        r"(?![A-Za-z0-9_])",
        "<github-token>",
    ),
    _rule(TOKEN, r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])", "<hf-token>"),
    # OpenAI (`sk-...`, `sk-proj-...`) and others of the same shape (`sk-ant-...`).
    _rule(
        TOKEN,
        r"(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])",
        "<api-key>",
    ),
    _rule(
        TOKEN,
        r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Z0-9])",
        "<aws-key-id>",
    ),
    _rule(
        TOKEN,
        r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        "<jwt>",
    ),
    _rule(
        TOKEN,
        r"\b(?P<lead>[Bb]earer\s+)(?!<)[A-Za-z0-9._~+/-]{16,}=*",
        r"\g<lead><redacted>",
    ),
    # kaggle.json: {"username":"jane","key":"<32 hex>"}
    _rule(
        TOKEN,
        r"(?P<lead>[\"']key[\"']\s*:\s*[\"'])[0-9a-fA-F]{32}(?=[\"'])",
        r"\g<lead><kaggle-key>",
    ),
    _rule(
        USER_NAME,
        r"(?P<lead>[\"']username[\"']\s*:\s*[\"'])(?![<\"'])[^\"'\s]+(?=[\"'])",
        r"\g<lead><user>",
    ),
    _rule(
        USER_NAME,
        r"(?<!\w)(?P<lead>KAGGLE_USERNAME[\"']?\]?\s*[=:]\s*[\"']?)(?![<\"'])[^\s\"'&;,)]+",
        r"\g<lead><user>",
        re.IGNORECASE,
    ),
    # NAME=value, NAME: value, "NAME": "value", os.environ["NAME"] = "value",
    # os.environ.setdefault("NAME", "value"), --name value; for names ending in TOKEN,
    # SECRET, PASSWORD, _KEY, ...
    _rule(
        SECRET,
        rf"(?P<name>{_SECRET_NAME})"
        r"(?P<sep>[\"']?\]?\s*(?:==?|:=|:(?!:))\s*|[\"']\s*,\s*|(?(flag)[ \t]+|(?!)))"
        r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s'\"`,;&()\[\]{}<>]+)",
        _secret_value,
        re.IGNORECASE,
    ),
    _rule(
        EMAIL,
        r"(?<![\w.+%-])(?!git@)[A-Za-z0-9][A-Za-z0-9._%+-]*+"
        r"@(?:[A-Za-z0-9][A-Za-z0-9-]*+\.)+"
        rf"(?:[A-Za-z]{{2}}|{_TLDS})(?![\w(-])",
        "<email>",
        re.IGNORECASE,
    ),
    # Colab mounts Drive at /content/drive (old notebooks: /content/gdrive).
    _rule(PATH, rf"{_PATH_START}/content/g?drive(?![\w.-])(?P<rest>{_POSIX_TAIL})", _drive_path),
    # C:\Users\jane before /Users/jane, which `C:/Users/jane` contains.
    _rule(
        PATH,
        rf"(?<![\w])[A-Za-z]:(?P<sep>{_WIN_SEP})(?i:users)(?P=sep){_SEG}(?P<rest>{_WIN_TAIL})",
        _windows_home_path,
    ),
    _rule(PATH, rf"{_PATH_START}/(?:home|Users)/{_SEG}(?P<rest>{_POSIX_TAIL})", _home_path),
)
"""The fixed patterns, in the order they apply."""

_PLACEHOLDERS = (
    "<redacted> <private-key> <github-token> <hf-token> <api-key> <aws-key-id> <jwt>"
    " <kaggle-key> <user> <email> <drive> ~/.../"
)
# Logins that name no one: Colab's, containers', CI's. Never redacted as user names.
_GENERIC_NAMES = frozenset(
    [
        "root",
        "admin",
        "administrator",
        "user",
        "users",
        "guest",
        "nobody",
        "default",
        "colab",
        "jovyan",
        "runner",
        "ubuntu",
        "debian",
        "vscode",
        "codespace",
        "codespaces",
        "ec2-user",
        "pi",
        "git",
        "home",
        "content",
        "drive",
        "test",
        "dev",
        "envfix",
    ]
)
_MIN_NAME = 3
"""Shorter names are not redacted: `li` or `al` would eat ordinary words."""
_MIN_PART = 4
"""The words of a longer name ("Jane Doe") are redacted alone from this length on, so that
"Max Planck" does not turn `torch.max` into `torch.<user>`."""


def _name_words(names: Iterable[str]) -> list[str]:
    """The words to redact for these names: each name whole, the words of a multi-word
    name, and the part of an e-mail address before the `@`."""
    words: set[str] = set()
    for name in names:
        name = name.strip()
        if len(name) >= _MIN_NAME:
            words.add(name)
        parts = name.split()
        if "@" in name:
            parts.append(name.split("@", 1)[0])
        words.update(part for part in parts if len(part) >= _MIN_PART and part != name)
    return [
        word
        for word in sorted(words, key=lambda w: (-len(w), w))
        if word.lower() not in _GENERIC_NAMES and not _word_pattern(word).search(_PLACEHOLDERS)
    ]


def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)


def _home_rule(home: str) -> Rule | None:
    """A rule for a home folder the fixed rules do not cover (`/data/users/jane`)."""
    home = home.rstrip("/\\")
    if not home or home in ("~", "/root") or any(r.pattern.fullmatch(home) for r in RULES):
        return None
    return _rule(
        PATH,
        rf"{_PATH_START}{re.escape(home)}(?![^\s/\\'\"`<>|:*?,;()\[\]{{}}])"
        rf"(?P<rest>{_POSIX_TAIL})",
        _home_path,
    )


def _local_login() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER/LOGNAME and no password entry
        return None


def _local_home() -> str:
    return os.path.expanduser("~")  # "~" itself when there is no home to find


class Redactor:
    """Redacts text after text, counting what it took out across all of them.

    `names` are words to redact besides the login name (the git author's name and e-mail);
    `home` is a home folder outside /home, /Users and C:\\Users to shorten to `~`. With
    `local` (the default), this machine's login name and home folder are added.
    """

    def __init__(
        self, *, names: Iterable[str] = (), home: str | None = None, local: bool = True
    ) -> None:
        words = list(names)
        homes = [home] if home else []
        if local:
            login = _local_login()
            words += [login] if login else []
            homes.append(_local_home())
        rules = list(RULES)
        for folder in dict.fromkeys(homes):
            rule = _home_rule(folder)
            if rule is not None:
                rules.append(rule)
        words = _name_words(words)
        # A full name ("Jane Doe") is redacted wherever it is. A single word of a name is
        # not redacted where it is code: a student called Seed Lee must not turn
        # `np.random.seed(0)`, `seed = 0` or `import ray` into `<user>`.
        spaced = [word for word in words if " " in word]
        single = [word for word in words if " " not in word]
        if spaced:
            alternatives = "|".join(re.escape(word) for word in spaced)
            pattern = rf"(?<!\w)(?:{alternatives})(?!\w)"
            rules.append(_rule(USER_NAME, pattern, "<user>", re.IGNORECASE))
        if single:
            alternatives = "|".join(re.escape(word) for word in single)
            pattern = (
                rf"(?<![\w.])(?<!import )(?<!from )(?<!def )(?:{alternatives})"
                rf"(?![\w.])(?!\s*[(=\[,])"
            )
            rules.append(_rule(USER_NAME, pattern, "<user>", re.IGNORECASE))
        self._rules = tuple(rules)
        self._counts: Counter[str] = Counter()

    def redact(self, text: str) -> str:
        """`text` with its private facts replaced; the counts grow by what was replaced."""
        for rule in self._rules:
            text = rule.pattern.sub(partial(self._replace, rule), text)
        return text

    def _replace(self, rule: Rule, match: re.Match[str]) -> str:
        if isinstance(rule.replacement, str):
            new: str | None = match.expand(rule.replacement)
        else:
            new = rule.replacement(match)
        if new is None or new == match[0]:
            return match[0]
        self._counts[rule.category] += 1
        return new

    def counts(self) -> tuple[tuple[str, int], ...]:
        """(category, count) for every category redacted so far, in `CATEGORIES` order."""
        return tuple((c, self._counts[c]) for c in CATEGORIES if self._counts[c])

    def summary(self) -> str:
        """`Redacted: 2 paths, 1 token, 1 e-mail address.`, or "" when nothing was."""
        return describe(self.counts())


def redact(
    text: str, *, names: Iterable[str] = (), home: str | None = None, local: bool = True
) -> Redaction:
    """One text redacted (see `Redactor` for the arguments)."""
    redactor = Redactor(names=names, home=home, local=local)
    return Redaction(redactor.redact(text), redactor.counts())


def describe(counts: Iterable[tuple[str, int]]) -> str:
    """`Redacted: 2 paths, 1 token, 1 e-mail address.` for (category, count) pairs, or ""
    when there are none."""
    counted = [f"{n} {_plural(category, n)}" for category, n in counts if n]
    return f"Redacted: {', '.join(counted)}." if counted else ""


def _plural(label: str, count: int) -> str:
    if count == 1:
        return label
    return label + ("es" if label.endswith("s") else "s")
