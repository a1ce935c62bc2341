"""The numba access loop and the plain-Python reference agree bit for bit on random streams."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vtlbsim.guest.workload import F_FETCH, F_GLOBAL
from vtlbsim.sim import fastpath as fp
from vtlbsim.sim.fasttlbs import FastTlbs, Geometry
from vtlbsim.sim.reference import ReferenceTlbs

GEOMETRIES = [
    Geometry((4, 4), (2, 2), (16, 4), (8, 2)),
    Geometry((8, 2), (6, 3), (12, 3), (12, 4), ic_shift=1),
    Geometry((1, 1), (1, 1), (3, 1), (2, 2)),
]

batch = st.tuples(
    st.integers(0, 1),  # pCPU
    st.integers(1, 2),  # VMID
    st.integers(0, 2),  # ASID
    st.lists(st.tuples(st.integers(0, 64 * 24 - 1), st.integers(0, 7)), max_size=60),
    st.integers(0, 4),  # match code
    st.integers(0, 24),  # page
    st.integers(1, 3),  # pages
    st.integers(1, fp.N_REASONS - 1),  # reason
    st.integers(-1, 24),  # I-cache page (-1: all)
    st.integers(0, 64 * 4),  # private offset
)


@settings(max_examples=60, deadline=None)
@given(geo=st.sampled_from(GEOMETRIES), batches=st.lists(batch, min_size=1, max_size=12))
def test_numba_loop_equals_reference(geo: Geometry, batches: list) -> None:  # type: ignore[type-arg]
    fast = FastTlbs(2, geo)
    ref = ReferenceTlbs(2, geo)
    for p, vmid, asid, refs, match, page, npages, reason, icpage, offset in batches:
        lines = np.array([r[0] for r in refs], dtype=np.int64)
        flags = np.array([r[1] for r in refs], dtype=np.uint8)
        fast.run(p, vmid, asid, lines, flags, 0, len(refs), offset)
        ref.run(p, vmid, asid, lines, flags, 0, len(refs), offset)
        assert fast.invalidate_tlb(p, vmid, match, asid, page, npages, reason) == (
            ref.invalidate_tlb(p, vmid, match, asid, page, npages, reason)
        )
        assert fast.invalidate_icache(p, vmid, icpage, reason) == (
            ref.invalidate_icache(p, vmid, icpage, reason)
        )
        if match % 2:  # a broadcast's receivers too
            assert fast.invalidate_tlb_others(p, vmid, match, asid, page, npages, reason) == (
                ref.invalidate_tlb_others(p, vmid, match, asid, page, npages, reason)
            )
            assert fast.invalidate_icache_others(p, vmid, icpage, reason) == (
                ref.invalidate_icache_others(p, vmid, icpage, reason)
            )
    for a, b in zip(fast.snapshot(), ref.snapshot(), strict=True):
        np.testing.assert_array_equal(a, b)


step = st.tuples(
    st.lists(st.integers(0, 3), min_size=3, max_size=3),  # VMID per pCPU (0: idle)
    st.lists(st.integers(0, 2), min_size=3, max_size=3),  # ASID per pCPU
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=3, max_size=3),
    st.lists(st.integers(0, 64 * 2), min_size=3, max_size=3),  # private offset per pCPU
    st.lists(  # queued maintenance after the step: TLB or I-cache, local or broadcast
        st.tuples(
            st.booleans(),
            st.integers(0, 2),
            st.integers(1, 3),
            st.integers(0, 4),
            st.integers(0, 2),
            st.integers(-1, 24),
            st.integers(1, 3),
            st.integers(1, fp.N_REASONS - 1),
            st.integers(-1, fp.N_REASONS - 1),
        ),
        max_size=6,
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    geo=st.sampled_from(GEOMETRIES),
    stream=st.lists(st.tuples(st.integers(0, 64 * 24 - 1), st.integers(0, 7)), min_size=41),
    steps=st.lists(step, min_size=1, max_size=8),
)
def test_parallel_step_and_queue_equal_reference(  # type: ignore[no-untyped-def]
    geo: Geometry, stream, steps
) -> None:
    """``run_step`` (pCPUs in parallel, one batch per row cell) and queued maintenance give
    the state, counters and clocks of the reference doing the same one by one."""
    fast = FastTlbs(3, geo)
    ref = ReferenceTlbs(3, geo)
    lines = np.array([r[0] for r in stream], dtype=np.int64)
    flags = np.array([r[1] for r in stream], dtype=np.uint8)
    for vmids, asids, spans, offsets, ops in steps:
        n = len(stream)
        starts = np.array([[a, b] for a, b in spans], dtype=np.int64)
        stops = np.array([[min(n, a + 1 + b // 2), min(n, b + a % 3)] for a, b in spans])
        args = (
            np.array(vmids, dtype=np.int64),
            np.array(asids, dtype=np.int64),
            starts,
            stops,
            np.array(offsets, dtype=np.int64),
            lines,
            flags,
        )
        fast.run_step(*args)
        ref.run_step(*args)
        for tlb, p, vmid, match, asid, page, npages, reason, others in ops:
            if tlb:
                fast.queue_tlb(p, vmid, match, asid, max(page, 0), npages, reason, others)
                ref.queue_tlb(p, vmid, match, asid, max(page, 0), npages, reason, others)
            else:
                fast.queue_icache(p, vmid, page, reason, others)
                ref.queue_icache(p, vmid, page, reason, others)
    for a, b in zip(fast.snapshot(), ref.snapshot(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_counters_follow_the_rules() -> None:
    """A page walked once hits afterwards; an invalidation makes its next miss carry the reason."""
    geo = Geometry((4, 4), (4, 4), (16, 4), (16, 4))
    t = FastTlbs(1, geo)
    data = np.array([0x400 * 64, 0x401 * 64, 0x400 * 64 + 1], dtype=np.int64)
    flags = np.zeros(3, dtype=np.uint8)
    t.run(0, 1, 0, data, flags, 0, 3)
    c = t.counters[0]
    assert c[fp.C_WALK + fp.R_CAPACITY] == 2  # two cold pages
    assert c[fp.C_L1_HIT] == 1
    assert t.invalidate_tlb(0, 1, fp.M_ALL, 0, 0, 1, fp.R_HYP_LOAD) == 2
    t.run(0, 1, 0, data, flags, 0, 1)
    assert c[fp.C_WALK + fp.R_HYP_LOAD] == 1
    # another VMID never hits VMID 1's entries; a global entry matches every ASID
    t.run(0, 2, 0, data, flags, 0, 1)
    assert c[fp.C_WALK + fp.R_CAPACITY] == 3
    g = np.array([0x500 * 64], dtype=np.int64)
    t.run(0, 1, 3, g, np.array([F_GLOBAL], dtype=np.uint8), 0, 1)
    t.run(0, 1, 4, g, np.array([F_GLOBAL], dtype=np.uint8), 0, 1)
    assert c[fp.C_WALK + fp.R_CAPACITY] == 4
    # ASID invalidation leaves global entries alone
    assert t.invalidate_tlb(0, 1, fp.M_ASID, 4, 0, 1, fp.R_GUEST_LOCAL) == 0
    fetch = np.array([0x600 * 64, 0x600 * 64], dtype=np.int64)
    t.run(0, 1, 0, fetch, np.full(2, F_FETCH, dtype=np.uint8), 0, 2)
    assert c[fp.C_IC_MISS + fp.R_CAPACITY] == 1 and c[fp.C_IC_HIT] == 1
