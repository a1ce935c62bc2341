"""Cross-validation's arithmetic and bookkeeping (cost/validate.py), by hand: the relative error
with its floor, which comparisons a configuration claims, when a row passes, one row per cause,
a sampled run's error, and that ``cross_validate`` runs both modes with the seed and sample it
is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from vtlbsim.cost.analytic import evaluate_analytic
from vtlbsim.cost.exact import evaluate_exact
from vtlbsim.cost.result import CostResult
from vtlbsim.cost.validate import (
    CONFIGS,
    EVENT_CAUSES,
    FLOOR_PCT,
    TOLERANCE,
    Config,
    Row,
    compare,
    cross_validate,
    relative_error,
    sample_error,
)

DATA = Path(__file__).parent / "data"


def test_relative_error_with_a_floor() -> None:
    """``|a - e| / max(|a|, |e|, floor)``: 3 vs 1 → 2/3; equal → 0; one of them 0 → 1; both
    below the floor: the floor divides (0.001 vs 0 under a floor of 1 → 0.001); signs are
    magnitudes (-3 vs 1 → 4/3)."""
    assert relative_error(3.0, 1.0, 0.5) == pytest.approx(2 / 3)
    assert relative_error(1.0, 3.0, 0.5) == pytest.approx(2 / 3)
    assert relative_error(7.0, 7.0, 1.0) == 0.0
    assert relative_error(0.0, 5.0, 1.0) == 1.0
    assert relative_error(5.0, 0.0, 1.0) == 1.0
    assert relative_error(0.001, 0.0, 1.0) == pytest.approx(0.001)
    assert relative_error(0.0, 0.0, 1.0) == 0.0
    assert relative_error(-3.0, 1.0, 0.5) == pytest.approx(4 / 3)
    assert relative_error(1.0, -3.0, 0.5) == pytest.approx(4 / 3)


def test_what_a_configuration_claims() -> None:
    """The event causes always; a (policy, cause) pair for that policy only; "*" for any policy
    or any cause."""
    assert EVENT_CAUSES == ("broadcast-issue", "dvm-others", "hyp-flush", "trap")
    c = Config("c", {}, 2, ("fb", "kvm"), "why", (("fb", "collateral-tlb"), ("*", "tlb-refill")))
    assert c.claimed("kvm", "trap") and c.claimed("kvm", "hyp-flush")
    assert c.claimed("fb", "collateral-tlb") and not c.claimed("kvm", "collateral-tlb")
    assert c.claimed("kvm", "tlb-refill") and c.claimed("fb", "tlb-refill")
    assert not c.claimed("fb", "icache-refill")
    bare = Config("c", {}, 2, ("fb",), "why")
    assert bare.claimed("fb", "dvm-others") and not bare.claimed("fb", "tlb-refill")
    every = Config("c", {}, 2, ("fb",), "why", (("*", "*"),))
    assert every.claimed("anything", "bp-retrain")
    by_policy = Config("c", {}, 2, ("fb",), "why", (("fb", "*"),))
    assert by_policy.claimed("fb", "icache-refill") and not by_policy.claimed(
        "kvm", "icache-refill"
    )


def test_when_a_row_passes() -> None:
    """Within the tolerance (0.25, inclusive) it passes; outside it fails only if it is both
    simulated and claimed."""
    assert TOLERANCE == 0.25

    def row(error: float, simulated: bool = True, claimed: bool = True) -> Row:
        return Row("c", "fb", "trap", 1.0, 1.0, error, simulated, claimed)

    assert row(0.25).within and row(0.25).ok
    assert not row(0.2500001).within and not row(0.2500001).ok
    assert row(0.9, simulated=False).ok and row(0.9, claimed=False).ok
    assert not row(0.9).ok
    assert Row("c", "fb", "trap", 1.0, 1.0, 0.9).ok is False  # simulated and claimed by default


def _result(cycles: dict[str, float], machine: float = 1e9, total: float = 0.0) -> CostResult:
    return CostResult(
        "fb", 4, "p", 0.0, 0.0, cycles, {}, machine_cycles=machine, total_cycles=total
    )


def test_compare_gives_one_row_per_cause() -> None:
    """Machine 1e9 cycles: floor = 0.001 % of it = 1e4. trap 3e5 vs 2e5 → 1e5 / 3e5 = 1/3
    (claimed, simulated); bp-retrain 1e5 vs none → 1 (not simulated: exact mode charges it by
    the analytic rule); tlb-refill none vs 5e3 → 5e3 / 1e4 = 0.5 under the floor, claimed by
    the configuration for fb; icache-refill 2e3 vs 1e3 → 1e3 / 1e4 = 0.1; every other cause 0."""
    a = _result({"trap": 3e5, "bp-retrain": 1e5, "icache-refill": 2e3})
    e = _result({"trap": 2e5, "tlb-refill": 5e3, "icache-refill": 1e3}, machine=5.0)
    c = Config("cfg", {}, 4, ("fb",), "why", (("fb", "tlb-refill"),))
    rows = {r.cause: r for r in compare(a, e, c)}
    assert list(rows) == [
        "broadcast-issue",
        "dvm-others",
        "collateral-tlb",
        "hyp-flush",
        "tlb-refill",
        "icache-refill",
        "bp-retrain",
        "trap",
    ]
    assert rows["trap"] == Row("cfg", "fb", "trap", 3e5, 2e5, pytest.approx(1 / 3), True, True)
    assert rows["bp-retrain"] == Row("cfg", "fb", "bp-retrain", 1e5, 0.0, 1.0, False, False)
    assert rows["tlb-refill"] == Row("cfg", "fb", "tlb-refill", 0.0, 5e3, 0.5, True, True)
    assert rows["icache-refill"] == Row(
        "cfg", "fb", "icache-refill", 2e3, 1e3, pytest.approx(0.1), True, False
    )
    assert rows["collateral-tlb"] == Row("cfg", "fb", "collateral-tlb", 0.0, 0.0, 0.0, True, False)
    assert rows["dvm-others"].claimed and rows["dvm-others"].error == 0.0


def test_sample_error_uses_the_full_run_s_floor() -> None:
    """Full run: 1e9 machine cycles (floor 1e4), total 1e6; a sample with total 9e5 → 0.1; two
    negligible totals (3e3 vs 1e3) → 2e3 / 1e4 = 0.2, the floor from the full run (the part's
    machine cycles, 1, play no role)."""
    assert FLOOR_PCT == 1e-3
    full = _result({}, machine=1e9, total=1e6)
    assert sample_error(_result({}, machine=1.0, total=9e5), full) == pytest.approx(0.1)
    small = _result({}, machine=1e9, total=1e3)
    assert sample_error(_result({}, machine=1.0, total=3e3), small) == pytest.approx(0.2)


def test_every_shipped_configuration_is_a_valid_workload_and_claims_the_event_causes() -> None:
    names = [c.name for c in CONFIGS]
    assert len(set(names)) == len(names) == 7
    for c in CONFIGS:
        wl = c.build()
        assert wl.duration_s == 1.0 and len(wl.domains) == 1
        assert all(c.claimed(p, cause) for p in c.policies for cause in EVENT_CAUSES)
    juno = next(c for c in CONFIGS if c.name == "pinned-up-fb").build()
    assert (juno.platform, juno.scheduler.kind, juno.domains[0].count) == (
        "cortex-a57-juno",
        "pinned",
        4,
    )


def test_cross_validate_runs_both_modes_with_its_seed_and_sample() -> None:
    """Two 1-vCPU arm32 guests migrating on anchor-round for 10 ms under fb: one row per cause,
    the comparison of ``evaluate_analytic`` with ``evaluate_exact`` at the seed and sample
    given (seed 3 and 7, and sample 0.5 and the whole run, give different exact runs here, so
    a lost seed or sample would show)."""
    c = Config(
        "tiny",
        {
            "platform": str(DATA / "anchor-round.toml"),
            "duration_s": 0.01,
            "scheduler": {"kind": "random-migrate", "migrations_per_vcpu_s": 400},
            "domains": [{"kind": "linux-arm32-up", "count": 2}],
        },
        2,
        ("fb",),
        "a test",
    )
    wl = c.build()
    rows = cross_validate((c,), seed=3, sample=0.5)
    exact = evaluate_exact(wl, "fb", 2, 3, 0.5)
    assert rows == compare(evaluate_analytic(wl, "fb", 2), exact, c) and len(rows) == 8
    assert evaluate_exact(wl, "fb", 2, 7, 0.5).cycles != exact.cycles
    # the default seed is 0
    default = compare(evaluate_analytic(wl, "fb", 2), evaluate_exact(wl, "fb", 2, 0, 0.5), c)
    assert cross_validate((c,), sample=0.5) == default
    assert evaluate_exact(wl, "fb", 2, 3, None).cycles != exact.cycles
