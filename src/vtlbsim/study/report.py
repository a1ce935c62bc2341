"""`vtlbsim report DIR`: figures, ``report.md`` and a self-contained ``report.html``.

What the report shows, per platform of the study (rows of the store's current model version,
averaged over seeds, in the spec's first mode and timeslice):
- overhead vs pCPUs per policy, one panel per guest mix, at the headline migration rate;
- the crossover migration rate above which ``baseline`` (``fb``) is cheaper than
  ``challenger`` (``flush-on-migrate``), per mix, vs pCPUs (linear interpolation of the
  overhead difference in log₁₀ rate between the two swept rates that bracket the sign change);
- cost to others vs pCPUs (the part paid by cores that did not issue the maintenance);
- the safety matrix (guest kind × policy, from the model checker);
- the headline table and the recommendation per mix: the cheapest policy that is *safe* for
  every guest kind of the mix, its margin over the next cheapest safe policy, and at how many
  swept (pCPUs × rate) points it is the cheapest safe one;
- every assumption (a profile figure without a source) the numbers rest on;
- at the top, what the answer rests on: the bound behind every "safe", and for each
  recommendation the causes that make up its margin and the profile figures they are priced
  in (with their source or the word assumption), from the cost breakdown; overheads above
  100% of the machine's cycles are marked outside the model's validity.

The report is a list of sections (``sections.SECTIONS``): a new one is a function there.
Numbers and recommendations are computed here; the sections arrange them; render.py writes.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cost.result import VALID_OVERHEAD_PCT
from .spec import StudySpec
from .store import Store


class ReportError(RuntimeError):
    """A store the report cannot be built from (empty, no spec); one line."""


@dataclass
class Headline:
    """One mix at the headline point: each policy's overhead and the recommendation."""

    platform: str
    mix: str
    pcpus: int
    rate: float
    overhead: dict[str, float]
    safe: dict[str, bool | None]
    best: str | None
    tied: list[str]
    """Other safe policies with the same overhead as ``best`` (relative difference < 1e-9)."""
    runner_up: str | None
    wins: int
    grid: int
    others: Counter[str] = field(default_factory=Counter)
    causes: dict[str, dict[str, float]] = field(default_factory=dict)
    """policy → cause → its share of the machine's cycles (%), at the headline point."""
    invalid: set[str] = field(default_factory=set)
    """Policies whose overhead here exceeds 100% of the machine (outside the model)."""

    def margin(self) -> tuple[float, float] | None:
        """(percentage points, ratio) of the runner-up over the best; None without one."""
        if self.best is None or self.runner_up is None:
            return None
        a, b = self.overhead[self.best], self.overhead[self.runner_up]
        return b - a, (b / a if a > 0 else math.inf)


@dataclass
class Report:
    """What ``build_report`` wrote."""

    markdown: Path
    html: Path
    figures: list[Path]
    headlines: list[Headline]
    policies: list[str]
    crossovers: dict[str, dict[str, list[tuple[int, float | None, str]]]] = field(
        default_factory=dict
    )
    """platform → mix → [(pCPUs, crossover rate, how)] (see ``_crossover``)."""
    rests_on: list[str] = field(default_factory=list)
    """What the answer rests on, one sentence each (the report's first section)."""
    uncertainty: str = ""
    """The headline's ranges and what moves the crossover most (``uncertainty_render.text``)."""

    def headline_rows(self) -> tuple[list[str], list[list[str]]]:
        """The headline table: header (mix, each policy) and one row per mix; a cell is the
        overhead with ``!`` if unsafe for a guest of the mix, ``?`` if unknown, ``†`` if
        above 100% of the machine's cycles."""
        head = ["mix", *self.policies]
        rows = []
        for h in self.headlines:
            cells = [h.mix]
            for p in self.policies:
                v = h.overhead.get(p)
                mark = "" if h.safe.get(p) else ("!" if h.safe.get(p) is False else "?")
                mark += "†" if p in h.invalid else ""
                cells.append("-" if v is None else f"{v:.4g}%{mark}")
            rows.append(cells)
        return head, rows

    def headline_note(self) -> str:
        """What the headline table's numbers and marks mean."""
        if not self.headlines:
            return ""
        h0 = self.headlines[0]
        return (
            f"overhead: % of machine cycles at {h0.pcpus} pCPUs, {h0.rate:g} migrations/vCPU-s;"
            " ! = unsafe for a guest of the mix, ? = safety unknown, † = above 100%: outside"
            " the model's validity"
        )

    def recommendations(self) -> list[str]:
        """One line per mix: the recommendation (plain text)."""
        return [f"{h.mix}: {_recommend(h, md=False)}" for h in self.headlines]

    def headline_text(self) -> str:
        """The headline as plain text, never cut: the table, its note, the recommendations,
        and what the answer rests on."""
        head, rows = self.headline_rows()
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in [head, *rows]
        ]
        lines += [f"({self.headline_note()})", ""] if self.headlines else []
        lines += self.recommendations()
        if self.rests_on:
            lines += ["", "the answer rests on:"] + [f"- {x}" for x in self.rests_on]
        return "\n".join(lines)


