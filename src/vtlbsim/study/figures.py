"""The report's figures (matplotlib, Agg backend), each written as PNG and SVG.

Inputs are plain tables the report computes from the store (seed-averaged), so each figure is
a pure function of the data: the same store draws the same figure. Each figure is drawn so it
cannot be misread:

- series that coincide on screen are one line whose label names them all: ``fb =
  fb+last-vcpu-ran`` (equal values) or ``a ≈ b (within 0.1%)`` (closer than a marker); the
  line is drawn at the first one's values, so no marker stands where no data is;
- a crossover outside the swept range is not drawn on the rate axis: it is a ▲ (above) or ▼
  (below) in a strip above or below the plot, one row per mix, and the report says it in words
  (:func:`crossover_words`);
- legends stand outside the plotting area, so they never cover data.

``draw_*`` build a Figure (tests inspect what it draws); the others save it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

# Deterministic SVG output (no random ids, no dates).
plt.rcParams["svg.hashsalt"] = "vtlbsim"
plt.rcParams["svg.fonttype"] = "none"
METADATA_SVG = {"Date": None, "Creator": "vtlbsim"}
METADATA_PNG = {"Software": "vtlbsim"}

Series = dict[str, dict[str, list[tuple[float, float]]]]
"""panel (mix) → line (policy) → [(x, y)]"""

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<"]

SAME_ON_SCREEN = 0.02
"""Two series closer than this share of the panel's height at every x are one line (a
marker is about 2% of a panel's height)."""


def _save(fig: Figure, dest: Path, stem: str) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    png, svg = dest / f"{stem}.png", dest / f"{stem}.svg"
    fig.savefig(png, dpi=110, metadata=METADATA_PNG)
    fig.savefig(svg, metadata=METADATA_SVG)
    plt.close(fig)
    return [png, svg]


def _log_ok(values: Sequence[float]) -> bool:
    pos = [v for v in values if v > 0]
    return bool(pos) and len(pos) == len(values) and max(pos) / min(pos) > 50


@dataclass(frozen=True)
class Line:
    """One drawn line: the policies it stands for and the points drawn (the first's)."""

    members: tuple[str, ...]
    points: tuple[tuple[float, float], ...]
    label: str
    style: int
    """Index of the first member in the policy order (its colour and marker)."""
    unsafe: bool
    """Every member is unsafe for a guest of the mix (drawn dashed)."""


def _pos(y: float, log: bool) -> float:
    return math.log10(y) if log else y


def _close(
    a: list[tuple[float, float]], b: list[tuple[float, float]], log: bool, tol: float
) -> bool:
    """Same x values, and at each one y values closer than ``tol`` in plotting units."""
    if [x for x, _ in a] != [x for x, _ in b]:
        return False
    return all(
        abs(_pos(ya, log) - _pos(yb, log)) < tol for (_, ya), (_, yb) in zip(a, b, strict=True)
    )


def _spread(lead: list[tuple[float, float]], other: list[tuple[float, float]], log: bool) -> str:
    """How far ``other`` is from ``lead`` at most: '' if equal, else 'within …'."""
    worst = 0.0
    for (_, a), (_, b) in zip(lead, other, strict=True):
        if log:
            worst = max(worst, abs(b - a) / abs(a))
        else:
            worst = max(worst, abs(b - a))
    if worst <= 1e-9 * max(abs(y) for _, y in lead) or worst == 0.0:
        return ""
    return f"within {100 * worst:.2g}%" if log else f"within ±{worst:.2g}"


def merge_coinciding(
    lines: dict[str, list[tuple[float, float]]],
    order: Sequence[str],
    unsafe: set[str],
    log: bool,
) -> list[Line]:
    """The lines to draw for one panel: series that coincide on screen (closer than
    ``SAME_ON_SCREEN`` of the data's height at every x) grouped, in ``order``."""
    names = [p for p in order if lines.get(p)]
    ys = [_pos(y, log) for p in names for _, y in lines[p]]
    span = (max(ys) - min(ys)) if ys else 0.0
    tol = SAME_ON_SCREEN * span if span > 0 else 1e-12
    group = {p: p for p in names}

    def root(p: str) -> str:
        while group[p] != p:
            p = group[p]
        return p

    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if _close(sorted(lines[a]), sorted(lines[b]), log, tol):
                ra, rb = root(a), root(b)
                if ra != rb:
                    group[rb if names.index(rb) > names.index(ra) else ra] = min(
                        ra, rb, key=names.index
                    )
    out = []
    for lead in [p for p in names if root(p) == p]:
        members = tuple(p for p in names if root(p) == lead)
        pts = sorted(lines[lead])
        parts = []
        for m in members:
            text = m + (" (unsafe)" if m in unsafe else "")
            if m != lead:
                spread = _spread(pts, sorted(lines[m]), log)
                text = ("≈ " if spread else "= ") + text + (f" ({spread})" if spread else "")
            parts.append(text)
        out.append(
            Line(
                members,
                tuple(pts),
                " ".join(parts),
                list(order).index(lead),
                all(m in unsafe for m in members),
            )
        )
    return out


