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
- every assumption (a profile figure without a source) the numbers rest on.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    def headline_text(self) -> str:
        """The headline table as plain text (for the terminal)."""
        w = max([len(h.mix) for h in self.headlines] + [3])
        head = f"{'mix':<{w}}  " + "  ".join(f"{p[:16]:>16}" for p in self.policies)
        lines = [head + "  recommendation"]
        for h in self.headlines:
            cells = []
            for p in self.policies:
                v = h.overhead.get(p)
                mark = "" if h.safe.get(p) else ("!" if h.safe.get(p) is False else "?")
                cells.append(f"{'-' if v is None else f'{v:.4g}%' + mark:>16}")
            lines.append(f"{h.mix:<{w}}  " + "  ".join(cells) + f"  {_recommend(h, md=False)}")
        if self.headlines:
            h0 = self.headlines[0]
            lines.append(
                f"(overhead % of machine cycles at {h0.pcpus} pCPUs, "
                f"{h0.rate:g} migrations/vCPU-s; ! = unsafe for a guest of the mix, ? = unknown)"
            )
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
    )


def _rows(store: Store, spec: StudySpec, version: str) -> list[dict[str, Any]]:
    """The rows the report shows: the store's current model version, the spec's axes only
    (an older spec's points in the same store are left out), its first mode and timeslice,
    averaged over the spec's seeds per (platform, mix, pCPUs, rate, policy)."""
    mode = spec.axes.modes[0]
    ts = spec.timeslices[0]
    names, rows = store.query(
        "SELECT platform, mix, pcpus, migration_rate, policy, any_value(kinds) AS kinds, "
        "avg(overhead_pct) AS overhead, avg(cost_to_others_pct) AS others, "
        "bool_and(safe) AS safe, string_agg(DISTINCT assumptions, ',') AS assumptions "
        "FROM results WHERE model_version = ? AND mode = ? AND timeslice_ms = ? "
        f"AND seed IN ({', '.join(str(int(x)) for x in spec.axes.seeds)}) "
        "GROUP BY ALL ORDER BY ALL",
        [version, mode, ts],
    )
    out = [dict(zip(names, r, strict=True)) for r in rows]
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


def build_report(out_dir: str | Path, dest: str | Path | None = None) -> Report:
    """Read ``DIR/results.duckdb`` and write the figures, ``report.md`` and ``report.html``."""
    from . import figures
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
    made: list[Path] = []
    headlines: list[Headline] = []
    crossovers: dict[str, dict[str, list[tuple[int, float | None, str]]]] = {}
    sections: list[tuple[str, list[Path]]] = []
    for plat in [p for p in spec.axes.platforms if any(r["platform"] == p for r in rows)]:
        prow = [r for r in rows if r["platform"] == plat]
        mixes = list(dict.fromkeys(r["mix"] for r in prow))
        tag = Path(plat).stem
        unsafe = {(r["mix"], r["policy"]) for r in prow if r["safe"] is False}
        at_rate = [r for r in prow if r["migration_rate"] == rate]
        ovh: figures.Series = {m: {} for m in mixes}
        oth: figures.Series = {m: {} for m in mixes}
        for r in at_rate:
            ovh[r["mix"]].setdefault(r["policy"], []).append((r["pcpus"], r["overhead"]))
            oth[r["mix"]].setdefault(r["policy"], []).append((r["pcpus"], r["others"]))
        files = figures.panels_by_policy(
            ovh,
            unsafe,
            policies,
            dest=fig_dir,
            stem=f"overhead-{tag}",
            title=f"{plat}: overhead at {rate:g} migrations/vCPU-s",
            ylabel="overhead (% of cycles)",
        )
        files += figures.panels_by_policy(
            oth,
            unsafe,
            policies,
            dest=fig_dir,
            stem=f"cost-to-others-{tag}",
            title=f"{plat}: cost to other cores at {rate:g} migrations/vCPU-s",
            ylabel="cost to others (% of cycles)",
        )
        cross = _crossovers(prow, mixes, rates, base, chal)
        if cross:
            crossovers[plat] = cross
            files += figures.crossover(
                cross,
                (rates[0], rates[-1]),
                dest=fig_dir,
                stem=f"crossover-{tag}",
                title=f"{plat}: migration rate above which {base} beats {chal}",
            )
        for m in mixes:
            headlines.append(
                _headline(plat, m, [r for r in prow if r["mix"] == m], policies, top, rate)
            )
        sections.append((plat, files))
        made += files
    kinds = list(dict.fromkeys(k for r in rows for k in str(r["kinds"]).split(",")))
    for k in kinds:  # pairs the study did not need (normally none): ask the checker now
        for p in policies:
            if (k, p) not in verdict:
                verdict[(k, p)] = evaluate_safety(k, p, spec.safety)[2]
    safety_files = figures.safety_matrix(kinds, policies, verdict, dest=fig_dir, stem="safety")
    made += safety_files
    sections.append(("safety", safety_files))
    assumptions = _assumptions(spec, rows)
    from .render import write_html, write_markdown

    ctx = {
        "spec": spec,
        "version": version,
        "rows": len(rows),
        "rate": rate,
        "base": base,
        "chal": chal,
        "policies": policies,
        "headlines": headlines,
        "sections": sections,
        "assumptions": assumptions,
        "out": out,
        "recommend": _recommend,
        "fmt": _fmt_pct,
        "crossovers": crossovers,
        "rates": rates,
    }
    md = write_markdown(out / "report.md", ctx)
    page = write_html(out / "report.html", ctx)
    return Report(md, page, made, headlines, policies, crossovers)


def escape(text: str) -> str:
    """HTML-escape text."""
    return html.escape(text, quote=True)