def _fmt_pct(v: float) -> str:
    """An overhead with three significant digits."""
    return f"{v:.3g} %"


def _recommend(h: Headline, md: bool = True) -> str:
    """The recommendation sentence for one mix (Markdown code spans when ``md``)."""
    q = "`" if md else ""
    if h.best is None:
        return "no policy of the study is known safe for every guest of this mix"
    text = f"{q}{h.best}{q}"
    if h.tied:
        text += " (tied with " + ", ".join(f"{q}{p}{q}" for p in h.tied) + ")"
    m = h.margin()
    if m is not None:
        pp, ratio = m
        r = "∞" if math.isinf(ratio) else f"{ratio:.2f}×"
        text += f", {pp:.3g} pp cheaper than {q}{h.runner_up}{q} ({r})"
    else:
        text += " (no other safe policy costs more)" if h.tied else " (the only safe policy)"
    text += f"; cheapest safe at {h.wins}/{h.grid} swept points"
    if h.others:
        text += " (else " + ", ".join(f"{q}{p}{q} {n}" for p, n in h.others.most_common()) + ")"
    return text


def _same(a: float, b: float) -> bool:
    """Equal overheads: a relative difference below 1e-9 (a tie, not a win)."""
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)


def _cheapest_safe(rows: list[dict[str, Any]], order: list[str]) -> list[str]:
    """Safe policies of ``rows`` by overhead, ties in the spec's policy order."""
    safe = [r for r in rows if r["safe"] is True]
    return [
        r["policy"] for r in sorted(safe, key=lambda r: (r["overhead"], order.index(r["policy"])))
    ]


def _headline(
    plat: str, mix: str, rows: list[dict[str, Any]], order: list[str], top: int, rate: float
) -> Headline:
    """The recommendation for one mix: the cheapest safe policy at (top pCPUs, rate), the
    policies tied with it, the next cheapest safe one, and at how many swept (pCPUs × rate)
    points the recommended policy (or one tied with it) is the cheapest safe one."""
    n = top if any(r["pcpus"] == top for r in rows) else max(r["pcpus"] for r in rows)
    pick = {r["policy"]: r for r in rows if r["pcpus"] == n and r["migration_rate"] == rate}
    ovh = {p: float(r["overhead"]) for p, r in pick.items()}
    ranked = _cheapest_safe(list(pick.values()), order)
    best = ranked[0] if ranked else None
    tied = [p for p in ranked[1:] if best is not None and _same(ovh[p], ovh[best])]
    rest = [p for p in ranked[1:] if p not in tied]
    wins: Counter[str] = Counter()
    grid = 0
    for key in sorted({(r["pcpus"], r["migration_rate"]) for r in rows}):
        at = [r for r in rows if (r["pcpus"], r["migration_rate"]) == key]
        grid += 1
        cand = _cheapest_safe(at, order)
        if not cand:
            continue
        low = {
            r["policy"]
            for r in at
            if r["policy"] in cand
            and _same(r["overhead"], min(x["overhead"] for x in at if x["policy"] in cand))
        }
        wins["\0best" if best in low else cand[0]] += 1
    return Headline(
        plat,
        mix,
        n,
        rate,
        ovh,
        {p: r["safe"] for p, r in pick.items()},
        best,
        tied,
        rest[0] if rest else None,
        wins.pop("\0best", 0),
        grid,
        wins,
        {p: dict(r["causes"]) for p, r in pick.items()},
        {p for p, v in ovh.items() if v > VALID_OVERHEAD_PCT},
    )


