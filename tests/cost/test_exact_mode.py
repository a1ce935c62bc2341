"""Exact mode: flush costs only where the policy flushes, backends agree, traces replay, and the
analytic model agrees with it on the stated configurations (cost/validate.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vtlbsim.cost import evaluate
from vtlbsim.cost.exact import evaluate_exact
from vtlbsim.cost.validate import CONFIGS, TOLERANCE, Config, compare, relative_error
from vtlbsim.cost.workload import Workload

ROOT = Path(__file__).resolve().parents[2]


def _wl(
    kind: str, count: int, vcpus: int, sched: dict[str, object], duration: float = 0.2
) -> Workload:
    return Workload.model_validate(
        {
            "platform": "cortex-a57-juno",
            "duration_s": duration,
            "scheduler": sched,
            "domains": [{"kind": kind, "count": count, "vcpus": vcpus}],
        }
    )


PINNED = _wl("linux-arm64-smp", 1, 4, {"kind": "pinned"})


@pytest.mark.parametrize(
    "policy", ["flush-on-migrate", "flush-1vcpu-only", "xen", "xvisor", "flush-on-arrival"]
)
def test_pinned_migration_free_workload_charges_no_flush(policy: str) -> None:
    """4 vCPUs pinned on 4 cores: no load after the first placement, so no hypervisor flush,
    and no refill caused by one."""
    r = evaluate(PINNED, policy, pcpus=4, mode="exact")
    assert r.mode == "exact"
    assert r.events.get("migrations", 0) == 0
    for cause in ("hyp-flush", "tlb-refill", "icache-refill"):
        assert r.cycles[cause] == 0.0, cause
    assert r.events["references"] > 0 and r.events["l1-tlb-hits"] > 0


def test_none_costs_nothing_even_with_migrations() -> None:
    wl = _wl("linux-arm32-up", 8, 1, {"kind": "round-robin", "timeslice_ms": 10})
    r = evaluate(wl, "none", pcpus=4, mode="exact")
    assert r.events["migrations"] > 0
    assert r.total_cycles == 0.0 and r.overhead_pct == 0.0


def test_flush_on_switch_refills_what_it_flushed() -> None:
    wl = _wl("linux-arm32-up", 8, 1, {"kind": "round-robin", "timeslice_ms": 10})
    r = evaluate(wl, "flush-on-switch", pcpus=4, mode="exact")
    assert r.events["walks:hyp-load"] > 0 and r.cycles["tlb-refill"] > 0
    assert r.cycles["tlb-refill"] == pytest.approx(r.events["walks:hyp-load"] * 150)


def test_fb_collateral_only_with_local_maintenance() -> None:
    """An SMP guest that only broadcasts: FB adds nothing; a UP guest's local TLBIs: FB broadcasts."""
    smp = _wl("freebsd-arm64-smp", 1, 2, {"kind": "round-robin"})  # IS forms only
    r = evaluate(smp, "fb", pcpus=2, mode="exact")
    assert r.events["guest-maintenance"] > 0
    assert r.events.get("fb-upgraded", 0) == 0 and r.total_cycles == 0.0
    up = _wl("linux-arm32-up", 2, 1, {"kind": "pinned"})
    r = evaluate(up, "fb", pcpus=2, mode="exact")
    assert r.events["fb-upgraded"] > 0 and r.cycles["dvm-others"] > 0
    assert r.cost_to_others_pct > 0


def test_numba_and_reference_backends_agree() -> None:
    wl = _wl("linux-arm32-up", 4, 1, {"kind": "round-robin", "timeslice_ms": 5}, duration=0.03)
    kw = {"refs_per_vcpu_s": 2e6}
    a = evaluate_exact(wl, "flush-on-migrate", 2, 7, None, backend="numba", **kw)
    b = evaluate_exact(wl, "flush-on-migrate", 2, 7, None, backend="reference", **kw)
    assert a.to_json() == b.to_json()
    assert a.events["walks:hyp-load"] > 0


FAST = {"kind": "random-migrate", "migrations_per_vcpu_s": 300, "timeslice_ms": 10}
"""Overcommit, migrating 3x as often as the timeslice ends (docs/cost.md, Scheduler)."""


