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
- a hit sets the way's stamp to the current clock of its pCPU; each pCPU has its own clock,
  which advances by one per reference that reaches a lookup on that pCPU (references to the
  page, or I-cache line, that the previous reference of the same side used are L1 hits that
  change no state: the entry is already MRU, and maintenance happens only between batches).
  Stamps are only ever compared within one set of one pCPU, so pCPUs are independent between
  two maintenance points and ``run_step`` runs them in parallel with identical results;
- fill: ghosts of the same tag in the set become empty (stamp -1); the victim is the invalid
  way (empty or ghost) with the lowest stamp, lowest index on ties, else the valid way with the
  lowest stamp;
- an instruction fetch looks up L1 I, a load/store L1 D; an L1 miss looks up the L2; an L2 hit
  fills the L1 with the L2 entry's tag; an L2 miss is a stage-1 + stage-2 walk that fills the L2
  then the L1 (tag global when the reference's GLOBAL flag is set); a miss that finds a ghost of
  its tag in the L2 is charged to that ghost's reason, otherwise to ``capacity`` (cold or
  evicted). A fetch then looks up the I-cache by (VMID, line) with the same rules.

Speed without changing the rules: at most one valid I-cache way holds a (VMID, line) (a fill
happens only after a lookup found none, invalidation only removes), so the first valid match
is the only one and a per-pCPU *way hint* (the way that last held a line of the same hint
slot) is checked before the scan; maintenance between batches is queued (``queue_tlb``,
``queue_icache``) and applied in order, in one call, per pCPU in parallel.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# Worker threads of the OpenMP layer sleep between steps instead of spinning: a step is a few
# milliseconds, and on a machine shared with other jobs a spinning thread that is descheduled
# makes every barrier wait for a whole time slice (measured: 10x slower under load).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from numba import njit, prange

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

HINT_SLOTS = 256
"""I-cache way hints per pCPU (a power of two; slot = line key mod HINT_SLOTS)."""

# Columns of a queued maintenance operation (``FastTlbs.queue_tlb`` / ``queue_icache``).
Q_TARGET, Q_PCPU, Q_VMID, Q_MATCH, Q_ASID, Q_PAGE, Q_NPAGES, Q_REASON, Q_OTHERS = range(9)
T_TLB = 0
T_ICACHE = 1


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
) -> int:
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
    return victim