def _rows(store: Store, spec: StudySpec, version: str) -> list[dict[str, Any]]:
    """The rows the report shows: the store's current model version, the spec's axes only
    (an older spec's points in the same store are left out), its first mode and timeslice,
    averaged over the spec's seeds per (platform, mix, pCPUs, rate, policy)."""
    mode = spec.axes.modes[0]
    ts = spec.timeslices[0]
    cause_cols = [c for c in store.columns() if c.startswith("cycles_")]
    shares = "".join(
        f', avg(100 * "{c}" / machine_cycles) AS "share:{c[len("cycles_") :]}"' for c in cause_cols
    )
    names, rows = store.query(
        "SELECT platform, mix, pcpus, migration_rate, policy, any_value(kinds) AS kinds, "
        "avg(overhead_pct) AS overhead, avg(cost_to_others_pct) AS others, "
        f"bool_and(safe) AS safe, string_agg(DISTINCT assumptions, ',') AS assumptions{shares} "
        "FROM results WHERE model_version = ? AND mode = ? AND timeslice_ms = ? "
        f"AND seed IN ({', '.join(str(int(x)) for x in spec.axes.seeds)}) "
        "GROUP BY ALL ORDER BY ALL",
        [version, mode, ts],
    )
    out = []
    for r in rows:
        row = dict(zip(names, r, strict=True))
        row["causes"] = {
            k.removeprefix("share:"): float(row.pop(k) or 0.0)
            for k in list(row)
            if k.startswith("share:")
        }
        out.append(row)
    mixes = {m.name for m in spec.mixes} | {Path(w).stem for w in spec.axes.workloads}
    return [
        r
        for r in out
        if r["platform"] in spec.axes.platforms
        and r["policy"] in spec.axes.policies
        and r["pcpus"] in spec.axes.pcpus
        and r["mix"] in mixes
        and r["migration_rate"] in spec.axes.migration_rates
    ]


def _crossover(points: list[tuple[float, float]]) -> tuple[float | None, str]:
    """Rate where diff = challenger − baseline turns from ≤ 0 to > 0 (see module doc)."""
    pts = sorted(points)
    if not pts:
        return None, "none"
    if pts[0][1] > 0:
        return None, "below"
    for (r0, d0), (r1, d1) in zip(pts, pts[1:], strict=False):
        if d0 <= 0 < d1:
            if r0 > 0:
                x0, x1 = math.log10(r0), math.log10(r1)
                return 10 ** (x0 + (x1 - x0) * (-d0) / (d1 - d0)), ""
            return r0 + (r1 - r0) * (-d0) / (d1 - d0), ""
    return None, "above"


def _crossovers(
    rows: list[dict[str, Any]], mixes: list[str], rates: list[float], base: str, chal: str
) -> dict[str, list[tuple[int, float | None, str]]]:
    """Per mix, per pCPUs: the crossover rate of ``chal`` over ``base`` (empty if either
    policy is missing from the study)."""
    out: dict[str, list[tuple[int, float | None, str]]] = {}
    if not any(r["policy"] == base for r in rows) or not any(r["policy"] == chal for r in rows):
        return out
    for m in mixes:
        for n in sorted({r["pcpus"] for r in rows if r["mix"] == m}):
            by = {
                (r["policy"], r["migration_rate"]): r["overhead"]
                for r in rows
                if r["mix"] == m and r["pcpus"] == n
            }
            diff = [
                (x, by[(chal, x)] - by[(base, x)])
                for x in rates
                if (chal, x) in by and (base, x) in by
            ]
            found, how = _crossover(diff)
            out.setdefault(m, []).append((n, found, how))
    return out


