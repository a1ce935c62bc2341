"""Invariant: the stored table does not depend on the order or the batching in which rows
arrive, nor on which result columns each batch brings (what differs between executors)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vtlbsim.study.store import BASE_NAMES, Store

CAUSES = ["cycles_a", "cycles_b", "cycles_c", "events_x"]


def _row(i: int, causes: dict[str, float]) -> dict[str, Any]:
    row: dict[str, Any] = {n: None for n in BASE_NAMES}
    row.update(
        run_key=f"k{i:04d}",
        model_version="v",
        platform="p",
        pcpus=8 * (1 + i % 3),
        mix=f"m{i % 2}",
        guests="g",
        kinds="linux-arm32-up",
        vcpus=4,
        scheduler="random-migrate",
        migration_rate=float(i % 5),
        timeslice_ms=10.0,
        duration_s=1.0,
        policy=["fb", "flush-on-migrate"][i % 2],
        seed=i // 30,
        mode="analytic",
        sample=None if i % 4 else 0.5,
        overhead_pct=i / 7,
        cost_to_others_pct=i / 11,
        total_cycles=float(i),
        machine_cycles=1e9,
        safe=[True, False, None][i % 3],
        unsafe_kinds="",
        assumptions="",
    )
    row.update(causes)
    return row


@settings(max_examples=15, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=1, max_value=40),
)
def test_order_and_batching_do_not_change_the_table(data: st.DataObject, n: int) -> None:
    causes = [
        data.draw(st.dictionaries(st.sampled_from(CAUSES), st.floats(0, 1e6), max_size=3))
        for _ in range(n)
    ]
    rows = [_row(i, causes[i]) for i in range(n)]
    order = data.draw(st.permutations(range(n)))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, n - 1)), max_size=5)))
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "a") as a:
            assert a.insert(rows) == n
            a.insert(rows[: n // 2])  # repeats are ignored
            a.canonicalise()
            expect = a.query("SELECT * FROM results")
        with Store(Path(tmp) / "b") as b:
            shuffled = [rows[i] for i in order]
            bounds = [0, *[c for c in cuts if c < n], n]
            for lo, hi in zip(bounds, bounds[1:], strict=False):
                b.insert(shuffled[lo:hi])
            b.canonicalise()
            got = b.query("SELECT * FROM results")
    assert got == expect
    names, table = got
    assert len(table) == n
    by_key = {r[names.index("run_key")]: r for r in table}
    for i, row in enumerate(rows):
        stored = by_key[row["run_key"]]
        assert stored[names.index("safe")] == row["safe"]
        assert stored[names.index("sample")] == row["sample"]
        for c in CAUSES:
            if c in names:  # a column exists once any row brought it; 0 where a row had none
                assert stored[names.index(c)] == causes[i].get(c, 0.0)
