"""Exact mode's access loop in numba: set-associative TLBs (L1 I, L1 D, L2) and an I-cache per pCPU.

Every structure is a set of four arrays of shape ``(pcpus, sets, ways)``:

- ``va``: the VA page (TLBs) or the 64-byte line (I-cache) an entry holds;
- ``ctx``: the tag, ``vmid << 17 | asid_field`` with ``asid_field = asid + 1`` for a non-global
  entry and ``0`` for a global one (nG=0), so a lookup under (VMID, ASID) matches an entry when
  ``ctx`` equals its ASID's tag or the VMID's global tag (Arm ARM D8.12); the I-cache (PIPT,
  stage 2 the identity) tags lines with the VMID alone;
- ``stamp``: the access clock at the last use (LRU);
- ``st``: ``0`` empty, ``1`` valid, ``2 + r`` a *ghost*: an entry that invalidation reason ``r``
  removed. A ghost is an invalid way for lookups and fills (hardware fills an invalid way first);
  it only lets a later miss on the same tag say *why* it missed (``REASONS``).

Rules both this loop and ``sim/reference.py`` implement, bit for bit:

- set index: ``page % sets``; a lookup scans the ways in order, first valid match wins;
- a hit sets the way's stamp to the current clock; the clock advances by one per reference
  that reaches a lookup (references to the page, or I-cache line, that the previous reference
  of the same side used are L1 hits that change no state: the entry is already MRU, and
  maintenance happens only between batches);
- fill: ghosts of the same tag in the set become empty (stamp -1); the victim is the invalid
  way (empty or ghost) with the lowest stamp, lowest index on ties, else the valid way with the
  lowest stamp;
- an instruction fetch looks up L1 I, a load/store L1 D; an L1 miss looks up the L2; an L2 hit
  fills the L1 with the L2 entry's tag; an L2 miss is a stage-1 + stage-2 walk that fills the L2
  then the L1 (tag global when the reference's GLOBAL flag is set); a miss that finds a ghost of
  its tag in the L2 is charged to that ghost's reason, otherwise to ``capacity`` (cold or
  evicted). A fetch then looks up the I-cache by (VMID, line) with the same rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from ..guest.workload import F_FETCH, F_GLOBAL, LINES_PER_PAGE

REASONS: tuple[str, ...] = (
    "capacity",
    "guest-local",
    "guest-broadcast",
    "fb-collateral",
    "hyp-load",
    "hyp-broadcast",
)
"""Why a translation or a line was absent: index 0 cold/evicted; the others are invalidations.