def _assumptions(spec: StudySpec, rows: list[dict[str, Any]]) -> list[str]:
    """Every unsourced figure the numbers rest on: each platform's and each guest kind's
    figures marked ``assumption`` (with the profile's reason), and any other name the cost
    model reported as an assumption in the rows."""
    from ..cost.platform import PlatformError, load_platform
    from ..guest.rates import RatesError, load_rates

    lines: dict[str, str] = {}
    for name in spec.axes.platforms:
        try:
            plat = load_platform(name, spec.base_dir)
        except PlatformError:
            continue
        for fig, prov in sorted(plat.provenance.items()):
            if prov.assumed:
                value = getattr(plat, fig, "?")
                lines[f"{plat.name}:{fig}"] = (
                    f"= {value:g}" if isinstance(value, float) else f"= {value}"
                )
                lines[f"{plat.name}:{fig}"] += f" (platform; assumption: {prov.assumption})"
    kinds = dict.fromkeys(k for r in rows for k in str(r["kinds"]).split(",") if k)
    for kind in kinds:
        try:
            rates = load_rates(kind, spec.base_dir)
        except RatesError:
            continue
        for fig, (how, text) in sorted(rates.provenance.items()):
            if how == "assumption":
                value = getattr(rates, fig, "?")
                lines[f"{rates.kind}:{fig}"] = f"= {value:g} (guest kind; assumption: {text})"
    used = sorted({a for r in rows for a in str(r["assumptions"] or "").split(",") if a})
    for a in used:
        lines.setdefault(a, "(reported by the cost model as an assumption)")
    return [f"{k} {v}" for k, v in lines.items()]


CAUSE_FIGURES: dict[str, tuple[str, ...]] = {
    "broadcast-issue": ("dvm_op_cycles", "dvm_sync_cycles", "dvm_socket_factor"),
    "dvm-others": ("dvm_receive_cycles",),
    "collateral-tlb": ("walk_2stage_cycles",),
    "hyp-flush": ("tlbi_local_cycles", "ic_iallu_cycles"),
    "tlb-refill": ("walk_2stage_cycles",),
    "icache-refill": ("icache_line_refill_cycles",),
    "bp-retrain": ("bp_retrain_cycles",),
    "trap": ("trap_roundtrip_cycles",),
}
"""The platform-profile figures each cost cause is priced in (cost/analytic.py, docs/cost.md):
how many cycles one event of the cause costs. The event counts come from the guest kind's
rates and the scheduler."""


def _figure_words(plat: Any, fig: str) -> str:
    """``bp_retrain_cycles = 2000 (assumption)`` or ``(sourced)``."""
    value = getattr(plat, fig, None)
    prov = plat.provenance.get(fig)
    how = "assumption" if prov is not None and prov.assumed else "sourced"
    shown = f"{value:g}" if isinstance(value, float | int) else str(value)
    return f"`{fig}` = {shown} ({how})"


