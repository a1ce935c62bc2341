"""The report's figures (matplotlib, Agg backend), each written as PNG and SVG.

Inputs are plain tables the report computes from the store (seed-averaged), so each figure is
a pure function of the data: the same store draws the same figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
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


def _save(fig: Figure, dest: Path, stem: str) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    png, svg = dest / f"{stem}.png", dest / f"{stem}.svg"
    fig.savefig(png, dpi=110, metadata=METADATA_PNG)
    fig.savefig(svg, metadata=METADATA_SVG)
    plt.close(fig)
    return [png, svg]


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, max(1, n))
    return math.ceil(n / cols), cols


def _log_ok(values: Sequence[float]) -> bool:
    pos = [v for v in values if v > 0]
    return bool(pos) and len(pos) == len(values) and max(pos) / min(pos) > 50


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
    """One panel per mix, one line per policy (x = pCPUs); unsafe (mix, policy) lines dashed."""
    mixes = list(series)
    rows, cols = _grid(len(mixes))
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False, constrained_layout=True
    )
    for i, mix in enumerate(mixes):
        ax = axes[i // cols][i % cols]
        ys: list[float] = []
        for j, pol in enumerate(policies):
            pts = series[mix].get(pol)
            if not pts:
                continue
            xs, vs = zip(*pts, strict=True)
            ys.extend(vs)
            bad = (mix, pol) in unsafe
            ax.plot(
                xs,
                vs,
                marker=MARKERS[j % len(MARKERS)],
                label=pol + (" (unsafe)" if bad else ""),
                linestyle="--" if bad else "-",
                markersize=4,
                alpha=0.6 if bad else 1.0,
            )
        if _log_ok(ys):
            ax.set_yscale("log")
        ax.set_title(mix, fontsize=10)
        ax.set_xlabel("pCPUs")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    for k in range(len(mixes), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle(title, fontsize=11)
    return _save(fig, dest, stem)


def crossover(
    lines: dict[str, list[tuple[int, float | None, str]]],
    rate_range: tuple[float, float],
    *,
    title: str,
    dest: Path,
    stem: str,
) -> list[Path]:
    """Crossover migration rate vs pCPUs, one line per mix. Each point is (pcpus, rate, how):
    how = "" (found), "above" (the challenger is cheaper at every swept rate: drawn at the
    top of the range with ▲) or "below" (never cheaper: drawn at the bottom with ▼)."""
    lo, hi = rate_range
    fig, ax = plt.subplots(figsize=(7.0, 4.2), constrained_layout=True)
    spread = len(lines) - 1
    for j, (mix, pts) in enumerate(lines.items()):
        color = f"C{j % 10}"
        nudge = 1.25 ** (j - spread / 2) if lo > 0 else 1.0  # keep out-of-range marks apart
        found = [(x, r) for x, r, how in pts if how == "" and r is not None]
        if found:
            xs, rs = zip(*found, strict=True)
            ax.plot(xs, rs, "-o", color=color, label=mix, markersize=4)
        above = [x for x, _, how in pts if how == "above"]
        below = [x for x, _, how in pts if how == "below"]
        if above:
            ax.plot(
                above, [hi * nudge] * len(above), "^", color=color, label=None if found else mix
            )
        if below:
            ax.plot(
                below, [lo] * len(below), "v", color=color, label=None if found or above else mix
            )
    if lo > 0:
        ax.set_yscale("log")
    ax.axhline(hi, color="grey", lw=0.6, ls=":")
    ax.axhline(lo, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("pCPUs")
    ax.set_ylabel("migrations per vCPU-second")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, title="▲ beyond swept range  ▼ below it", title_fontsize=7)
    return _save(fig, dest, stem)


def safety_matrix(
    kinds: Sequence[str],
    policies: Sequence[str],
    verdict: dict[tuple[str, str], bool | None],
    *,
    dest: Path,
    stem: str,
) -> list[Path]:
    """Guest kinds (rows) × policies (columns): safe, UNSAFE or unknown (the checker's matrix)."""
    colors = {True: "#9be7a1", False: "#f59a9a", None: "#dddddd"}
    text = {True: "safe", False: "UNSAFE", None: "?"}
    fig, ax = plt.subplots(
        figsize=(1.5 + 1.35 * len(policies), 0.9 + 0.45 * len(kinds)), constrained_layout=True
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
    ax.set_title("Safety (model checker, SPEC §5)", fontsize=10)
    return _save(fig, dest, stem)