def test_overcommit_migrates_faster_than_the_timeslice() -> None:
    """With overcommit a vCPU is loaded ``max(1000 / timeslice_ms, rate)`` times per running
    second and migrates ``rate`` times (the analytic scheduler rule), not once per slice."""
    wl = _wl("linux-arm32-up", 8, 1, FAST, duration=0.5)
    e = evaluate(wl, "flush-on-migrate", pcpus=4, mode="exact")
    a = evaluate(wl, "flush-on-migrate", pcpus=4)
    want = 300 * e.events["running-vcpu-s"]
    assert a.events["migrations"] == pytest.approx(want)
    assert e.events["migrations"] == pytest.approx(want, rel=0.05)
    assert e.events["vcpu-loads"] == pytest.approx(want, rel=0.1)
    assert e.events["vcpu-loads"] >= e.events["migrations"]
    slow = _wl("linux-arm32-up", 8, 1, {**FAST, "migrations_per_vcpu_s": 100}, duration=0.5)
    s = evaluate(slow, "flush-on-migrate", pcpus=4, mode="exact")
    assert s.events["migrations"] < 0.5 * e.events["migrations"]


def test_fast_migration_backends_agree_and_deterministic() -> None:
    wl = _wl("linux-arm32-up", 4, 1, {**FAST, "timeslice_ms": 5}, duration=0.03)
    kw = {"refs_per_vcpu_s": 2e6}
    a = evaluate_exact(wl, "flush-on-migrate", 2, 7, None, backend="numba", **kw)
    b = evaluate_exact(wl, "flush-on-migrate", 2, 7, None, backend="reference", **kw)
    assert a.to_json() == b.to_json()
    assert a.events["migrations"] > 0 and a.events["walks:hyp-load"] > 0
    again = evaluate_exact(wl, "flush-on-migrate", 2, 7, None, backend="numba", **kw)
    assert again.to_json() == a.to_json()
    other = evaluate_exact(wl, "flush-on-migrate", 2, 8, None, backend="numba", **kw)
    assert other.to_json() != a.to_json()


def test_deterministic_in_seed() -> None:
    wl = _wl("linux-arm32-up", 8, 1, {"kind": "round-robin", "timeslice_ms": 10}, 0.1)
    one = evaluate(wl, "kvm", pcpus=4, mode="exact", seed=3).to_json()
    assert evaluate(wl, "kvm", pcpus=4, mode="exact", seed=3).to_json() == one


def test_trace_replaces_the_model() -> None:
    wl = _wl("linux-arm64-smp", 1, 2, {"kind": "pinned"}, 0.05)
    trace = str(ROOT / "traces" / "gzip.npz")
    r = evaluate_exact(wl, "fb", 2, 0, None, traces={"linux-arm64-smp": trace})
    m = evaluate_exact(wl, "fb", 2, 0, None)
    assert r.events["references"] == m.events["references"]
    assert r.events["walks:capacity"] != m.events["walks:capacity"]


def test_sample_scales_to_the_full_duration() -> None:
    wl = _wl("linux-arm32-up", 8, 1, {"kind": "round-robin", "timeslice_ms": 10}, 0.4)
    part = evaluate(wl, "flush-on-switch", pcpus=4, mode="exact", sample=0.25)
    full = evaluate(wl, "flush-on-switch", pcpus=4, mode="exact")
    assert part.events["vcpu-loads"] == pytest.approx(full.events["vcpu-loads"], rel=0.05)
    assert relative_error(part.total_cycles, full.total_cycles, 1.0) < 0.2


def test_bad_sample_is_rejected() -> None:
    with pytest.raises(ValueError, match="sample"):
        evaluate_exact(PINNED, "fb", 4, 0, 1.5)


# ---- cross-validation --------------------------------------------------------------------------
EXACT_SEEDS = (0, 1, 2)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_analytic_agrees_with_exact(config: Config) -> None:
    """Every comparison a configuration claims (cost/validate.py: the event-driven causes
    everywhere; every cause on ``pinned-up-fb``; the listed refill causes elsewhere) is within
    TOLERANCE. docs/exact.md lists the unclaimed refill comparisons and why they disagree.
    Exact mode is a random sample: its figures are the mean of seeds 0-2, so one unlucky draw
    (a single seed's refill figures move by up to ±20 %, docs/exact.md) decides nothing."""
    wl = config.build()
    checked = 0
    for policy in config.policies:
        a = evaluate(wl, policy, pcpus=config.pcpus)
        runs = [
            evaluate(wl, policy, pcpus=config.pcpus, mode="exact", sample=0.5, seed=seed)
            for seed in EXACT_SEEDS
        ]
        e = dataclasses.replace(
            runs[0],
            cycles={c: sum(r.cycles.get(c, 0.0) for r in runs) / len(runs) for c in a.cycles},
        )
        for row in compare(a, e, config):
            if row.claimed and row.simulated:
                checked += 1
                assert row.error <= TOLERANCE, row
    assert checked >= len(config.policies) * 4
