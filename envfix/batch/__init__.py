"""envfix batch: many repos at once, for instructors.

- `repos`: the repo list (`REPO[@REF] [NOTEBOOK]` a line) as `BatchItem`s, and shards;
- `process`: each repo through `envfix clone` in a process of its own, as a `BatchRow`;
- `summary`: the rows as `summary.json`, `summary.md` and `summary.html`, and merged.
"""