def rests_on(spec: StudySpec, headlines: list[Headline]) -> list[str]:
    """What the answer rests on: the bound behind "safe", then per recommendation the causes
    that make up at least half of its margin over the runner-up, with the profile figures they
    are priced in (mixes with the same sentence merged)."""
    from ..cost.platform import PlatformError, load_platform
    from .spec import safety_bound
    from .sweep import column_name

    out = [f'"safe" = {safety_bound(spec.safety)}.']
    known = {column_name("cycles", c).removeprefix("cycles_"): c for c in CAUSE_FIGURES}
    said: dict[tuple[str, ...], list[tuple[str, list[float]]]] = {}
    for h in headlines:
        if h.best is None or h.runner_up is None:
            continue
        try:
            plat = load_platform(h.platform, spec.base_dir)
        except PlatformError:
            plat = None
        a, b = h.causes.get(h.best, {}), h.causes.get(h.runner_up, {})
        margin = {c: b.get(c, 0.0) - a.get(c, 0.0) for c in sorted(set(a) | set(b))}
        total = sum(margin.values())
        if total <= 0:
            continue
        causes, shares, covered = [], [], 0.0
        for col, d in sorted(margin.items(), key=lambda kv: -kv[1]):
            if covered >= 0.5 * total or d <= 0:
                break
            covered += d
            cause = known.get(col, col.replace("_", "-"))
            figs = CAUSE_FIGURES.get(cause, ())
            priced = (
                " (priced by " + ", ".join(_figure_words(plat, f) for f in figs) + ")"
                if plat is not None and figs
                else ""
            )
            causes.append(cause + priced)
            shares.append(100 * d / total)
        key = (h.best, h.runner_up, str(h.pcpus), h.platform, *causes)
        said.setdefault(key, []).append((h.mix, shares))
    for (best, runner, n, plat_name, *causes), got in said.items():
        mixes = ", ".join(m for m, _ in got)
        parts = []
        for i, cause in enumerate(causes):
            lo, hi = min(s[i] for _, s in got), max(s[i] for _, s in got)
            share = f"{lo:.0f}%" if round(lo) == round(hi) else f"{lo:.0f}–{hi:.0f}%"
            parts.append(f"{share} {cause}")
        out.append(
            f"{mixes}: `{best}` is cheaper than `{runner}` ({n} pCPUs, {plat_name}) by a "
            f"margin that is {'; '.join(parts)}."
        )
    invalid = sorted({(h.mix, p) for h in headlines for p in h.invalid})
    if invalid:
        out.append(
            "outside the model's validity (overhead above 100% of the machine's cycles): "
            + ", ".join(f"{m} under {p}" for m, p in invalid)
            + "."
        )
    return out


def report_steps(out_dir: str | Path) -> int:
    """How many times ``build_report`` calls ``progress``: one per figure (3 per platform,
    the safety matrix) and one per page written."""
    with Store(out_dir, read_only=True) as store:
        data = store.spec_data()
    plats = len(data["axes"]["platforms"]) if data else 0
    return 3 * plats + 1 + 2 + 1