``guest-local``: the guest's own instruction, as written, on the PE it ran on. ``guest-broadcast``:
an Inner Shareable instruction the guest wrote, on another PE. ``fb-collateral``: a local
instruction that only reached this PE because HCR_EL2.FB upgraded it or trap-and-emulate
executed it as its IS form. ``hyp-load``: the policy's flush on the loading PE.
``hyp-broadcast``: a hypervisor flush that reached this PE from another one (``TLBI ALLE1IS``).
"""
N_REASONS = len(REASONS)
R_CAPACITY, R_GUEST_LOCAL, R_GUEST_BROADCAST, R_FB_COLLATERAL, R_HYP_LOAD, R_HYP_BROADCAST = range(
    N_REASONS
)


# Counter layout (one int64 array per pCPU).
C_REFS = 0
C_FETCHES = 1
C_L1_HIT = 2
C_L2_HIT = 3
C_WALK = 4
C_IC_HIT = C_WALK + N_REASONS
C_IC_MISS = C_IC_HIT + 1
N_COUNTERS = C_IC_MISS + N_REASONS

# Invalidation match codes (arch.ops.Match, plus every VMID for TLBI ALLE1).
M_ALL = 0
M_VA_ASID = 1
M_VA_ANY_ASID = 2
M_ASID = 3
M_EVERY_VMID = 4

CTX_SHIFT = 17


def tag(vmid: int, asid: int, is_global: bool) -> int:
    """The ``ctx`` tag of an entry: ``vmid << 17 | (0 if global else asid + 1)``."""
    return (vmid << CTX_SHIFT) | (0 if is_global else asid + 1)


# ---- one structure ---------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _set_of(key: int, nsets: int) -> int:
    # ``key % nsets`` for the non-negative keys used here; a mask when nsets is a power of two
    if nsets & (nsets - 1) == 0:
        return key & (nsets - 1)
    return key % nsets


@njit(cache=True, inline="always")
def _find(va: Any, ctx: Any, st: Any, p: int, s: int, key: int, c1: int, c2: int) -> int:
    for w in range(va.shape[2]):
        if va[p, s, w] == key and st[p, s, w] == 1:
            c = ctx[p, s, w]
            if c == c1 or c == c2:
                return w
    return -1


@njit(cache=True, inline="always")
def _ghost(va: Any, ctx: Any, st: Any, p: int, s: int, key: int, c1: int, c2: int) -> int:
    for w in range(va.shape[2]):
        if st[p, s, w] >= 2 and va[p, s, w] == key:
            c = ctx[p, s, w]
            if c == c1 or c == c2:
                return int(st[p, s, w]) - 2
    return 0


@njit(cache=True, inline="always")
def _fill(
    va: Any, ctx: Any, stamp: Any, st: Any, p: int, s: int, key: int, c: int, now: int
) -> None:
    victim = -1
    best = 0
    lru = -1
    lru_stamp = 0
    for w in range(va.shape[2]):
        state = st[p, s, w]
        if state == 1:
            if lru < 0 or stamp[p, s, w] < lru_stamp:
                lru = w
                lru_stamp = stamp[p, s, w]
            continue
        if state >= 2 and va[p, s, w] == key and ctx[p, s, w] == c:
            st[p, s, w] = 0
            stamp[p, s, w] = -1
        if victim < 0 or stamp[p, s, w] < best:
            victim = w
            best = stamp[p, s, w]
    if victim < 0:
        victim = lru
    va[p, s, victim] = key
    ctx[p, s, victim] = c
    stamp[p, s, victim] = now
    st[p, s, victim] = 1


# ---- the access loop -------------------------------------------------------------------------
@njit(cache=True)
def run_batch(
    l1i: Any,
    l1d: Any,
    l2: Any,
    ic: Any,
    p: int,
    vmid: int,
    asid: int,
    lines: Any,
    flags: Any,
    start: int,
    stop: int,
    offset: int,
    ic_shift: int,
    clock: int,
    counters: Any,
) -> int:
    """Run references ``lines[start:stop]`` of one vCPU (``vmid``, ``asid``) on pCPU ``p``.

    ``l1i``, ``l1d``, ``l2``, ``ic`` are (va, ctx, stamp, st) tuples; ``counters`` is this pCPU's
    counter row (layout ``C_*``). ``offset`` is added to the line of every non-global reference
    (a vCPU's private pages); the I-cache is keyed by ``line >> ic_shift``. Returns the advanced clock. The rules are the module's.
    """
    i_va, i_ctx, i_stamp, i_st = l1i
    d_va, d_ctx, d_stamp, d_st = l1d
    u_va, u_ctx, u_stamp, u_st = l2
    c_va, c_ctx, c_stamp, c_st = ic
    i_sets = i_va.shape[1]
    d_sets = d_va.shape[1]
    u_sets = u_va.shape[1]
    c_sets = c_va.shape[1]
    c_asid = (vmid << CTX_SHIFT) | (asid + 1)
    c_glob = vmid << CTX_SHIFT
    last_line = -1
    last_dpage = -1
    n_refs = 0
    n_fetch = 0
    n_l1 = 0
    n_l2 = 0
    n_ic = 0
    for k in range(start, stop):
        f = flags[k]
        line = lines[k] if (f & F_GLOBAL) != 0 else lines[k] + offset
        page = line // LINES_PER_PAGE
        n_refs += 1
        fetch = (f & F_FETCH) != 0
        if fetch:
            n_fetch += 1
            if line == last_line:
                n_l1 += 1
                n_ic += 1
                continue
            if last_line >= 0 and page == last_line // LINES_PER_PAGE:
                n_l1 += 1
                last_line = line
                clock += 1
                hit_tlb = True
            else:
                last_line = line
                clock += 1
                hit_tlb = False
                s = _set_of(page, i_sets)
                w = _find(i_va, i_ctx, i_st, p, s, page, c_asid, c_glob)
                if w >= 0:
                    i_stamp[p, s, w] = clock
                    n_l1 += 1
                    hit_tlb = True
        else:
            if page == last_dpage:
                n_l1 += 1
                continue
            last_dpage = page
            clock += 1
            hit_tlb = False
            s = _set_of(page, d_sets)
            w = _find(d_va, d_ctx, d_st, p, s, page, c_asid, c_glob)
            if w >= 0:
                d_stamp[p, s, w] = clock
                n_l1 += 1
                hit_tlb = True
        if not hit_tlb:
            su = _set_of(page, u_sets)
            w = _find(u_va, u_ctx, u_st, p, su, page, c_asid, c_glob)
            if w >= 0:
                u_stamp[p, su, w] = clock
                n_l2 += 1
                c = u_ctx[p, su, w]
            else:
                r = _ghost(u_va, u_ctx, u_st, p, su, page, c_asid, c_glob)
                counters[C_WALK + r] += 1
                c = c_glob if (f & F_GLOBAL) != 0 else c_asid
                _fill(u_va, u_ctx, u_stamp, u_st, p, su, page, c, clock)
            if fetch:
                s = _set_of(page, i_sets)
                _fill(i_va, i_ctx, i_stamp, i_st, p, s, page, c, clock)
            else:
                s = _set_of(page, d_sets)
                _fill(d_va, d_ctx, d_stamp, d_st, p, s, page, c, clock)
        if fetch:
            key = line >> ic_shift
            s = _set_of(key, c_sets)
            w = _find(c_va, c_ctx, c_st, p, s, key, vmid, vmid)
            if w >= 0:
                c_stamp[p, s, w] = clock
                n_ic += 1
            else:
                r = _ghost(c_va, c_ctx, c_st, p, s, key, vmid, vmid)
                counters[C_IC_MISS + r] += 1
                _fill(c_va, c_ctx, c_stamp, c_st, p, s, key, vmid, clock)
    counters[C_REFS] += n_refs
    counters[C_FETCHES] += n_fetch
    counters[C_L1_HIT] += n_l1
    counters[C_L2_HIT] += n_l2
    counters[C_IC_HIT] += n_ic
    return clock


# ---- maintenance -----------------------------------------------------------------------------
@njit(cache=True)
def invalidate_tlb(
    arrays: Any, p: int, vmid: int, match: int, asid: int, page: int, npages: int, reason: int
) -> int:
    """Turn the valid entries of pCPU ``p`` that the match selects into ghosts of ``reason``.

    ``M_ALL``: every entry of ``vmid``; ``M_VA_ASID``: ``page..page+npages-1`` with ``asid``, and
    global ones; ``M_VA_ANY_ASID``: those pages, any ASID; ``M_ASID``: non-global entries of
    ``asid``; ``M_EVERY_VMID``: everything. Returns how many entries went.
    """
    va, ctx, stamp, st = arrays
    nsets = va.shape[1]
    ways = va.shape[2]
    gone = 0
    code = 2 + reason
    if match == M_VA_ASID or match == M_VA_ANY_ASID:
        c_asid = (vmid << CTX_SHIFT) | (asid + 1)
        c_glob = vmid << CTX_SHIFT
        for pg in range(page, page + npages):
            s = pg % nsets
            for w in range(ways):
                if st[p, s, w] == 1 and va[p, s, w] == pg:
                    c = ctx[p, s, w]
                    if (c >> CTX_SHIFT) != vmid:
                        continue
                    if match == M_VA_ANY_ASID or c == c_asid or c == c_glob:
                        st[p, s, w] = code
                        gone += 1
        return gone
    for s in range(nsets):
        for w in range(ways):
            if st[p, s, w] != 1:
                continue
            c = ctx[p, s, w]
            if match == M_EVERY_VMID:
                hit = True
            elif (c >> CTX_SHIFT) != vmid:
                hit = False
            elif match == M_ALL:
                hit = True
            else:  # M_ASID: non-global entries of that ASID
                hit = (c & ((1 << CTX_SHIFT) - 1)) == asid + 1
            if hit:
                st[p, s, w] = code
                gone += 1
    return gone


@njit(cache=True)
def invalidate_icache(arrays: Any, p: int, vmid: int, page: int, reason: int, ic_shift: int) -> int:
    """Ghost the I-cache lines of pCPU ``p``: all of them (``page < 0``: IC IALLU), or the lines
    of one page of ``vmid`` (IC IVAU over the page). Returns how many lines went."""
    va, ctx, stamp, st = arrays
    nsets = va.shape[1]
    ways = va.shape[2]
    gone = 0
    code = 2 + reason
    if page < 0:
        for s in range(nsets):
            for w in range(ways):
                if st[p, s, w] == 1:
                    st[p, s, w] = code
                    gone += 1
        return gone
    per_page = LINES_PER_PAGE >> ic_shift
    for line in range(page * per_page, (page + 1) * per_page):
        s = line % nsets
        for w in range(ways):
            if st[p, s, w] == 1 and va[p, s, w] == line and ctx[p, s, w] == vmid:
                st[p, s, w] = code
                gone += 1
    return gone


@njit(cache=True)
def invalidate_tlb_others(
    l1i: Any,
    l1d: Any,
    l2: Any,
    p: int,
    vmid: int,
    match: int,
    asid: int,
    page: int,
    npages: int,
    reason: int,
) -> int:
    """``invalidate_tlb`` on every level of every PE but ``p`` (a broadcast's receivers);
    returns the L2 entries removed."""
    gone = 0
    for q in range(l2[0].shape[0]):
        if q == p:
            continue
        invalidate_tlb(l1i, q, vmid, match, asid, page, npages, reason)
        invalidate_tlb(l1d, q, vmid, match, asid, page, npages, reason)
        gone += invalidate_tlb(l2, q, vmid, match, asid, page, npages, reason)
    return gone


@njit(cache=True)
def invalidate_icache_others(
    arrays: Any, p: int, vmid: int, page: int, reason: int, ic_shift: int
) -> int:
    """``invalidate_icache`` on every PE but ``p``."""
    gone = 0
    for q in range(arrays[0].shape[0]):
        if q != p:
            gone += invalidate_icache(arrays, q, vmid, page, reason, ic_shift)
    return gone


# ---- state holder ----------------------------------------------------------------------------
class Geometry:
    """Entries and ways of each structure of one pCPU; ``entries // ways`` sets (at least one).

    ``ic_shift``: the I-cache line is ``64 << ic_shift`` bytes (the stream's lines are 64 bytes).
    """

    __slots__ = ("l1i", "l1d", "l2", "icache", "ic_shift")

    def __init__(
        self,
        l1i: tuple[int, int],
        l1d: tuple[int, int],
        l2: tuple[int, int],
        icache: tuple[int, int],
        ic_shift: int = 0,
    ) -> None:
        for name, (entries, ways) in (("l1i", l1i), ("l1d", l1d), ("l2", l2), ("icache", icache)):
            if entries < 1 or ways < 1:
                raise ValueError(f"{name}: expected at least one entry and one way")
        self.l1i = l1i
        self.l1d = l1d
        self.l2 = l2
        self.icache = icache
        self.ic_shift = ic_shift

    def sets(self, name: str) -> tuple[int, int]:
        """(sets, ways) of one structure."""
        entries, ways = getattr(self, name)
        return max(1, entries // ways), min(ways, entries)


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def empty_arrays(pcpus: int, sets: int, ways: int) -> Arrays:
    """Empty (va, ctx, stamp, st) arrays for one structure on ``pcpus`` PEs."""
    shape = (pcpus, sets, ways)
    return (
        np.full(shape, -1, dtype=np.int64),
        np.zeros(shape, dtype=np.int64),
        np.full(shape, -1, dtype=np.int64),
        np.zeros(shape, dtype=np.int8),
    )


class FastTlbs:
    """Every pCPU's L1 I, L1 D, L2 TLBs and I-cache, driven by the numba kernels."""

    def __init__(self, pcpus: int, geometry: Geometry) -> None:
        self.pcpus = pcpus
        self.geometry = geometry
        self.l1i = empty_arrays(pcpus, *geometry.sets("l1i"))
        self.l1d = empty_arrays(pcpus, *geometry.sets("l1d"))
        self.l2 = empty_arrays(pcpus, *geometry.sets("l2"))
        self.ic = empty_arrays(pcpus, *geometry.sets("icache"))
        self.counters = np.zeros((pcpus, N_COUNTERS), dtype=np.int64)
        self.clock = 0

    def run(
        self,
        p: int,
        vmid: int,
        asid: int,
        lines: np.ndarray,
        flags: np.ndarray,
        start: int,
        stop: int,
        offset: int = 0,
    ) -> None:
        """References ``start:stop`` of a stream, by (vmid, asid) on pCPU ``p`` (``offset``:
        added to non-global lines)."""
        self.clock = int(
            run_batch(
                self.l1i,
                self.l1d,
                self.l2,
                self.ic,
                p,
                vmid,
                asid,
                lines,
                flags,
                start,
                stop,
                offset,
                self.geometry.ic_shift,
                self.clock,
                self.counters[p],
            )
        )

    def invalidate_tlb(
        self, p: int, vmid: int, match: int, asid: int, page: int, npages: int, reason: int
    ) -> int:
        """Invalidate on every TLB level of ``p``; returns the L2 entries removed (the
        translations lost: an L1 entry is a copy of an L2 one or of a walk just made)."""
        invalidate_tlb(self.l1i, p, vmid, match, asid, page, npages, reason)
        invalidate_tlb(self.l1d, p, vmid, match, asid, page, npages, reason)
        return int(invalidate_tlb(self.l2, p, vmid, match, asid, page, npages, reason))

    def invalidate_icache(self, p: int, vmid: int, page: int, reason: int) -> int:
        """IC IALLU (``page < 0``) or the lines of one page, on ``p``."""
        return int(invalidate_icache(self.ic, p, vmid, page, reason, self.geometry.ic_shift))

    def invalidate_tlb_others(
        self, p: int, vmid: int, match: int, asid: int, page: int, npages: int, reason: int
    ) -> int:
        """``invalidate_tlb`` on every PE but ``p``; returns the L2 entries removed."""
        return int(
            invalidate_tlb_others(
                self.l1i, self.l1d, self.l2, p, vmid, match, asid, page, npages, reason
            )
        )

    def invalidate_icache_others(self, p: int, vmid: int, page: int, reason: int) -> int:
        """``invalidate_icache`` on every PE but ``p``."""
        return int(invalidate_icache_others(self.ic, p, vmid, page, reason, self.geometry.ic_shift))

    def snapshot(self) -> list[np.ndarray]:
        """Every array (state and counters), for comparisons."""
        out: list[np.ndarray] = []
        for arrays in (self.l1i, self.l1d, self.l2, self.ic):
            out.extend(arrays)
        out.append(self.counters)
        return out
