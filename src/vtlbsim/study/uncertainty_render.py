"""The report's uncertainty section (``study/uncertainty.py``): Markdown, HTML, the terminal
summary and the sensitivity (tornado) chart."""

from __future__ import annotations

import math
from pathlib import Path

from .render import Bullets, Figure, Para, Section, Table
from .uncertainty import LOG_RATES, MixUncertainty, Uncertainty


def _rate(v: float) -> str:
    lo, hi = LOG_RATES
    if v == -math.inf or v <= 10.0**lo:
        return f"< {10.0**lo:g}"
    if v == math.inf or v >= 10.0**hi:
        return f"> {10.0**hi:g}"
    return f"{v:.3g}"


def _pct(v: float) -> str:
    return f"{v:.3g} %"


def _x(v: float) -> str:
    return "∞" if math.isinf(v) else f"{v:.3g}×"


def headline_rows(u: Uncertainty) -> tuple[list[str], list[list[str]]]:
    """The headline figures with their 5-95 % ranges, one row per (platform, mix)."""
    head = [
        "platform",
        "mix",
        f"{u.base} overhead",
        f"{u.chal} overhead",
        f"{u.base} / {u.chal}",
        "crossover (migrations/vCPU-s)",
    ]
    rows = []
    for m in u.mixes:
        n = m.nominal
        b, c, r, x = (m.band(w) for w in ("base", "chal", "ratio", "crossover"))
        rows.append(
            [
                m.platform,
                m.mix,
                f"{_pct(n.base)} [{_pct(b[0])} – {_pct(b[1])}]",
                f"{_pct(n.chal)} [{_pct(c[0])} – {_pct(c[1])}]",
                f"{_x(n.ratio)} [{_x(r[0])} – {_x(r[1])}]",
                f"{_rate(n.crossover)} [{_rate(x[0])} – {_rate(x[1])}]",
            ]
        )
    return head, rows


def _effect(m: MixUncertainty, lo: float, hi: float) -> tuple[float, float]:
    """log10 of each end's crossover over the nominal one (ends of the search clip)."""
    a, b = LOG_RATES

    def lg(v: float) -> float:
        if v == -math.inf:
            return a
        if v == math.inf:
            return b
        return math.log10(v)

    base = lg(m.nominal.crossover)
    return lg(lo) - base, lg(hi) - base


def ranking(u: Uncertainty) -> list[tuple[str, float]]:
    """Assumptions by the largest move (decades) they cause in any mix's crossover."""
    best: dict[str, float] = {}
    for m in u.mixes:
        for name, lo, hi in m.sensitivity:
            move = max(abs(e) for e in _effect(m, lo, hi))
            best[name] = max(best.get(name, 0.0), move)
    return sorted(best.items(), key=lambda kv: -kv[1])


