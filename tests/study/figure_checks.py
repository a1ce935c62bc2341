"""Checks that a drawn report figure cannot be misread (not a test module): every series the
data has is in a legend label, every drawn line is visible somewhere, every marker stands on a
value the data holds, and no legend covers a plotting area. They read what matplotlib drew
(the Line2D data, axis limits and scales, legend and axes extents)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

VISIBLE = 0.01
"""A line is visible where it is at least this share of the panel's height from every other."""


def label_members(label: str) -> list[str]:
    """The policies a legend label stands for: ``fb = fb+last-vcpu-ran``,
    ``a ≈ b (within 0.1%)``, ``trap-ttlb (unsafe)``."""
    text = re.sub(r"\((unsafe|within [^)]*|no crossover in range)\)", "", label)
    return [p.strip() for p in re.split(r"\s[=≈]\s", text) if p.strip()]


def drawn(ax: Axes) -> list[Line2D]:
    """The labelled data lines of an axes (not grid or reference lines)."""
    return [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]


def _frac(ax: Axes, y: float) -> float:
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "log":
        return (math.log10(y) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return (y - lo) / (hi - lo)


def check_panel(ax: Axes, data: dict[str, list[tuple[float, float]]]) -> None:
    """One panel against its data (policy → points)."""
    lines = drawn(ax)
    members = [label_members(ln.get_label()) for ln in lines]
    listed = [p for m in members for p in m]
    assert sorted(listed) == sorted(p for p, pts in data.items() if pts), (listed, list(data))
    for ln, mem in zip(lines, members, strict=True):
        pts = {(float(x), float(y)) for x, y in ln.get_xydata()}
        assert pts == {(float(x), float(y)) for x, y in data[mem[0]]}, (mem, pts)
        for other in mem[1:]:  # merged: same x values, and y as the label says
            assert {x for x, _ in data[other]} == {x for x, _ in pts}
            if " = " + other in ln.get_label():
                assert sorted(data[other]) == sorted(pts)
    for ln in lines:  # visible: somewhere apart from every other line
        others = [o for o in lines if o is not ln]
        at = {o: dict(o.get_xydata().tolist()) for o in others}
        seen = False
        for x, y in ln.get_xydata():
            gaps = [abs(_frac(ax, y) - _frac(ax, at[o][x])) for o in others if x in at[o]]
            if all(g >= VISIBLE for g in gaps):
                seen = True
                break
        assert seen, f"{ln.get_label()!r} is hidden under other lines everywhere"


def check_legends_outside(fig: Figure) -> None:
    """No legend overlaps the plotting area of any axes of the figure."""
    canvas = FigureCanvasAgg(fig)  # a closed figure has lost its pyplot canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [ax.get_window_extent(renderer) for ax in fig.axes if ax.axison]
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        lb = leg.get_window_extent(renderer)
        for b in boxes:
            assert not lb.overlaps(b), f"legend of {ax.get_title()!r} covers an axes"


def panels_of(fig: Figure) -> Iterable[Axes]:
    return [ax for ax in fig.axes if ax.axison and ax.get_title()]


def check_crossover(fig: Figure, lines: dict[str, list[tuple[int, float | None, str]]]) -> None:
    """The crossover figure against its data: on the rate axis, exactly the crossovers found
    (each inside the axis); in the ▲/▼ strips, exactly the (mix, pCPUs) above/below the range."""
    axes = [ax for ax in fig.axes if ax.axison]
    main = next(ax for ax in axes if ax.get_ylabel() == "migrations per vCPU-second")
    lo, hi = main.get_ylim()
    for ln in drawn(main):
        mix = label_members(ln.get_label())[0]
        found = {(float(x), float(r)) for x, r, how in lines[mix] if how == "" and r is not None}
        pts = {(float(x), float(y)) for x, y in ln.get_xydata()}
        assert pts == found, (mix, pts, found)
        assert all(lo <= y <= hi for _, y in pts)
    assert sorted(label_members(ln.get_label())[0] for ln in drawn(main)) == sorted(lines)
    strips = [ax for ax in axes if ax is not main]
    want = {
        (mix, float(x), how)
        for mix, pts in lines.items()
        for x, _, how in pts
        if how in ("above", "below")
    }
    got = set()
    for ax in strips:
        names = [t.get_text() for t in ax.get_yticklabels()]
        how = "above" if "above" in ax.get_ylabel() else "below"
        for ln in ax.get_lines():
            for x, row in ln.get_xydata():
                assert float(row).is_integer()
                got.add((names[int(row)], float(x), how))
    assert got == want


def capture(build: Callable[[], Any]) -> list[tuple[str, Figure, Any]]:
    """Run ``build`` (a report build) and return every panel and crossover figure it drew,
    with the data it drew it from."""
    from vtlbsim.study import figures

    seen: list[tuple[str, Figure, Any]] = []
    real_panels, real_cross = figures.draw_panels, figures.draw_crossover

    def panels(series: Any, *a: Any, **k: Any) -> Figure:
        fig = real_panels(series, *a, **k)
        seen.append(("panels", fig, series))
        return fig

    def cross(lines: Any, *a: Any, **k: Any) -> Figure:
        fig = real_cross(lines, *a, **k)
        seen.append(("crossover", fig, lines))
        return fig

    mp = pytest.MonkeyPatch()
    mp.setattr(figures, "draw_panels", panels)
    mp.setattr(figures, "draw_crossover", cross)
    try:
        build()
    finally:
        mp.undo()
    return seen


def check_all(drawn_figures: list[tuple[str, Figure, Any]]) -> None:
    """Every captured figure passes the checks above."""
    for kind, fig, data in drawn_figures:
        if kind == "panels":
            for ax in panels_of(fig):
                check_panel(ax, data[ax.get_title()])
        else:
            check_crossover(fig, data)
        check_legends_outside(fig)
