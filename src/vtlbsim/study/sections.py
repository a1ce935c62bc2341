"""The report's sections, in order: each a function of :class:`ReportData` returning a
:class:`render.Section` (or None to leave it out). A new section is one more function in
``SECTIONS``; the Markdown and HTML writers render whatever is there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import figures
from .render import Bullets, Figure, Para, Section, Table
from .report import Headline, _fmt_pct, _recommend
from .spec import StudySpec
from .uncertainty import Uncertainty
from .uncertainty_render import sections as sections_of


@dataclass
class ReportData:
    """Everything the sections draw on (``build_report`` fills it)."""

    spec: StudySpec
    version: str
    rows: list[dict[str, Any]]
    rate: float
    base: str
    chal: str
    policies: list[str]
    rates: list[float]
    out: Path
    headlines: list[Headline] = field(default_factory=list)
    crossovers: dict[str, figures.Crossovers] = field(default_factory=dict)
    figures: dict[str, list[list[Path]]] = field(default_factory=dict)
    """platform → [[png, svg] per figure]."""
    safety: list[Path] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    rests_on: list[str] = field(default_factory=list)
    uncertainty: Uncertainty | None = None
    """The answer's ranges, sensitivity and calibration table (``study/uncertainty.py``)."""


CAPTIONS = {
    "overhead": "Overhead vs pCPUs per policy, one panel per guest mix (dashed: unsafe for a "
    "guest of the mix; `a = b`: equal values, one line; `a ≈ b`: closer than a marker).",
    "cost-to-others": "Cost to others: the share of the machine lost on cores that did not "
    "issue the maintenance.",
    "crossover": "Crossover: the migration rate above which the baseline becomes cheaper "
    "than the challenger; ▲/▼ rows: above/below the swept range (no rate to draw).",
    "safety": "Safety matrix: guest kind × policy, from the model checker (SPEC §5).",
}


def _caption(path: Path) -> str:
    for k, v in CAPTIONS.items():
        if path.stem.startswith(k):
            return v
    return path.stem


def _cell(h: Headline, p: str) -> str:
    v = h.overhead.get(p)
    if v is None:
        return "–"
    s = h.safe.get(p)
    text = _fmt_pct(v) + ("" if s else (" (unsafe)" if s is False else " (?)"))
    return text + (" † outside the model" if p in h.invalid else "")


def rests_on_section(d: ReportData) -> Section | None:
    """What the answer rests on (first, so no one reads the numbers without it)."""
    if not d.rests_on:
        return None
    return Section(
        "What the answer rests on",
        [
            Bullets(d.rests_on),
            Para(
                "The margin's causes come from the cost breakdown at the headline point; each "
                "is priced in the profile figures named (`vtlbsim platforms show NAME` gives "
                "each one's source or the reason for the assumption)."
            ),
        ],
        anchor="rests",
    )


def headline_section(d: ReportData) -> Section | None:
    if not d.headlines:
        return None
    h0 = d.headlines[0]
    table = Table(
        ["platform", "mix", *d.policies, "cheapest safe"], [], set(range(2, 2 + len(d.policies)))
    )
    for i, h in enumerate(d.headlines):
        table.rows.append([h.platform, h.mix, *(_cell(h, p) for p in d.policies), h.best or "–"])
        for j, p in enumerate(d.policies):
            if h.safe.get(p) is False or p in h.invalid:
                table.flagged.add((i, 2 + j))
    blocks: list[Para | Bullets | Table | Figure] = [table]
    if any(h.invalid for h in d.headlines):
        blocks.append(
            Para(
                "† above 100% of the machine's cycles: outside the cost model's validity "
                "(the machine would be saturated; the figure is not a prediction)."
            )
        )
    return Section(
        f"Headline: overhead at {h0.pcpus} pCPUs, {d.rate:g} migrations per vCPU-second", blocks
    )


def recommendation_section(d: ReportData) -> Section | None:
    if not d.headlines:
        return None
    return Section(
        "Recommendation per guest mix",
        [
            Bullets([f"**{h.mix}** ({h.platform}): {_recommend(h)}" for h in d.headlines]),
            Para(
                '"Cheapest safe" = the lowest overhead among the policies the model checker '
                "finds safe for every guest kind of the mix; the margin is over the next "
                "cheapest safe policy, at the headline point."
            ),
        ],
    )


