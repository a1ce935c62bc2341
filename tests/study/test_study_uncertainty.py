"""The answer with its uncertainty (study/uncertainty.py): the crossover search, the ranges and
the sensitivity of a small real study."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from vtlbsim.study import uncertainty_render as render
from vtlbsim.study.spec import StudySpec
from vtlbsim.study.uncertainty import _crossover, assumptions_for, for_study


def test_crossover_of_a_straight_line() -> None:
    """diff(r) = 100 - 0.5 r changes sign at r = 200 (regula falsi: exact for a line)."""
    assert _crossover(lambda r: 100.0 - 0.5 * r) == pytest.approx(200.0, rel=1e-6)
    assert _crossover(lambda r: -1.0) == -math.inf  # the baseline is cheaper everywhere
    assert _crossover(lambda r: 1.0) == math.inf  # the baseline is never cheaper


def test_assumption_ranges_come_from_the_calibration() -> None:
    got = {a.name: a for a in assumptions_for(1.97, 14.27)}
    lat, recv = got["DVM latency (operation + Sync)"], got["DVM receiver stall"]
    assert lat.low == pytest.approx(1 / 1.97) and lat.high == pytest.approx(14.27)
    assert recv.low == pytest.approx(1 / 1.97) and recv.high == pytest.approx(1.97)
    assert got["branch-predictor retraining"].low == 0.0


SPEC = {
    "name": "tiny-uncertainty",
    "axes": {
        "platforms": ["thunderx-cn8890-2s"],
        "pcpus": [16],
        "policies": ["fb", "flush-on-migrate"],
        "migration_rates": [10, 100],
        "seeds": [0],
        "modes": ["analytic"],
    },
    "mixes": [{"name": "arm32-up", "domains": [{"kind": "linux-arm32-up", "per_pcpu": 2}]}],
    "report": {"migration_rate": 100},
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    spec = StudySpec.model_validate(SPEC)
    out = tmp_path_factory.mktemp("unc")
    return spec, out, for_study(spec, out / "figures", samples=6)


def test_a_small_study_gets_ranges_and_a_chart(small) -> None:  # type: ignore[no-untyped-def]
    spec, out, u = small
    assert [m.mix for m in u.mixes] == ["arm32-up"]
    m = u.mixes[0]
    assert len(m.samples) == 6 and len(m.sensitivity) == len(u.assumptions)
    lo, hi = m.band("base")
    assert 0 < lo <= hi
    assert {p.suffix for p in u.figures} == {".svg", ".png"}
    assert all(p.stat().st_size > 0 for p in u.figures)
    from vtlbsim.study.render import write_html, write_markdown

    secs = render.sections(u)
    assert [s.title for s in secs][0] == "The answer with its uncertainty"
    md = write_markdown(out / "r.md", "t", [], secs).read_text()
    assert "crossover" in md and "Calibration" in md and "validate:" in md
    assert "sensitivity-thunderx-cn8890-2s.png" in md
    page = write_html(out / "r.html", "t", [], secs).read_text()
    assert "<svg" in page and "ye-2020-flush-tlb-range" in page
    assert "crossover" in render.text(u)


def test_more_guest_maintenance_makes_fb_lose_later(small) -> None:  # type: ignore[no-untyped-def]
    """Twice the UP guests' PTE changes (each an FB-upgraded broadcast) makes FB dearer, so the
    migration rate at which flushing on migration catches up is higher; half, lower."""
    _, _, u = small
    lo, hi = next((lo, hi) for name, lo, hi in u.mixes[0].sensitivity if "PTE" in name)
    assert lo < u.mixes[0].nominal.crossover < hi


def test_the_same_study_gives_the_same_ranges(small, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec, _, u = small
    again = for_study(spec, tmp_path, samples=6)
    assert render.text(again) == render.text(u)


def test_a_fake_evaluator_gets_a_note(tmp_path: Path) -> None:
    spec = StudySpec.model_validate({**SPEC, "evaluator": "study_fake_eval:evaluate"})
    u = for_study(spec, tmp_path)
    assert not u.mixes and "Not computed" in render.text(u)
