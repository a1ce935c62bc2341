"""The scheduler model of cost runs (hyp/scheduler.py): rates of each load situation."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from vtlbsim.hyp.scheduler import LoadSituation, load_rates_for

SCHEDS = ["pinned", "round-robin", "random-migrate"]


@settings(max_examples=200, deadline=None)
@given(
    sched=st.sampled_from(SCHEDS),
    pcpus=st.integers(1, 256),
    total=st.integers(1, 1024),
    k=st.integers(1, 16),
    rate=st.floats(0.0, 1000.0),
    slice_ms=st.floats(0.1, 100.0),
)
def test_situations_add_up_to_loads_and_migrations(
    sched: str, pcpus: int, total: int, k: int, rate: float, slice_ms: float
) -> None:
    total = max(total, k)
    lr = load_rates_for(sched, pcpus, total, k, rate, slice_ms)
    by = lr.by_situation
    assert all(v >= 0.0 for v in by.values())
    assert math.isclose(sum(by.values()), lr.loads_per_s, rel_tol=1e-9, abs_tol=1e-9)
    migrated = sum(v for s, v in by.items() if s.value.startswith("migrate"))
    assert math.isclose(migrated, lr.migrations_per_s, rel_tol=1e-9, abs_tol=1e-9)
    assert lr.migrations_per_s <= lr.loads_per_s + 1e-9
    assert 0.0 < lr.running_share <= 1.0 and 0.0 < lr.busy <= 1.0
    if sched == "pinned":
        assert lr.migrations_per_s == 0.0
    if total <= pcpus and sched != "random-migrate":
        assert lr.loads_per_s == 0.0  # nobody shares a pCPU: nobody is switched
    if k == 1:
        assert by[LoadSituation.STAY_OTHER] == 0.0 and by[LoadSituation.MIGRATE_OTHER] == 0.0


def test_overcommit_switches_every_timeslice() -> None:
    lr = load_rates_for("pinned", 10, 30, 1, 0.0, 10.0)
    assert lr.loads_per_s == 100.0 and lr.running_share == 1 / 3 and lr.overcommit == 3.0
    rr = load_rates_for("round-robin", 10, 30, 1, 0.0, 10.0)
    assert math.isclose(rr.migrations_per_s, 100.0 * (1 - 1 / 10))