def _cross_cell(found: float | None, how: str, rates: list[float]) -> str:
    if how == "above":
        return f"> {rates[-1]:g}"
    if how == "below":
        return f"< {rates[0]:g}"
    return "–" if found is None else f"{found:.3g}"


def crossover_sections(d: ReportData) -> list[Section]:
    out = []
    for plat, mixes in d.crossovers.items():
        ns = sorted({n for pts in mixes.values() for n, _, _ in pts})
        rows = []
        for mix, pts in mixes.items():
            at = {n: _cross_cell(f, how, d.rates) for n, f, how in pts}
            rows.append([mix] + [at.get(n, "–") for n in ns])
        words = figures.crossover_words(mixes, (d.rates[0], d.rates[-1]), d.base, d.chal)
        out.append(
            Section(
                f"Crossover on {plat}: migrations per vCPU-second above which `{d.base}` is "
                f"cheaper than `{d.chal}`",
                [
                    Table(["mix", *(f"{n} pCPUs" for n in ns)], rows, set(range(1, len(ns) + 1))),
                    *(Para(w) for w in words),
                ],
            )
        )
    return out


def figure_sections(d: ReportData) -> list[Section]:
    out = [Section("Figures", [])]
    for plat, pairs in d.figures.items():
        blocks: list[Para | Bullets | Table | Figure] = []
        for png, svg in pairs:
            words: list[str] = []
            if png.stem.startswith("crossover") and plat in d.crossovers:
                words = figures.crossover_words(
                    d.crossovers[plat], (d.rates[0], d.rates[-1]), d.base, d.chal
                )
            blocks.append(Figure(png, svg, _caption(png), words))
        out.append(Section(plat, blocks, level=3))
    if d.safety:
        png, svg = d.safety
        out.append(Section("safety", [Figure(png, svg, _caption(png))], level=3))
    return out


def assumptions_section(d: ReportData) -> Section:
    return Section(
        "Assumptions the numbers rest on",
        [Bullets(d.assumptions or ["none: every figure has a source"])],
    )


def sweep_section(d: ReportData) -> Section:
    spec, a = d.spec, d.spec.axes
    mixes = [m.name for m in spec.mixes] + [Path(w).stem for w in a.workloads]
    return Section(
        "The sweep",
        [
            Bullets(
                [
                    f"platforms: {', '.join(a.platforms)}",
                    f"pCPUs: {', '.join(str(n) for n in a.pcpus)}",
                    f"guest mixes: {', '.join(mixes)}",
                    f"policies: {', '.join(a.policies)}",
                    "migration rates (per vCPU-second): "
                    + ", ".join(f"{r:g}" for r in a.migration_rates),
                    f"seeds: {', '.join(str(s) for s in a.seeds)}; modes: {', '.join(a.modes)}; "
                    f"scheduler {spec.fixed.scheduler}, timeslice {spec.timeslices[0]:g} ms, "
                    f"{spec.fixed.duration_s:g} s simulated per point",
                ]
            )
        ],
    )


SectionBuilder = Callable[[ReportData], "Section | list[Section] | None"]


def uncertainty_section(d: ReportData) -> list[Section]:
    """The answer with its uncertainty, and the calibration table (``uncertainty_render``)."""
    return sections_of(d.uncertainty) if d.uncertainty is not None else []


SECTIONS: list[SectionBuilder] = [
    rests_on_section,
    headline_section,
    recommendation_section,
    uncertainty_section,
    crossover_sections,
    figure_sections,
    assumptions_section,
    sweep_section,
]
"""The report, top to bottom. Insert a builder to add a section (it may return several)."""


def build_sections(d: ReportData) -> list[Section]:
    """Every section of the report, in order."""
    out: list[Section] = []
    for build in SECTIONS:
        got = build(d)
        if isinstance(got, Section):
            out.append(got)
        elif got:
            out.extend(got)
    return out
