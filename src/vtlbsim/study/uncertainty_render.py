"""The report's uncertainty section (``study/uncertainty.py``): Markdown, HTML, the terminal
summary and the sensitivity (tornado) chart."""

from __future__ import annotations

import html
import math
from pathlib import Path

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


def _calibration(u: Uncertainty) -> tuple[list[str], list[list[str]], list[str]]:
    head = ["role", "experiment", "run", "metric (actor)", "measured", "predicted", "pred/meas"]
    rows = []
    for role in ("calibrate", "validate"):
        for r in u.rows:
            if r.role == role and r.measured is not None:
                what = f"{r.metric} ({r.actor})" + (f" / {r.relative_to}" if r.relative_to else "")
                rows.append(
                    [
                        role,
                        r.experiment,
                        r.run,
                        what,
                        f"{r.measured:.4g}",
                        f"{r.predicted:.4g}",
                        f"{r.ratio:.3f}" if r.ratio else "-",
                    ]
                )
    from ..cost.published import summarise

    notes = [
        f"{s.role}: {s.runs} measured runs, geometric-mean error {s.geomean:.2f}×, worst "
        f"{s.worst:.2f}× ({s.worst_run})"
        for s in summarise(u.rows)
    ]
    return head, rows, notes


def _intro(u: Uncertainty) -> str:
    top = ranking(u)[:3]
    moves = ", ".join(f"{n} ({d:.2g} decades)" for n, d in top)
    return (
        f"Ranges are the 5th-95th percentile of a seeded Monte Carlo ({u.samples} samples, seed "
        f"{u.seed}, analytic model) over the assumptions below, each drawn from its range "
        f"independently, at {u.pcpus} pCPUs and {u.rate:g} migrations per vCPU-second. The "
        f"DVM figures' ranges come from the calibration (its validate error, and how far the "
        f"one other measured interconnect was from the reference). The assumptions that move "
        f"the crossover most: {moves}."
    )


def markdown(u: Uncertainty, out_dir: Path) -> list[str]:
    """The section as Markdown lines."""
    if u.note:
        return ["## The answer with its uncertainty", "", u.note, ""]
    md = ["## The answer with its uncertainty", "", _intro(u), ""]
    head, rows = headline_rows(u)
    md += [
        "| " + " | ".join(head) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in head[2:]) + " |",
    ]
    md += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    for f in u.figures:
        if f.suffix == ".png":
            rel = f.relative_to(out_dir).as_posix()
            md += [f"![{f.stem}]({rel})", ""]
    md += ["| assumption | range | why |", "| --- | --- | --- |"]
    for a in u.assumptions:
        rng = f"{a.low:g} – {a.high:g}" + ("" if a.absolute else " × profile")
        md.append(f"| {a.name} | {rng} | {a.why} |")
    head, rows, notes = _calibration(u)
    md += [
        "",
        "### Calibration: the hardware record, measured vs predicted",
        "",
        "The model's DVM figures are fitted to the `calibrate` runs only; the `validate` runs "
        "are its test (`vtlbsim validate --published`, docs/cost.md).",
        "",
    ]
    md += [f"- {n}" for n in notes] + [""]
    md += ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    md += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    return md


def html_lines(u: Uncertainty) -> list[str]:
    """The section as HTML (figures inlined as SVG)."""
    e = html.escape
    if u.note:
        return ["<h2>The answer with its uncertainty</h2>", f"<p>{e(u.note)}</p>"]
    out = ["<h2>The answer with its uncertainty</h2>", f"<p>{e(_intro(u))}</p>"]

    def table(head: list[str], rows: list[list[str]]) -> str:
        cells = "".join(f"<th>{e(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><tr>{cells}</tr>{body}</table>"

    out.append(table(*headline_rows(u)))
    for f in u.figures:
        if f.suffix == ".svg":
            text = f.read_text(encoding="utf-8")
            out.append(f"<figure>{text[text.find('<svg') :]}</figure>")
    out.append(
        table(
            ["assumption", "range", "why"],
            [
                [a.name, f"{a.low:g} – {a.high:g}" + ("" if a.absolute else " × profile"), a.why]
                for a in u.assumptions
            ],
        )
    )
    head, rows, notes = _calibration(u)
    out.append("<h3>Calibration: the hardware record, measured vs predicted</h3><ul>")
    out += [f"<li>{e(n)}</li>" for n in notes]
    out.append("</ul>")
    out.append(table(head, rows))
    return out


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