# ---- the access loop -------------------------------------------------------------------------
@njit(cache=True)
def run_batch(
    l1i: Any,
    l1d: Any,
    l2: Any,
    ic: Any,
    hint: Any,
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

    ``l1i``, ``l1d``, ``l2``, ``ic`` are (va, ctx, stamp, st) tuples, ``hint`` the I-cache way
    hints (``pcpus × HINT_SLOTS``); ``counters`` is this pCPU's counter row (layout ``C_*``).
    ``offset`` is added to the line of every non-global reference (a vCPU's private pages); the
    I-cache is keyed by ``line >> ic_shift``. ``clock`` is pCPU ``p``'s clock; returns it
    advanced. The rules are the module's.
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
            if last_line >= 0 and (line >> ic_shift) == (last_line >> ic_shift):
                n_l1 += 1  # the I-cache line (so the page) of the previous fetch
                n_ic += 1
                last_line = line
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
            h = key & (HINT_SLOTS - 1)
            w = hint[p, h]
            if c_va[p, s, w] != key or c_st[p, s, w] != 1 or c_ctx[p, s, w] != vmid:
                w = _find(c_va, c_ctx, c_st, p, s, key, vmid, vmid)
            if w >= 0:
                c_stamp[p, s, w] = clock
                hint[p, h] = w
                n_ic += 1
            else:
                r = _ghost(c_va, c_ctx, c_st, p, s, key, vmid, vmid)
                counters[C_IC_MISS + r] += 1
                hint[p, h] = _fill(c_va, c_ctx, c_stamp, c_st, p, s, key, vmid, clock)
    counters[C_REFS] += n_refs
    counters[C_FETCHES] += n_fetch
    counters[C_L1_HIT] += n_l1
    counters[C_L2_HIT] += n_l2
    counters[C_IC_HIT] += n_ic
    return clock


@njit(cache=True, parallel=True, nogil=True)
def run_step(
    l1i: Any,
    l1d: Any,
    l2: Any,
    ic: Any,
    hint: Any,
    ops: Any,
    vmids: Any,
    asids: Any,
    starts: Any,
    stops: Any,
    offsets: Any,
    lines: Any,
    flags: Any,
    ic_shift: int,
    clocks: Any,
    counters: Any,
) -> None:
    """Every pCPU ``p`` first applies the queued operations ``ops`` (``apply_queue``), then, if
    ``vmids[p] > 0``, runs its batches ``starts[p, j]:stops[p, j]`` (in order; ``stops <=
    starts`` ends them) of ``lines``/``flags`` as ``run_batch`` would; pCPUs in parallel (they
    share no state: the module's rules)."""
    for p in prange(vmids.shape[0]):
        apply_on(l1i, l1d, l2, ic, ops, p, ic_shift)
        if vmids[p] <= 0:
            continue
        for j in range(starts.shape[1]):
            if stops[p, j] <= starts[p, j]:
                break
            clocks[p] = run_batch(
                l1i,
                l1d,
                l2,
                ic,
                hint,
                p,
                vmids[p],
                asids[p],
                lines,
                flags,
                starts[p, j],
                stops[p, j],
                offsets[p],
                ic_shift,
                clocks[p],
                counters[p],
            )


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


@njit(cache=True)
def apply_on(l1i: Any, l1d: Any, l2: Any, ic: Any, ops: Any, q: int, ic_shift: int) -> None:
    """Apply to pCPU ``q`` the queued operations (rows of ``Q_*`` columns) that reach it, in
    order: an operation reaches its own pCPU (reason ``Q_REASON``) and, when ``Q_OTHERS >= 0``
    (a broadcast), every other pCPU (reason ``Q_OTHERS``). pCPUs share no state, so applying
    them pCPU by pCPU is the same as operation by operation."""
    for i in range(ops.shape[0]):
        if ops[i, Q_PCPU] == q:
            reason = ops[i, Q_REASON]
        elif ops[i, Q_OTHERS] >= 0:
            reason = ops[i, Q_OTHERS]
        else:
            continue
        vmid = ops[i, Q_VMID]
        if ops[i, Q_TARGET] == T_ICACHE:
            invalidate_icache(ic, q, vmid, ops[i, Q_PAGE], reason, ic_shift)
            continue
        match, asid, page, npages = (
            ops[i, Q_MATCH],
            ops[i, Q_ASID],
            ops[i, Q_PAGE],
            ops[i, Q_NPAGES],
        )
        invalidate_tlb(l1i, q, vmid, match, asid, page, npages, reason)
        invalidate_tlb(l1d, q, vmid, match, asid, page, npages, reason)
        invalidate_tlb(l2, q, vmid, match, asid, page, npages, reason)


@njit(cache=True)
def apply_queue(l1i: Any, l1d: Any, l2: Any, ic: Any, ops: Any, ic_shift: int) -> None:
    """``apply_on`` every pCPU."""
    for q in range(l2[0].shape[0]):
        apply_on(l1i, l1d, l2, ic, ops, q, ic_shift)


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


def _done() -> None:
    return None


class FastTlbs:
    """Every pCPU's L1 I, L1 D, L2 TLBs and I-cache, driven by the numba kernels.

    ``clocks[p]`` is pCPU ``p``'s clock. Operations queued with ``queue_tlb``/``queue_icache``
    take effect, in order, before the next batch, step, immediate invalidation or ``flush``.
    """

    def __init__(self, pcpus: int, geometry: Geometry) -> None:
        self.pcpus = pcpus
        self.geometry = geometry
        self.l1i = empty_arrays(pcpus, *geometry.sets("l1i"))
        self.l1d = empty_arrays(pcpus, *geometry.sets("l1d"))
        self.l2 = empty_arrays(pcpus, *geometry.sets("l2"))
        self.ic = empty_arrays(pcpus, *geometry.sets("icache"))
        self.hint = np.zeros((pcpus, HINT_SLOTS), dtype=np.int64)
        self.counters = np.zeros((pcpus, N_COUNTERS), dtype=np.int64)
        self.clocks = np.zeros(pcpus, dtype=np.int64)
        self._queue: list[tuple[int, int, int, int, int, int, int, int, int]] = []
        self._thread: ThreadPoolExecutor | None = None

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
        self.flush()
        self.clocks[p] = run_batch(
            self.l1i,
            self.l1d,
            self.l2,
            self.ic,
            self.hint,
            p,
            vmid,
            asid,
            lines,
            flags,
            start,
            stop,
            offset,
            self.geometry.ic_shift,
            int(self.clocks[p]),
            self.counters[p],
        )

    def run_step(
        self,
        vmids: np.ndarray,
        asids: np.ndarray,
        starts: np.ndarray,
        stops: np.ndarray,
        offsets: np.ndarray,
        lines: np.ndarray,
        flags: np.ndarray,
    ) -> None:
        """Every pCPU ``p`` with ``vmids[p] > 0`` runs batches ``starts[p, j]:stops[p, j]`` (a
        row ends at the first empty one), pCPUs in parallel; the same as ``run`` on each batch,
        pCPUs in any order. The queued operations take effect first."""
        self.start_step(vmids, asids, starts, stops, offsets, lines, flags, background=False)()

    def start_step(
        self,
        vmids: np.ndarray,
        asids: np.ndarray,
        starts: np.ndarray,
        stops: np.ndarray,
        offsets: np.ndarray,
        lines: np.ndarray,
        flags: np.ndarray,
        *,
        background: bool = True,
    ) -> Callable[[], None]:
        """``run_step`` on a thread of its own (the loop releases the GIL); returns the function
        that waits for it. The queued operations are taken now; operations queued meanwhile
        take effect at the next step. The arrays must not change until the wait."""
        ops = self._take()
        args = (self.l1i, self.l1d, self.l2, self.ic, self.hint, ops, vmids, asids, starts)
        rest = (stops, offsets, lines, flags, self.geometry.ic_shift, self.clocks, self.counters)
        if not background:
            run_step(*args, *rest)
            return _done
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="vtlbsim-exact")
        return self._thread.submit(run_step, *args, *rest).result

    def close(self) -> None:
        """Stop the step thread (if any)."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    def _take(self) -> np.ndarray:
        ops = np.array(self._queue, dtype=np.int64).reshape(len(self._queue), 9)
        self._queue.clear()
        return ops

    def queue_tlb(
        self,
        p: int,
        vmid: int,
        match: int,
        asid: int,
        page: int,
        npages: int,
        reason: int,
        others: int = -1,
    ) -> None:
        """Invalidate on every TLB level of ``p`` with ``reason`` and, if ``others >= 0``, of
        every other pCPU with reason ``others`` (deferred: see the class)."""
        self._queue.append((T_TLB, p, vmid, match, asid, page, npages, reason, others))

    def queue_icache(self, p: int, vmid: int, page: int, reason: int, others: int = -1) -> None:
        """IC IALLU (``page < 0``) or one page's lines on ``p`` and, if ``others >= 0``, on every
        other pCPU with that reason (deferred)."""
        self._queue.append((T_ICACHE, p, vmid, 0, 0, page, 1, reason, others))

    def flush(self) -> None:
        """Apply the queued operations."""
        if self._queue:
            apply_queue(self.l1i, self.l1d, self.l2, self.ic, self._take(), self.geometry.ic_shift)

    def invalidate_tlb(
        self, p: int, vmid: int, match: int, asid: int, page: int, npages: int, reason: int
    ) -> int:
        """Invalidate on every TLB level of ``p`` now; returns the L2 entries removed (the
        translations lost: an L1 entry is a copy of an L2 one or of a walk just made)."""
        self.flush()
        invalidate_tlb(self.l1i, p, vmid, match, asid, page, npages, reason)
        invalidate_tlb(self.l1d, p, vmid, match, asid, page, npages, reason)
        return int(invalidate_tlb(self.l2, p, vmid, match, asid, page, npages, reason))

    def invalidate_icache(self, p: int, vmid: int, page: int, reason: int) -> int:
        """IC IALLU (``page < 0``) or the lines of one page, on ``p``, now."""
        self.flush()
        return int(invalidate_icache(self.ic, p, vmid, page, reason, self.geometry.ic_shift))

    def invalidate_tlb_others(
        self, p: int, vmid: int, match: int, asid: int, page: int, npages: int, reason: int
    ) -> int:
        """``invalidate_tlb`` on every PE but ``p``; returns the L2 entries removed."""
        self.flush()
        return int(
            invalidate_tlb_others(
                self.l1i, self.l1d, self.l2, p, vmid, match, asid, page, npages, reason
            )
        )

    def invalidate_icache_others(self, p: int, vmid: int, page: int, reason: int) -> int:
        """``invalidate_icache`` on every PE but ``p``."""
        self.flush()
        return int(invalidate_icache_others(self.ic, p, vmid, page, reason, self.geometry.ic_shift))

    def snapshot(self) -> list[np.ndarray]:
        """Every array of the rules' state (the way hints are not state), the counters and
        the clocks, for comparisons; an empty way reads (va -1, ctx 0, stamp -1)."""
        self.flush()
        out: list[np.ndarray] = []
        for va, ctx, stamp, st in (self.l1i, self.l1d, self.l2, self.ic):
            empty = st == 0
            out.extend((np.where(empty, -1, va), np.where(empty, 0, ctx), stamp, st))
        out.append(self.counters)
        out.append(self.clocks)
        return out