def build_report(
    out_dir: str | Path,
    dest: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Read ``DIR/results.duckdb`` and write the figures, ``report.md`` and ``report.html``;
    ``progress(1)`` after each figure and page (:func:`report_steps` of them at most)."""
    step = progress or (lambda n: None)
    from . import figures
    from .render import write_html, write_markdown
    from .sections import ReportData, build_sections
    from .spec import safety_bound
    from .sweep import evaluate_safety, safety_version

    out = Path(dest) if dest is not None else Path(out_dir)
    with Store(out_dir, read_only=True) as store:
        data = store.spec_data()
        version = store.meta("model_version")
        if data is None or version is None:
            raise ReportError(f"{store.path}: no study has been run into this store")
        spec = StudySpec.model_validate(data)
        source = store.meta("spec_source") or ""
        spec = spec.model_copy(
            update={"base_dir": str(Path(source or ".").resolve().parent), "source": source}
        )
        rows = _rows(store, spec, version)
        verdict = store.verdicts(safety_version(spec.safety, version))
    if not rows:
        raise ReportError(
            f"{Path(out_dir) / 'results.duckdb'}: no rows of the current model version ({version})"
        )
    policies = [p for p in spec.axes.policies if any(r["policy"] == p for r in rows)]
    rate, top = spec.headline_rate(), spec.headline_pcpus()
    base, chal = spec.report.baseline, spec.report.challenger
    rates = sorted({float(r["migration_rate"]) for r in rows})
    fig_dir = out / "figures"
    rd = ReportData(spec, version, rows, rate, base, chal, policies, rates, out)
    for plat in [p for p in spec.axes.platforms if any(r["platform"] == p for r in rows)]:
        prow = [r for r in rows if r["platform"] == plat]
        mixes = list(dict.fromkeys(r["mix"] for r in prow))
        tag = Path(plat).stem
        unsafe = {(r["mix"], r["policy"]) for r in prow if r["safe"] is False}
        ovh: figures.Series = {m: {} for m in mixes}
        oth: figures.Series = {m: {} for m in mixes}
        for r in prow:
            if r["migration_rate"] == rate:
                ovh[r["mix"]].setdefault(r["policy"], []).append((r["pcpus"], r["overhead"]))
                oth[r["mix"]].setdefault(r["policy"], []).append((r["pcpus"], r["others"]))
        figs = rd.figures.setdefault(plat, [])
        for series, stem, what, unit in (
            (ovh, "overhead", "overhead", "overhead"),
            (oth, "cost-to-others", "cost to other cores", "cost to others"),
        ):
            figs.append(
                figures.panels_by_policy(
                    series,
                    unsafe,
                    policies,
                    dest=fig_dir,
                    stem=f"{stem}-{tag}",
                    title=f"{plat}: {what} at {rate:g} migrations/vCPU-s",
                    ylabel=f"{unit} (% of cycles)",
                )
            )
            step(1)
        cross = _crossovers(prow, mixes, rates, base, chal)
        if cross:
            rd.crossovers[plat] = cross
            figs.append(
                figures.crossover(
                    cross,
                    (rates[0], rates[-1]),
                    dest=fig_dir,
                    stem=f"crossover-{tag}",
                    title=f"{plat}: migration rate above which {base} beats {chal}",
                )
            )
        step(1)
        for m in mixes:
            rd.headlines.append(
                _headline(plat, m, [r for r in prow if r["mix"] == m], policies, top, rate)
            )
    kinds = list(dict.fromkeys(k for r in rows for k in str(r["kinds"]).split(",")))
    for k in kinds:  # pairs the study did not need (normally none): ask the checker now
        for p in policies:
            if (k, p) not in verdict:
                verdict[(k, p)] = evaluate_safety(k, p, spec.safety)[2]
    rd.safety = figures.safety_matrix(
        kinds, policies, verdict, dest=fig_dir, stem="safety", bound=safety_bound(spec.safety)
    )
    step(1)
    rd.assumptions = _assumptions(spec, rows)
    rd.rests_on = rests_on(spec, rd.headlines)
    from .readings import reading_lines

    rd.rests_on[1:1] = reading_lines(spec, (h.platform for h in rd.headlines), policies)
    from .uncertainty import for_study  # the answer with its uncertainty (issue 9)
    from .uncertainty_render import text as uncertainty_text

    rd.uncertainty = for_study(spec, fig_dir)
    step(1)
    sections = build_sections(rd)
    title = f"Study `{spec.name}`" + (f": {spec.title}" if spec.title else "")
    intro = ([spec.description.strip()] if spec.description else []) + [
        f"{len(rows)} seed-averaged points of model version `{version}` from "
        f"{_source_words(spec.source)}. "
        'Rebuild with `vtlbsim report DIR`; query with `vtlbsim query DIR "SQL"`.'
    ]
    md = write_markdown(out / "report.md", title, intro, sections)
    step(1)
    page = write_html(out / "report.html", title, intro, sections)
    step(1)
    made = [f for fs in rd.figures.values() for pair in fs for f in pair] + list(rd.safety)
    made += rd.uncertainty.figures
    return Report(
        md,
        page,
        made,
        rd.headlines,
        policies,
        rd.crossovers,
        rd.rests_on,
        uncertainty_text(rd.uncertainty),
    )


def _source_words(source: str) -> str:
    """`` `path` ``, or ``the shipped study `seed` `` for a spec that ships with vtlbsim."""
    from .. import datafiles

    try:
        Path(source).resolve().relative_to(datafiles.package_dir(datafiles.STUDIES).resolve())
    except (ValueError, OSError):
        return f"`{source}`"
    return f"the shipped study `{Path(source).stem}` (`vtlbsim study {Path(source).stem}`)"


def escape(text: str) -> str:
    """HTML-escape text."""
    return html.escape(text, quote=True)