def _wrapped(label: str, width: int = 30) -> str:
    """A long merged label on several lines, one policy per line (narrower legends)."""
    if len(label) <= width:
        return label
    return label.replace(" = ", "\n= ").replace(" ≈ ", "\n≈ ")


def _legend_outside(ax: Axes, **kw: object) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=7, **kw)


def draw_panels(
    series: Series,
    unsafe: set[tuple[str, str]],
    policies: Sequence[str],
    *,
    title: str,
    ylabel: str,
) -> Figure:
    """One panel per mix, one line per policy (x = pCPUs), coinciding ones merged; unsafe
    (mix, policy) lines dashed; each panel's legend to its right."""
    mixes = list(series)
    cols = 2 if len(mixes) > 1 else 1
    rows = math.ceil(len(mixes) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(7.2 * cols, 3.3 * rows), squeeze=False, constrained_layout=True
    )
    for i, mix in enumerate(mixes):
        ax = axes[i // cols][i % cols]
        ys = [y for pts in series[mix].values() for _, y in pts]
        log = _log_ok(ys)
        bad = {p for p in policies if (mix, p) in unsafe}
        for line in merge_coinciding(series[mix], policies, bad, log):
            xs, vs = zip(*line.points, strict=True)
            ax.plot(
                xs,
                vs,
                marker=MARKERS[line.style % len(MARKERS)],
                color=f"C{line.style % 10}",
                label=_wrapped(line.label),
                linestyle="--" if line.unsafe else "-",
                markersize=4,
                alpha=0.6 if line.unsafe else 1.0,
            )
        if log:
            ax.set_yscale("log")
        ax.set_title(mix, fontsize=10)
        ax.set_xlabel("pCPUs")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        _legend_outside(ax)
    for k in range(len(mixes), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle(title, fontsize=11)
    return fig


def panels_by_policy(
    series: Series,
    unsafe: set[tuple[str, str]],
    policies: Sequence[str],
    *,
    title: str,
    ylabel: str,
    dest: Path,
    stem: str,
) -> list[Path]:
    """:func:`draw_panels`, saved as ``dest/stem.png`` and ``.svg``."""
    return _save(draw_panels(series, unsafe, policies, title=title, ylabel=ylabel), dest, stem)


Crossovers = dict[str, list[tuple[int, float | None, str]]]
"""mix → [(pCPUs, crossover rate or None, how)], how = "" (found), "above", "below", "none"."""


def draw_crossover(lines: Crossovers, rate_range: tuple[float, float], *, title: str) -> Figure:
    """Crossover migration rate vs pCPUs, one line per mix, on an axis spanning the swept
    rates. A crossover above the swept range (the challenger cheaper at every swept rate) is
    a ▲ in a strip above the plot, one row per mix; below it (never cheaper), a ▼ in a strip
    below. No marker stands on the rate axis where no crossover was found."""
    lo, hi = rate_range
    mixes = list(lines)
    color = {m: f"C{j % 10}" for j, m in enumerate(mixes)}
    above = [m for m in mixes if any(how == "above" for _, _, how in lines[m])]
    below = [m for m in mixes if any(how == "below" for _, _, how in lines[m])]
    heights = (
        [0.32 * len(above) + 0.5] * bool(above) + [3.6] + [0.32 * len(below) + 0.5] * bool(below)
    )
    fig, axs = plt.subplots(
        len(heights),
        1,
        figsize=(8.6, sum(heights) + 0.9),
        sharex=True,
        gridspec_kw={"height_ratios": heights},
        constrained_layout=True,
        squeeze=False,
    )
    col = [a[0] for a in axs]
    main = col[1] if above else col[0]
    for mix in mixes:
        found = [(x, r) for x, r, how in lines[mix] if how == "" and r is not None]
        if found:
            xs, rs = zip(*found, strict=True)
            main.plot(xs, rs, "-o", color=color[mix], label=mix, markersize=4)
        else:
            main.plot([], [], "-o", color=color[mix], label=mix + " (no crossover in range)")
    if lo > 0:
        main.set_yscale("log")
    if hi > lo:  # one swept rate: matplotlib picks a range around it
        main.set_ylim(lo, hi)
    main.set_ylabel("migrations per vCPU-second")
    main.grid(True, alpha=0.3)
    _legend_outside(main, title="mix")
    for ax, which, mark, word in (
        (col[0] if above else None, above, "^", f"above {hi:g}/s"),
        (col[-1] if below else None, below, "v", f"below {lo:g}/s"),
    ):
        if ax is None:
            continue
        side = "above" if mark == "^" else "below"
        for row, mix in enumerate(which):
            at = [x for x, _, how in lines[mix] if how == side]
            ax.plot(at, [row] * len(at), mark, color=color[mix], markersize=7, linestyle="none")
        ax.set_yticks(range(len(which)), which, fontsize=7)
        ax.set_ylim(len(which) - 0.5, -0.5)
        ax.set_ylabel(word, fontsize=8, rotation=0, ha="right", va="center")
        ax.grid(True, axis="x", alpha=0.3)
    col[-1].set_xlabel("pCPUs")
    col[0].set_title(title, fontsize=10)
    return fig


def crossover(
    lines: Crossovers,
    rate_range: tuple[float, float],
    *,
    title: str,
    dest: Path,
    stem: str,
) -> list[Path]:
    """:func:`draw_crossover`, saved as ``dest/stem.png`` and ``.svg``."""
    return _save(draw_crossover(lines, rate_range, title=title), dest, stem)


def _runs(xs: list[int], every: list[int]) -> str:
    """``32–96 pCPUs`` for consecutive swept core counts, ``8, 24 pCPUs`` otherwise."""
    if xs == every:
        return "every core count"
    idx = [every.index(x) for x in xs]
    parts, start = [], 0
    for k in range(1, len(idx) + 1):
        if k == len(idx) or idx[k] != idx[k - 1] + 1:
            a, b = xs[start], xs[k - 1]
            parts.append(f"{a}" if a == b else f"{a}–{b}")
            start = k
    return ", ".join(parts) + " pCPUs"


def crossover_words(
    lines: Crossovers, rate_range: tuple[float, float], base: str, chal: str
) -> list[str]:
    """The crossovers outside the swept range, in words (one sentence per side)."""
    lo, hi = rate_range
    every = sorted({x for pts in lines.values() for x, _, _ in pts})
    out = []
    for how, text in (
        (
            "above",
            f"{base} is not cheaper than {chal} at any swept rate up to {hi:g}/s (crossover above the range)",
        ),
        ("below", f"{base} is already cheaper than {chal} at {lo:g}/s (crossover below the range)"),
    ):
        parts = [
            f"{mix} at {_runs(xs, every)}"
            for mix, pts in lines.items()
            if (xs := [x for x, _, h in pts if h == how])
        ]
        if parts:
            out.append(f"{text}: " + "; ".join(parts) + ".")
    return out


def safety_matrix(
    kinds: Sequence[str],
    policies: Sequence[str],
    verdict: dict[tuple[str, str], bool | None],
    *,
    dest: Path,
    stem: str,
    bound: str = "",
) -> list[Path]:
    """Guest kinds (rows) × policies (columns): safe, UNSAFE or unknown (the checker's
    matrix); ``bound`` (what "safe" means) under the title."""
    colors = {True: "#9be7a1", False: "#f59a9a", None: "#dddddd"}
    text = {True: "safe", False: "UNSAFE", None: "?"}
    fig, ax = plt.subplots(
        figsize=(1.5 + 1.35 * len(policies), 1.2 + 0.45 * len(kinds)), constrained_layout=True
    )
    for i, k in enumerate(kinds):
        for j, p in enumerate(policies):
            v = verdict.get((k, p))
            ax.add_patch(Rectangle((j, i), 1, 1, color=colors[v], ec="white"))
            ax.text(j + 0.5, i + 0.5, text[v], ha="center", va="center", fontsize=8)
    ax.set_xlim(0, len(policies))
    ax.set_ylim(len(kinds), 0)
    ax.set_xticks([j + 0.5 for j in range(len(policies))], policies, rotation=30, ha="right")
    ax.set_yticks([i + 0.5 for i in range(len(kinds))], kinds)
    ax.tick_params(length=0, labelsize=8)
    head = "Safety (model checker, SPEC §5)"
    if bound:
        head += "\nsafe = " + bound
    ax.set_title(head, fontsize=9, wrap=True)
    return _save(fig, dest, stem)
