"""Figures that cannot be misread (issue 14 item 2): coinciding series merged into one line
that names them all, out-of-range crossovers in their own strips and in words, legends outside
the plots; checked on hand-made data and on every figure the report draws."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from figure_checks import (
    capture,
    check_all,
    check_crossover,
    check_legends_outside,
    check_panel,
    label_members,
    panels_of,
)

from vtlbsim.study.figures import crossover_words, draw_crossover, draw_panels, merge_coinciding

X = [8, 16, 32, 64, 96]


def pts(ys: list[float]) -> list[tuple[float, float]]:
    return list(zip(X, ys, strict=True))


# The case: fb under fb+last-vcpu-ran, flush-on-migrate under flush-on-arrival.
FB = [0.35, 0.74, 1.5, 3.1, 4.573]
PANEL = {
    "fb": pts(FB),
    "flush-on-migrate": pts([0.03, 0.017, 0.0099, 0.0061, 0.0048]),
    "flush-on-arrival": pts([0.03, 0.017, 0.0099, 0.0061, 0.0048]),
    "fb+last-vcpu-ran": pts([y * 1.001 for y in FB]),  # 0.1% above fb: hidden under it
    "trap-ttlb": pts([0.025, 0.035, 0.055, 0.13, 0.17]),
}
ORDER = ["fb", "flush-on-migrate", "flush-on-arrival", "fb+last-vcpu-ran", "trap-ttlb"]


def test_equal_and_nearly_equal_series_are_one_labelled_line() -> None:
    lines = merge_coinciding(PANEL, ORDER, {"trap-ttlb"}, log=True)
    assert [ln.label for ln in lines] == [
        "fb ≈ fb+last-vcpu-ran (within 0.1%)",
        "flush-on-migrate = flush-on-arrival",
        "trap-ttlb (unsafe)",
    ]
    assert lines[0].points == tuple(PANEL["fb"])  # drawn at the first one's values
    assert [ln.unsafe for ln in lines] == [False, False, True]


def test_series_apart_somewhere_stay_apart() -> None:
    """fb and fb+last-vcpu-ran meet at 96 pCPUs only: two lines."""
    other = pts([0.8, 1.2, 2.0, 3.5, 4.573])
    lines = merge_coinciding({"fb": pts(FB), "b": other}, ["fb", "b"], set(), log=True)
    assert [ln.label for ln in lines] == ["fb", "b"]


def test_panels_show_every_series_at_its_values_and_legends_outside() -> None:
    series = {
        "arm32-up": PANEL,
        "arm64-smp": {p: pts([1e-5 * (i + 1)] * 5) for i, p in enumerate(ORDER)},
    }
    fig = draw_panels(series, {("arm32-up", "trap-ttlb")}, ORDER, title="t", ylabel="y")
    try:
        panels = list(panels_of(fig))
        assert [ax.get_title() for ax in panels] == ["arm32-up", "arm64-smp"]
        for ax in panels:
            check_panel(ax, series[ax.get_title()])
        check_legends_outside(fig)
        labels = [ln.get_label() for ln in panels[0].get_lines()]
        assert "trap-ttlb (unsafe)" in labels
    finally:
        plt.close(fig)


CROSS = {
    "arm32-up": [(8, 1090.0, ""), (16, 3690.0, ""), (32, None, "above"), (96, None, "above")],
    "arm64-local": [(8, 110.0, ""), (16, 320.0, ""), (32, 1050.0, ""), (96, 9610.0, "")],
    "arm64-smp": [
        (8, None, "below"),
        (16, None, "below"),
        (32, None, "below"),
        (96, None, "below"),
    ],
    "up-mix": [(8, 1100.0, ""), (16, None, "above"), (32, None, "above"), (96, None, "above")],
}


def test_crossover_out_of_range_is_in_strips_never_on_the_rate_axis() -> None:
    fig = draw_crossover(CROSS, (1.0, 10000.0), title="t")
    try:
        check_crossover(fig, CROSS)
        check_legends_outside(fig)
    finally:
        plt.close(fig)


def test_crossover_words() -> None:
    assert crossover_words(CROSS, (1.0, 10000.0), "fb", "flush-on-migrate") == [
        "fb is not cheaper than flush-on-migrate at any swept rate up to 10000/s (crossover "
        "above the range): arm32-up at 32–96 pCPUs; up-mix at 16–96 pCPUs.",
        "fb is already cheaper than flush-on-migrate at 1/s (crossover below the range): "
        "arm64-smp at every core count.",
    ]


def test_label_members() -> None:
    assert label_members("fb ≈ fb+last-vcpu-ran (within 0.1%)") == ["fb", "fb+last-vcpu-ran"]
    assert label_members("a (unsafe) = b (unsafe)") == ["a", "b"]


def test_every_report_figure_passes_the_checks(tmp_path: Path) -> None:
    """Every figure the real report draws for the small study."""
    from study_helpers import small_study

    from vtlbsim.study.report import build_report

    out = small_study(tmp_path)
    drawn_figures = capture(lambda: build_report(out, tmp_path / "rep"))
    kinds = [k for k, _, _ in drawn_figures]
    assert kinds.count("panels") == 2 and kinds.count("crossover") == 1
    check_all(drawn_figures)


@pytest.mark.slow
def test_every_flagship_figure_passes_the_checks(tmp_path: Path) -> None:
    """The same on the flagship study (`make run`'s report)."""
    from vtlbsim import flagship
    from vtlbsim.study.report import build_report
    from vtlbsim.study.run import run_study
    from vtlbsim.study.spec import load_spec

    run_study(load_spec(flagship.SPEC), tmp_path / "seed", workers=2, fancy=False)
    drawn_figures = capture(lambda: build_report(tmp_path / "seed"))
    assert [k for k, _, _ in drawn_figures].count("crossover") == 1
    check_all(drawn_figures)
