"""The built-in kinds' rates that cite the census say what the shipped census results give
(census/builtin.py: per-process figure of the exec census x the kind's assumed process rate),
and the conversion itself on a hand-made example."""

from __future__ import annotations

import tomllib

import pytest

from vtlbsim import datafiles
from vtlbsim.census import builtin

ENTRIES = builtin.entries()


def test_some_kinds_cite_the_census() -> None:
    assert {"linux-arm64-smp", "linux-arm32-smp", "linux-arm32-up"} <= set(ENTRIES)


@pytest.mark.parametrize(
    ("kind", "key"), [(k, r) for k, rates in sorted(ENTRIES.items()) for r in sorted(rates)]
)
def test_shipped_kind_files_say_what_the_results_give(kind: str, key: str) -> None:
    path = datafiles.package_dir(datafiles.GUESTS) / f"{kind}.toml"
    entry = tomllib.loads(path.read_text())["rates"][key]
    value, source = ENTRIES[kind][key]
    assert entry == {"value": value, "source": source}, (
        "run: python -m vtlbsim.census.builtin --write"
    )


def test_rewrite_touches_only_the_named_rates() -> None:
    text = (
        '[discipline]\npte_user = { value = [], source = "x" }\n'
        '[rates]\npte_changes_per_s = { value = 1.0, assumption = "old" }\n'
        'shared_fraction = { value = 0.3, assumption = "kept" }\n'
    )
    new = builtin.rewrite(text, {"pte_changes_per_s": (2998.0, 'measured: "quoted"')})
    data = tomllib.loads(new)
    assert data["rates"]["pte_changes_per_s"] == {"value": 2998.0, "source": 'measured: "quoted"'}
    assert data["rates"]["shared_fraction"] == {"value": 0.3, "assumption": "kept"}
    assert data["discipline"] == tomllib.loads(text)["discipline"]