def chart(u: Uncertainty, dest: Path, stem: str = "sensitivity") -> list[Path]:
    """Tornado panels, one per mix: each assumption's low and high end, in decades of the
    crossover migration rate (SVG and PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mixes = [m for m in u.mixes if not math.isinf(m.nominal.crossover)] or u.mixes
    order = [name for name, _ in ranking(u)][::-1]
    cols = min(3, len(mixes))
    rows = math.ceil(len(mixes) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 0.32 * len(order) * rows + 1.2), squeeze=False
    )
    for ax, m in zip(axes.flat, mixes, strict=False):
        eff = {name: _effect(m, lo, hi) for name, lo, hi in m.sensitivity}
        ys = range(len(order))
        ax.barh(ys, [eff[n][0] for n in order], color="#4477aa", label="low end")
        ax.barh(ys, [eff[n][1] for n in order], color="#cc6677", label="high end", alpha=0.8)
        ax.axvline(0.0, color="#333", lw=0.8)
        ax.set_yticks(list(ys))
        ax.set_yticklabels(order, fontsize=7)
        ax.set_title(f"{m.mix} (crossover {_rate(m.nominal.crossover)}/s)", fontsize=9)
        ax.set_xlabel("decades of crossover rate", fontsize=8)
    for ax in list(axes.flat)[len(mixes) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"Which assumption moves the {u.base}-vs-{u.chal} crossover most "
        f"({u.pcpus} pCPUs; others at their profile values)",
        fontsize=10,
    )
    fig.tight_layout()
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("svg", "png"):
        p = dest / f"{stem}.{ext}"
        fig.savefig(p, dpi=110)
        out.append(p)
    plt.close(fig)
    return out


def _calibration_table(u: Uncertainty) -> Table:
    head = ["role", "experiment", "run", "metric (actor)", "measured", "predicted", "pred/meas"]
    rows = []
    for role in ("calibrate", "validate"):
        for r in u.rows:
            if r.role == role and r.measured is not None:
                what = f"{r.metric} ({r.actor})" + (f" / {r.relative_to}" if r.relative_to else "")
                ratio = f"{r.ratio:.3f}" if r.ratio else "-"
                rows.append(
                    [
                        role,
                        r.experiment,
                        r.run,
                        what,
                        f"{r.measured:.4g}",
                        f"{r.predicted:.4g}",
                        ratio,
                    ]
                )
    return Table(head, rows, {4, 5, 6})


def _intro(u: Uncertainty) -> str:
    top = ranking(u)[:3]
    moves = ", ".join(f"{n} ({d:.2g} decades)" for n, d in top)
    return (
        f"Ranges are the 5th-95th percentile of a seeded Monte Carlo ({u.samples} samples, seed "
        f"{u.seed}, analytic model) over the assumptions below, each drawn from its range "
        f"independently, at {u.pcpus} pCPUs and {u.rate:g} migrations per vCPU-second; the "
        f"crossover is the migration rate above which `{u.base}` becomes cheaper than "
        f"`{u.chal}`, searched from {10.0 ** LOG_RATES[0]:g} to {10.0 ** LOG_RATES[1]:g}. The DVM "
        f"figures' ranges come from the calibration on the published record (its validate "
        f"error, and how far the one other measured interconnect was from the reference). The "
        f"assumptions that move the crossover most: {moves}. A range reaching above 100 % is "
        "beyond the model's validity (the machine would be saturated)."
    )


CARRIED = (
    "The ThunderX CN8890 (and any platform without a published DVM measurement) carries its "
    "DVM figures over from the fit: the operation and Sync latencies in nanoseconds of the "
    "reference Kunpeng 920 (Ye 2020), the receiver stall fitted on ThunderX2 (Qi Fuli 2020) "
    "and the eMAG (Arcangeli 2020); the latency range above spans the one other interconnect "
    "measured under contention (docs/cost.md, 'Calibration')."
)


def sections(u: Uncertainty) -> list[Section]:
    """The report's uncertainty sections: the headline with its ranges and the sensitivity
    chart, then the calibration table."""
    if u.note:
        return [Section("The answer with its uncertainty", [Para(u.note)], anchor="uncertainty")]
    head, rows = headline_rows(u)
    table = Table(head, rows, {2, 3, 4, 5})
    for i, m in enumerate(u.mixes):  # a range beyond 100 %: outside the model's validity
        for j, what in ((2, "base"), (3, "chal")):
            if m.band(what)[1] > 100.0:
                table.flagged.add((i, j))
    blocks: list[Para | Bullets | Table | Figure] = [Para(_intro(u)), table]
    pngs = [f for f in u.figures if f.suffix == ".png"]
    for png in pngs:
        words = [
            f"{m.mix}: {name} at its {end} end puts the crossover "
            f"{'above' if v == math.inf else 'below'} the searched range"
            for m in u.mixes
            for name, lo, hi in m.sensitivity
            for end, v in (("low", lo), ("high", hi))
            if math.isinf(v) and not math.isinf(m.nominal.crossover)
        ]
        blocks.append(
            Figure(
                png,
                png.with_suffix(".svg"),
                f"Sensitivity: each assumption alone at the low and the high end of its range, "
                f"in decades of the {u.base}-vs-{u.chal} crossover (bars reaching the edge of the "
                "searched range are clipped).",
                words,
            )
        )
    blocks.append(
        Table(
            ["assumption", "range", "why"],
            [
                [
                    a.name,
                    f"{a.low:.3g} – {a.high:.3g}" + ("" if a.absolute else " × profile"),
                    a.why,
                ]
                for a in u.assumptions
            ],
        )
    )
    blocks.append(Para(CARRIED))
    from ..cost.published import summarise

    notes = [
        f"{s.role}: {s.runs} measured runs, geometric-mean error {s.geomean:.2f}×, worst "
        f"{s.worst:.2f}× ({s.worst_run})"
        for s in summarise(u.rows)
    ]
    calib = Section(
        "Calibration: the hardware record, measured vs predicted",
        [
            Para(
                "The DVM figures are fitted to the `calibrate` runs only; the `validate` runs are "
                "their test (`vtlbsim validate --published`; docs/cost.md, 'Held to the "
                "hardware record')."
            ),
            Bullets(notes),
            _calibration_table(u),
        ],
        level=3,
        anchor="calibration",
    )
    return [Section("The answer with its uncertainty", blocks, anchor="uncertainty"), calib]


def text(u: Uncertainty) -> str:
    """A terminal summary: each mix's crossover and ratio with their ranges."""
    if u.note:
        return u.note
    lines = [f"with uncertainty (5-95 %, {u.samples} seeded Monte Carlo samples):"]
    for m in u.mixes:
        r, x = m.band("ratio"), m.band("crossover")
        lines.append(
            f"  {m.mix}: {u.base}/{u.chal} {_x(m.nominal.ratio)} [{_x(r[0])} – {_x(r[1])}];"
            f" crossover {_rate(m.nominal.crossover)} [{_rate(x[0])} – {_rate(x[1])}]"
            " migrations/vCPU-s"
        )
    top = ranking(u)[:1]
    if top:
        lines.append(f"  the crossover moves most with: {top[0][0]} ({top[0][1]:.2g} decades)")
    return "\n".join(lines)
