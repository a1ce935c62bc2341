"""The answer with its uncertainty: the report's calibration table, a range for each headline
figure, and which assumption moves the baseline-vs-challenger crossover most.

For each platform of a study (its analytic cost model, the one calibrated on the published
record; docs/cost.md, "Calibration"), at the report's headline point (largest core count,
headline migration rate), per guest mix:

- **calibration table**: every measured run of the record, measured vs predicted, per role
  (``cost/published.py``);
- **ranges**: a seeded Monte Carlo over the assumptions of ``assumptions_for`` - each drawn
  independently from its range (log-uniform for a multiplier, uniform for an absolute value or
  a range starting at 0) - gives the 5th-95th percentile of the baseline's and the challenger's
  overhead, their ratio, and the crossover migration rate above which the baseline is cheaper;
- **sensitivity**: each assumption alone at its low and at its high end, the others at their
  profile values: how far it moves that crossover (a tornado chart).

The DVM figures' ranges come from the calibration: the receiver stall and the latencies are off
by the validate runs' geometric-mean error either way, and the latency of an unmeasured platform
may be as far from the reference as the largest fitted platform scale. The other figures have
no source bounding them: a factor of 2 either way (``bp_retrain``: 0, a no-op BPIALL, to 2x).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..cost.analytic import evaluate_analytic
from ..cost.platform import Platform, load_platform, platform_names
from ..cost.published import Row, load_record, predict_experiment, summarise
from ..cost.workload import Workload
from ..guest.rates import GuestRates, load_rates
from .spec import StudySpec

SAMPLES = 32
"""Monte Carlo samples per report (seeded: the same report every time)."""
SEED = 20261130
LOG_RATES = (-2.0, 6.0)
"""The crossover is searched between 10^-2 and 10^6 migrations per vCPU-second."""
ITERATIONS = 40
"""At most this many regula-falsi steps per crossover (it takes a handful)."""


@dataclass(frozen=True, slots=True)
class Assumption:
    """A figure (or several moved together) and the range it may take."""

    name: str
    figures: tuple[str, ...]
    """``platform:FIELD`` or ``guest:FIELD`` (every guest kind of the mix)."""
    low: float
    high: float
    why: str
    absolute: bool = False
    """``low``/``high`` are values; otherwise multipliers of the profile's value."""

    def draw(self, rng: np.random.Generator) -> float:
        if self.absolute or self.low <= 0.0:
            return float(rng.uniform(self.low, self.high))
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


def assumptions_for(validate_error: float, max_scale: float) -> list[Assumption]:
    """The assumptions the headline rests on, with their ranges (module docstring)."""
    e = max(validate_error, 1.0)
    two = "assumed, no source bounds it: a factor of 2 either way"
    out = [
        Assumption(
            "DVM latency (operation + Sync)",
            ("platform:dvm_op_cycles", "platform:dvm_sync_cycles"),
            1.0 / e,
            max(max_scale, e),
            f"carried over: the validate runs' error ({e:.2f}x) below, up to the largest fitted "
            f"platform scale ({max_scale:.1f}x, the eMAG) above",
        ),
        Assumption(
            "DVM receiver stall",
            ("platform:dvm_receive_cycles",),
            1.0 / e,
            e,
            f"calibrated; off by the validate runs' geometric-mean error ({e:.2f}x) either way",
        ),
        Assumption(
            "cross-socket factor",
            ("platform:dvm_socket_factor",),
            0.0,
            2.0,
            "not identifiable from the record: 0 (free) to 2 (3x per extra socket)",
            absolute=True,
        ),
        Assumption(
            "branch-predictor retraining",
            ("platform:bp_retrain_cycles",),
            0.0,
            2.0,
            "0 (BPIALL a no-op) to 2x the assumed 200 branches",
        ),
    ]
    for name, fig in (
        ("2-stage walk", "platform:walk_2stage_cycles"),
        ("I-cache line refill", "platform:icache_line_refill_cycles"),
        ("IC IALLU", "platform:ic_iallu_cycles"),
        ("local TLBI", "platform:tlbi_local_cycles"),
        ("guest PTE changes/s", "guest:pte_changes_per_s"),
        ("guest ASID flushes/s", "guest:asid_flushes_per_s"),
        ("guest context switches/s", "guest:context_switches_per_s"),
        ("guest code changes/s", "guest:code_changes_per_s"),
        ("guest TLB working set", "guest:tlb_working_set_pages"),
        ("guest I-cache working set", "guest:icache_working_set_kib"),
    ):
        out.append(Assumption(name, (fig,), 0.5, 2.0, two))
    return out


