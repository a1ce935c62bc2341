"""Exact mode's scheduler by hand (issue 15 item 6): the loads and migrations of ``random-migrate``
(``cost/exact_sched.py``) against the rates its docstring gives, and a migration rate under
the other kinds. Helpers and figures are ``test_exact_anchors.py``'s (flush-on-switch: 400 a
load on anchor-round); the counts are Poisson or binomial draws, bounded within 4 standard
deviations of the mean the rule gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_exact_anchors import SHORT_SLICE_MS, _fresh_dvm_solutions, exact, only

__all__ = ["_fresh_dvm_solutions"]  # the autouse fixture: each run solves its own DVM steps


@pytest.mark.parametrize(
    ("vms", "rate", "low", "high"),
    [(2, 2_000.0, 320, 480), (3, 4_000.0, 1_004, 1_396)],
    ids=["to-the-idle-pcpu", "swaps"],
)
def test_random_migrate_moves_at_the_rate_given(
    tmp_path: Path, vms: int, rate: float, low: int, high: int
) -> None:
    """random-migrate on three pCPUs for 0.1 s (a 1 ms timeslice: without overcommit no
    timeslice end loads anything), several moves per 1 ms step.

    - two vCPUs at 2,000 moves per running vCPU-second: one pCPU is always idle, so each move
      goes there, one load and one migration: Poisson(2,000 x 2 x 0.1 = 400) loads, within 4
      standard deviations (80) 320 to 480;
    - three vCPUs at 4,000, no idle pCPU: swaps at half the rate per running vCPU, 4,000 x 3 /
      2 x 0.1 = Poisson(600) swaps (sd 24.5), each two loads and two migrations with another
      pCPU: 2 x (600 +- 98), 1,004 to 1,396 loads, an even count.

    Each load costs flush-on-switch's 400."""
    res = exact(
        tmp_path,
        "flush-on-switch",
        pcpus=3,
        vms=vms,
        sched="random-migrate",
        migrations=rate,
        timeslice_ms=SHORT_SLICE_MS,
    )
    loads = res.events["vcpu-loads"]
    assert low <= loads <= high
    assert res.events["migrations"] == loads
    if vms == 3:
        assert loads % 2 == 0
    assert res.cycles["hyp-flush"] == pytest.approx(400.0 * loads)


def test_random_migrate_on_one_pcpu_never_moves(tmp_path: Path) -> None:
    """random-migrate on one pCPU: nowhere to move, so no load after the first placement (which
    is warm-up) and nothing charged."""
    res = exact(
        tmp_path,
        "flush-on-switch",
        pcpus=1,
        vms=1,
        sched="random-migrate",
        migrations=200.0,
        timeslice_ms=SHORT_SLICE_MS,
    )
    only(res)
    assert res.events.get("vcpu-loads", 0.0) == 0.0


@pytest.mark.parametrize(
    ("sched", "vms", "loads"),
    [("pinned", 2, 0.0), ("round-robin", 2, 0.0), ("pinned", 4, 20.0)],
    ids=["pinned", "round-robin", "pinned-overcommit"],
)
def test_a_migration_rate_moves_nothing_but_under_random_migrate(
    tmp_path: Path, sched: str, vms: int, loads: float
) -> None:
    """The workload's migration rate (300 per vCPU-second, above the timeslice rate) is read by
    ``random-migrate`` only: pinned or round-robin vCPUs, one per pCPU, are never loaded again;
    four pinned on two pCPUs are loaded at each of the 10 timeslice ends on both pCPUs (20
    loads, flush-on-switch 400 each) and never migrate."""
    res = exact(tmp_path, "flush-on-switch", pcpus=2, vms=vms, sched=sched, migrations=300.0)
    assert res.events.get("vcpu-loads", 0.0) == loads
    assert res.events.get("migrations", 0.0) == 0.0
    assert res.cycles["hyp-flush"] == pytest.approx(400.0 * loads)


@pytest.mark.parametrize(
    ("pcpus", "rate", "low", "high"),
    [(2, 200.0, 21, 66), (2, 4_100.0, 640, 980), (3, 4_100.0, 1_004, 1_426)],
)
def test_random_migrate_above_the_timeslice_rate_swaps_within_the_slices(
    tmp_path: Path, pcpus: int, rate: float, low: int, high: int
) -> None:
    """Two vCPUs per pCPU (overcommit), random-migrate above the timeslice rate (100 per
    second): the 10 timeslice ends load at most one vCPU per pCPU each (20 on two pCPUs, 30 on
    three), and the rest, rate - 100 per running vCPU-second, are swaps with another pCPU within
    the slices at half that rate per running vCPU, two loads and two migrations each:

    - two pCPUs, 200: Poisson(100 x 2 / 2 x 0.1 = 10) swaps, so more than 20 loads (P(no swap)
      = e^-10) and at most 20 + 2 x 23 (10 + 4 sd);
    - two pCPUs, 4,100: Poisson(4,000 x 2 / 2 x 0.1 = 400) swaps (sd 20): 2 x 320 to
      20 + 2 x 480 loads;
    - three pCPUs, 4,100: Poisson(600) swaps (sd 24.5): 2 x 502 to 30 + 2 x 698 loads.

    Every load but the timeslice ends' is a migration."""
    res = exact(
        tmp_path,
        "flush-on-switch",
        pcpus=pcpus,
        vms=2 * pcpus,
        sched="random-migrate",
        migrations=rate,
    )
    loads = res.events["vcpu-loads"]
    assert low <= loads <= high
    assert loads - 10 * pcpus <= res.events["migrations"] <= loads


def test_random_migrate_steals_make_the_scheduler_models_share_of_migrations(
    tmp_path: Path,
) -> None:
    """Four vCPUs on two pCPUs, random-migrate at 50 per running vCPU-second, below the
    timeslice rate: at each timeslice end a pCPU steals with probability s = 1 - sqrt(1 - q),
    q = 50 x 0.01 = 0.5, so that s(2 - s) = q = half the loads are migrations (the scheduler
    model's share). Over 1 s, 100 timeslice ends of at most 2 loads, at least 1 (pCPU 0, first,
    loads its queue's waiting head or, stealing, the other queue's): the share of migrations
    within 4 binomial standard deviations (0.035 at 200 loads) of 0.5, 0.36 to 0.64."""
    res = exact(
        tmp_path,
        "flush-on-switch",
        pcpus=2,
        vms=4,
        sched="random-migrate",
        migrations=50.0,
        duration_s=1.0,
    )
    loads = res.events["vcpu-loads"]
    assert 100 <= loads <= 200
    assert 0.36 <= res.events["migrations"] / loads <= 0.64
