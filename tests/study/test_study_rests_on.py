"""The headline says what it rests on (issue 14 item 3): the bound behind "safe", and for each
recommendation the causes that make up its margin with the profile figures they are priced in;
on the terminal the headline fits 80 columns and never cuts a policy name."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from vtlbsim.cost.causes import CAUSES
from vtlbsim.cost.platform import FIGURES
from vtlbsim.study.report import CAUSE_FIGURES, Headline, rests_on
from vtlbsim.study.spec import StudySpec


def test_every_cause_is_priced_in_figures_the_profiles_have() -> None:
    assert set(CAUSE_FIGURES) == set(CAUSES)
    assert all(f in FIGURES for figs in CAUSE_FIGURES.values() for f in figs)


def _spec() -> StudySpec:
    return StudySpec.model_validate(
        {
            "name": "t",
            "axes": {"platforms": ["thunderx-cn8890-2s"], "pcpus": [96], "policies": ["a", "b"]},
            "mixes": [{"name": "m", "domains": [{"kind": "linux-arm32-up", "count": 1}]}],
        }
    )


def _headline(mix: str, dvm: float, bp: float) -> Headline:
    return Headline(
        platform="thunderx-cn8890-2s",
        mix=mix,
        pcpus=96,
        rate=100.0,
        overhead={"a": 0.01, "b": dvm + bp},
        safe={"a": True, "b": True},
        best="a",
        tied=[],
        runner_up="b",
        wins=1,
        grid=1,
        others=Counter(),
        causes={"a": {"hyp_flush": 0.01}, "b": {"dvm_others": dvm, "bp_retrain": bp}},
        invalid={"b"} if dvm + bp > 100 else set(),
    )


def test_rests_on_names_the_bound_the_causes_and_their_figures() -> None:
    # margin 4 - 0.01 = 3.99: dvm-others 3/3.99 = 75%, the rest is bp-retrain
    lines = rests_on(_spec(), [_headline("m1", 3.0, 1.0)])
    assert lines[0].startswith('"safe" = no violation found within 10 actions on 2 pCPUs')
    assert len(lines) == 2
    assert lines[1].startswith("m1: `a` is cheaper than `b` (96 pCPUs, thunderx-cn8890-2s)")
    assert "75% dvm-others (priced by `dvm_receive_cycles` = " in lines[1]
    assert "(assumption)" in lines[1] and "bp-retrain" not in lines[1]


def test_same_causes_are_one_sentence_with_the_range_of_shares() -> None:
    lines = rests_on(_spec(), [_headline("m1", 3.0, 1.0), _headline("m2", 9.0, 1.0)])
    # m2: 9/9.99 = 90% dvm-others: same cause as m1, merged with the range 75-90%
    assert len(lines) == 2 and lines[1].startswith("m1, m2: ")
    assert "75–90% dvm-others" in lines[1]


def test_saturated_points_are_named() -> None:
    lines = rests_on(_spec(), [_headline("m1", 150.0, 1.0)])
    assert lines[-1] == (
        "outside the model's validity (overhead above 100% of the machine's cycles): m1 under b."
    )


@pytest.mark.parametrize("width", [80, 100])
def test_report_headline_fits_the_terminal(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    from study_helpers import small_study

    out = small_study(tmp_path)
    monkeypatch.setenv("COLUMNS", str(width))
    code, text, err = cli(["report", str(out)])
    assert code == 0, err
    assert all(len(ln) <= width for ln in text.splitlines() if not ln.startswith("report: "))
    flat = " ".join(text.split())
    for p in ("fb", "flush-on-migrate", "trap-ttlb", "flush-on-arrival"):
        assert re.search(rf"(^|[\s=,]){re.escape(p)}([\s,]|$)", flat), p
    assert flat.index("the answer rests on:") < flat.index("mix")
