"""The report names the predictor reading each platform's AArch32 verdicts rest on, and what the
other readings would change. Expectations from the hand table (tests/check/data/verdicts.toml,
linux-arm32-up): under `fb` its new code on pCPU B leaves A's prediction of the old code, since
FB upgrades its ICIALLU but (pseudocode reading) not its BPIALL: unsafe where predictors are
visible, safe where FB upgrades BPIALL or predictors are invisible; `flush-on-migrate`'s IC
IALLU flushes visible predictions on the way back: safe under every reading."""

from __future__ import annotations

from vtlbsim.study.readings import reading_lines
from vtlbsim.study.spec import StudySpec


def _spec(kind: str, policies: list[str]) -> StudySpec:
    return StudySpec.model_validate(
        {
            "name": "readings",
            "axes": {"platforms": ["thunderx-cn8890-2s"], "pcpus": [8], "policies": policies},
            "mixes": [{"name": "m", "domains": [{"kind": kind, "count": 1}]}],
        }
    )


def test_a_visible_platform_says_what_the_other_readings_make_safe() -> None:
    (line,) = reading_lines(
        _spec("linux-arm32-up", ["fb", "flush-on-migrate"]),
        ["thunderx-cn8890-2s"],
        ["fb", "flush-on-migrate"],
    )
    assert "read as `visible`" in line
    assert "under `visible-fb`: `fb` safe for linux-arm32-up" in line
    assert "under `invisible`: `fb` safe for linux-arm32-up" in line
    assert "flush-on-migrate" not in line


def test_an_invisible_platform_says_what_visible_predictors_would_break() -> None:
    (line,) = reading_lines(
        _spec("linux-arm32-up", ["fb"]), ["cortex-a57-juno"], ["fb", "flush-on-migrate"]
    )
    assert "read as `invisible`" in line
    assert "under `visible`: `fb` unsafe for linux-arm32-up" in line
    assert "under `visible-fb`: no verdict changes" in line


def test_aarch64_guests_rest_on_no_reading() -> None:
    assert reading_lines(_spec("linux-arm64-smp", ["fb"]), ["thunderx-cn8890-2s"], ["fb"]) == []