def _apply(
    plat: Platform, kinds: dict[str, GuestRates], a: Assumption, value: float
) -> tuple[Platform, dict[str, GuestRates]]:
    """``plat`` and ``kinds`` with assumption ``a`` at ``value``."""
    for fig in a.figures:
        target, name = fig.split(":")
        if target == "platform":
            new = value if a.absolute else float(getattr(plat, name)) * value
            plat = plat.model_copy(update={name: new})
        else:
            kinds = {k: _scaled(r, name, value) for k, r in kinds.items()}
    return plat, kinds


def _scaled(r: GuestRates, name: str, factor: float) -> GuestRates:
    """``r`` with rate ``name`` multiplied by ``factor``."""
    changes: dict[str, float] = {name: float(getattr(r, name)) * factor}
    return dataclasses.replace(r, **changes)  # type: ignore[arg-type]


@dataclass(slots=True)
class _Mix:
    """One guest mix at the headline point."""

    name: str
    workload: Workload
    kinds: dict[str, GuestRates]


def _at_rate(wl: Workload, rate: float) -> Workload:
    sched = wl.scheduler.model_copy(update={"migrations_per_vcpu_s": rate})
    return wl.model_copy(update={"scheduler": sched})


@dataclass(slots=True)
class Figures:
    """The headline figures of one mix under one set of figures."""

    base: float
    chal: float
    crossover: float
    """Migrations per vCPU-second; -inf below the searched range, +inf above it."""

    @property
    def ratio(self) -> float:
        return self.base / self.chal if self.chal > 0 else math.inf


def _figures(
    mix: _Mix,
    plat: Platform,
    kinds: dict[str, GuestRates],
    pcpus: int,
    rate: float,
    base: str,
    chal: str,
) -> Figures:
    def ovh(policy: str, r: float) -> float:
        res = evaluate_analytic(
            _at_rate(mix.workload, r), policy, pcpus, platform=plat, rates=kinds
        )
        return res.overhead_pct

    def diff(r: float) -> float:
        return ovh(base, r) - ovh(chal, r)

    return Figures(ovh(base, rate), ovh(chal, rate), _crossover(diff))


def _crossover(diff: Callable[[float], float]) -> float:
    """The rate where ``diff`` (baseline minus challenger overhead, falling with the rate;
    close to linear in it: the challenger's flushes scale with migrations) changes sign, found
    by the Illinois variant of regula falsi over ``LOG_RATES`` to 0.01 % of the rate."""
    lo, hi = 10.0 ** LOG_RATES[0], 10.0 ** LOG_RATES[1]
    f_lo, f_hi = diff(lo), diff(hi)
    if f_lo <= 0.0:
        return -math.inf
    if f_hi > 0.0:
        return math.inf
    x, side = lo, 0
    for _ in range(ITERATIONS):
        new = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        f_new = diff(new)
        done = abs(new - x) <= 1e-4 * new
        x = new
        if done or f_new == 0.0:
            break
        if f_new > 0.0:
            lo, f_lo = new, f_new
            if side == 1:
                f_hi /= 2.0
            side = 1
        else:
            hi, f_hi = new, f_new
            if side == -1:
                f_lo /= 2.0
            side = -1
    return float(x)


@dataclass(slots=True)
class MixUncertainty:
    """One mix: its nominal figures, their Monte Carlo samples, and the sensitivity."""

    platform: str
    mix: str
    nominal: Figures
    samples: list[Figures] = field(default_factory=list)
    sensitivity: list[tuple[str, float, float]] = field(default_factory=list)
    """(assumption, crossover at its low end, at its high end)."""

    def band(self, what: str) -> tuple[float, float]:
        """5th and 95th percentile of ``base``, ``chal``, ``ratio`` or ``crossover``."""
        vals = np.array([getattr(f, what) for f in self.samples], dtype=np.float64)
        if what == "crossover":
            lo, hi = LOG_RATES
            vals = 10.0 ** np.clip(np.log10(np.where(vals > 0, vals, 10.0**lo)), lo, hi)
        return float(np.percentile(vals, 5)), float(np.percentile(vals, 95))


