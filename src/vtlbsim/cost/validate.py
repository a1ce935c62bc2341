"""Cross-validation: the analytic model against exact mode, cause by cause, on stated configurations.

Each configuration is a small workload whose scheduler and guests stay inside the analytic
model's assumptions (steady state, even overcommit, every vCPU runnable). For every policy and
every cause the check computes ``relative_error(analytic, exact)``:
``|analytic - exact| / max(|analytic|, |exact|, floor)`` with ``floor = FLOOR_PCT`` % of the
machine's cycles, so two figures that are both negligible (< 0.001 % of the machine) agree.
``TOLERANCE`` is the bound a *claimed* comparison must meet (docs/exact.md justifies it). The
claims: on every configuration, the event-driven causes (``EVENT_CAUSES``: event counts times a
per-event cost); plus, per configuration, the refill causes listed in ``Config.claims`` ("*"
for every cause). The other comparisons are printed as known disagreements; docs/exact.md says
why each one disagrees and what change to the analytic model it calls for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .analytic import evaluate_analytic
from .causes import CAUSES
from .exact import evaluate_exact
from .result import CostResult
from .workload import Workload

NOT_SIMULATED = ("bp-retrain",)
"""Causes exact mode charges by the analytic rule (the branch predictor is not simulated)."""
TOLERANCE = 0.25
"""Largest relative error accepted per cause (see docs/exact.md, "Tolerance")."""
EVENT_CAUSES = ("broadcast-issue", "dvm-others", "hyp-flush", "trap")
"""Causes that are an event count times a per-event cost: claimed on every configuration."""
FLOOR_PCT = 1e-3
"""Below this share of machine cycles (in %), a cause counts as zero in both modes."""


@dataclass(frozen=True, slots=True)
class Config:
    """One cross-validation point: a workload, a core count, and the policies compared."""

    name: str
    workload: dict[str, Any]
    pcpus: int
    policies: tuple[str, ...]
    why: str
    claims: tuple[tuple[str, str], ...] = ()
    """(policy, cause) pairs claimed beyond ``EVENT_CAUSES``; ("*", "*") claims everything."""

    def claimed(self, policy: str, cause: str) -> bool:
        """Whether the agreement of ``cause`` under ``policy`` is claimed on this config."""
        if cause in EVENT_CAUSES:
            return True
        return any(p in ("*", policy) and c in ("*", cause) for p, c in self.claims)

    def build(self) -> Workload:
        return Workload.model_validate(self.workload)


def _wl(kind: str, count: int, vcpus: int, sched: dict[str, Any], platform: str) -> dict[str, Any]:
    return {
        "platform": platform,
        "duration_s": 1.0,
        "scheduler": sched,
        "domains": [{"kind": kind, "count": count, "vcpus": vcpus}],
    }


CONFIGS: tuple[Config, ...] = (
    Config(
        "pinned-up-fb",
        _wl("linux-arm32-up", 4, 1, {"kind": "pinned"}, "cortex-a57-juno"),
        4,
        ("none", "fb", "trap-ttlb", "flush-on-migrate"),
        "4 pinned 1-vCPU UP guests on 4 cores: FB upgrades every local TLBI, IC IALLU and BPIALL",
        (("*", "*"),),
    ),
    Config(
        "overcommit-rr",
        _wl(
            "linux-arm32-up",
            8,
            1,
            {"kind": "round-robin", "timeslice_ms": 10},
            "cortex-a57-juno",
        ),
        4,
        ("flush-on-switch", "flush-on-migrate", "last-vcpu-ran", "fb"),
        "8 1-vCPU UP guests on 4 cores, round-robin 10 ms slices: flushes at every load",
        # not claimed: flush-on-migrate's tlb-refill and flush-on-switch's icache-refill are
        # 0.33 and 0.32 apart averaged over seeds 0-5 (0.27 and 0.26 before issue 10's
        # disciplines: the exec-map ICIALLU empties the I-cache between loads), docs/exact.md
    ),
    Config(
        "smp-migrate",
        _wl(
            "linux-arm64-smp",
            2,
            4,
            {"kind": "random-migrate", "migrations_per_vcpu_s": 50, "timeslice_ms": 10},
            "cortex-a57-juno",
        ),
        8,
        ("fb", "flush-on-migrate", "kvm", "xen"),
        "two 4-vCPU SMP guests on 8 cores, 50 migrations per vCPU-second (swaps)",
        (("*", "tlb-refill"),),
    ),
    Config(
        "smp-overcommit",
        _wl(
            "linux-arm64-smp",
            4,
            4,
            {"kind": "random-migrate", "migrations_per_vcpu_s": 100, "timeslice_ms": 10},
            "thunderx-cn8890-2s",
        ),
        8,
        ("flush-on-migrate", "kvm"),
        "the flagship study's arm64-smp mix in small: 4 4-vCPU guests on 8 ThunderX cores",
        (("*", "tlb-refill"),),
    ),
    Config(
        "overcommit-fast-migrate",
        _wl(
            "linux-arm32-up",
            8,
            1,
            {"kind": "random-migrate", "migrations_per_vcpu_s": 300, "timeslice_ms": 10},
            "cortex-a57-juno",
        ),
        4,
        ("flush-on-migrate", "flush-on-switch", "kvm"),
        "8 1-vCPU UP guests on 4 cores, 300 migrations per vCPU-second with 10 ms slices: "
        "migrating 3x as often as the timeslice ends (blocks and wakes)",
    ),
    Config(
        "smp-local-byva",
        _wl(
            "linux-arm64-local-relax",
            2,
            4,
            {"kind": "random-migrate", "migrations_per_vcpu_s": 50, "timeslice_ms": 10},
            "cortex-a57-juno",
        ),
        8,
        ("fb", "flush-on-arrival"),
        "two 4-vCPU guests whose permission relaxations use a local VALE1 (by VA) on 8 cores: "
        "FB makes each a broadcast that removes one page from the running siblings' TLBs",
        (("fb", "collateral-tlb"), ("*", "tlb-refill")),
    ),
    Config(
        "smp-overcommit-is-flush",
        _wl(
            "linux-arm64-smp",
            4,
            4,
            {"kind": "random-migrate", "migrations_per_vcpu_s": 100, "timeslice_ms": 10},
            "thunderx-cn8890-2s",
        ),
        8,
        ("xvisor",),
        "smp-overcommit under a hypervisor broadcast: Xvisor's TLBI ALLE1IS at every pCPU change",
        # not claimed: collateral-tlb and tlb-refill, the analytic upper bound of a whole
        # working set lost per receiver per ALLE1IS (docs/exact.md, known disagreement 5)
    ),
)
"""The configurations the cross-validation test and ``vtlbsim validate`` run."""


@dataclass(frozen=True, slots=True)
class Row:
    """One (configuration, policy, cause) comparison."""

    config: str
    policy: str
    cause: str
    analytic: float
    exact: float
    error: float
    simulated: bool = True
    """False for causes exact mode charges by the analytic rule (``NOT_SIMULATED``)."""
    claimed: bool = True
    """Whether the configuration claims agreement for this cause (``Config.claimed``)."""

    @property
    def within(self) -> bool:
        return self.error <= TOLERANCE

    @property
    def ok(self) -> bool:
        """A claimed, simulated comparison within the tolerance (others always pass)."""
        return self.within or not (self.simulated and self.claimed)


def relative_error(analytic: float, exact: float, floor: float) -> float:
    """``|a - e| / max(|a|, |e|, floor)``: 0 when equal, 1 when one of them is zero."""
    return abs(analytic - exact) / max(abs(analytic), abs(exact), floor)


def compare(a: CostResult, e: CostResult, config: Config) -> list[Row]:
    """One row per cause of the analytic model."""
    floor = FLOOR_PCT / 100.0 * a.machine_cycles
    return [
        Row(
            config.name,
            a.policy,
            cause,
            a.cycles.get(cause, 0.0),
            e.cycles.get(cause, 0.0),
            relative_error(a.cycles.get(cause, 0.0), e.cycles.get(cause, 0.0), floor),
            cause not in NOT_SIMULATED,
            config.claimed(a.policy, cause),
        )
        for cause in CAUSES
    ]


def cross_validate(
    configs: tuple[Config, ...] = CONFIGS, seed: int = 0, sample: float | None = None
) -> list[Row]:
    """Run both modes on every configuration and policy; one row per cause."""
    rows: list[Row] = []
    for c in configs:
        wl = c.build()
        for pol in c.policies:
            a = evaluate_analytic(wl, pol, c.pcpus)
            e = evaluate_exact(wl, pol, c.pcpus, seed, sample)
            rows.extend(compare(a, e, c))
    return rows


def sample_error(part: CostResult, full: CostResult) -> float:
    """The relative error of a sampled exact run's total cost against the full run's."""
    floor = FLOOR_PCT / 100.0 * full.machine_cycles
    return relative_error(part.total_cycles, full.total_cycles, floor)
