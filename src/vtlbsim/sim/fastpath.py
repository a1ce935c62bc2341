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
from typing import Any

# Worker threads of the OpenMP layer sleep between steps instead of spinning: a step is a few
# milliseconds, and on a machine shared with other jobs a spinning thread that is descheduled
# makes every barrier wait for a whole time slice (measured: 10x slower under load).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from numba import njit, prange

from ..guest.workload import F_FETCH, F_GLOBAL, LINES_PER_PAGE
from .fastmaint import (
    CTX_SHIFT as CTX_SHIFT,
)
from .fastmaint import (
    M_ALL as M_ALL,
)
from .fastmaint import (
    M_ASID as M_ASID,
)
from .fastmaint import (
    M_EVERY_VMID as M_EVERY_VMID,
)
from .fastmaint import (
    M_VA_ANY_ASID as M_VA_ANY_ASID,
)
from .fastmaint import (
    M_VA_ASID as M_VA_ASID,
)
from .fastmaint import (
    apply_on,
)

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

HINT_SLOTS = 256
"""I-cache way hints per pCPU (a power of two; slot = line key mod HINT_SLOTS)."""


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