@dataclass(slots=True)
class Uncertainty:
    """What the report shows about the uncertainty of its answer."""

    rows: list[Row]
    mixes: list[MixUncertainty]
    assumptions: list[Assumption]
    base: str
    chal: str
    pcpus: int
    rate: float
    samples: int
    seed: int
    figures: list[Path] = field(default_factory=list)
    note: str = ""


def calibration_rows() -> list[Row]:
    """Every run of the shipped record, predicted with the profiles as they are."""
    return [r for e in load_record() for r in predict_experiment(e)]


def largest_scale() -> float:
    """The largest fitted platform latency scale: a platform's DVM operation latency (ns) over
    the reference's (``cost.calibrate.REFERENCE``), over the shipped profiles."""
    from ..cost.calibrate import REFERENCE

    ref = load_platform(REFERENCE)
    ref_ns = ref.dvm_op_cycles / ref.clock_ghz
    scales = [1.0]
    for name in platform_names():
        p = load_platform(name)
        if (
            p.provenance.get("dvm_op_cycles") is not None
            and not p.provenance["dvm_op_cycles"].assumed
        ):
            scales.append((p.dvm_op_cycles / p.clock_ghz) / ref_ns)
    return max(scales)


def analyse(
    mixes: dict[str, dict[str, Workload]],
    pcpus: int,
    rate: float,
    base: str,
    chal: str,
    samples: int = SAMPLES,
    seed: int = SEED,
) -> Uncertainty:
    """``mixes``: platform → mix → its workload at the headline point."""
    rows = calibration_rows()
    val = [s for s in summarise(rows) if s.role == "validate"]
    assumptions = assumptions_for(val[0].geomean if val else 2.0, largest_scale())
    out = Uncertainty(rows, [], assumptions, base, chal, pcpus, rate, samples, seed)
    for plat_name, by_mix in mixes.items():
        for name, wl in by_mix.items():
            plat = load_platform(wl.platform, wl.base_dir)
            kinds = {d.kind: load_rates(d.kind, wl.base_dir) for d in wl.domains}
            mix = _Mix(name, wl, kinds)
            mu = MixUncertainty(
                plat_name, name, _figures(mix, plat, kinds, pcpus, rate, base, chal)
            )
            rng = np.random.default_rng([seed, len(out.mixes)])
            for _ in range(samples):
                p, k = plat, kinds
                for a in assumptions:
                    p, k = _apply(p, k, a, a.draw(rng))
                mu.samples.append(_figures(mix, p, k, pcpus, rate, base, chal))
            for a in assumptions:
                ends = []
                for v in (a.low, a.high):
                    p, k = _apply(plat, kinds, a, v)
                    ends.append(_figures(mix, p, k, pcpus, rate, base, chal).crossover)
                mu.sensitivity.append((a.name, ends[0], ends[1]))
            out.mixes.append(mu)
    return out


def for_study(spec: StudySpec, fig_dir: Path, samples: int = SAMPLES) -> Uncertainty:
    """The uncertainty of a study's answer at its headline point, with its sensitivity chart
    in ``fig_dir`` (``sensitivity-<platform>.svg/png``). A study whose evaluator is not
    vtlbsim's cost model gets a note instead (the corners need the analytic model)."""
    from .spec import DEFAULT_EVALUATOR
    from .sweep import expand, workload_of
    from .uncertainty_render import chart

    top, rate = spec.headline_pcpus(), spec.headline_rate()
    base, chal = spec.report.baseline, spec.report.challenger
    if spec.evaluator != DEFAULT_EVALUATOR:
        return Uncertainty(
            [],
            [],
            [],
            base,
            chal,
            top,
            rate,
            0,
            SEED,
            note=f"Not computed: the study's evaluator ({spec.evaluator}) is not vtlbsim's "
            "cost model, whose figures the ranges move.",
        )
    mixes: dict[str, dict[str, Workload]] = {}
    for p in expand(spec):
        first = p.seed == spec.axes.seeds[0] and p.timeslice_ms == spec.timeslices[0]
        if first and p.pcpus == top and p.migration_rate == rate and p.policy == base:
            mixes.setdefault(p.platform, {})[p.mix] = workload_of(p)
    u = analyse(mixes, top, rate, base, chal, samples)
    for plat in mixes:
        sub = dataclasses.replace(u, mixes=[m for m in u.mixes if m.platform == plat])
        u.figures += chart(sub, fig_dir, f"sensitivity-{Path(plat).stem}")
    return u
