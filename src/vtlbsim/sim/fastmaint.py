"""Exact mode's maintenance kernels (numba): invalidations of the structures ``sim/fastpath.py``
holds, one by one or as a queue applied pCPU by pCPU.

An invalidation turns the valid entries it selects into *ghosts* of a reason (the state
``2 + reason``), which only lets a later miss of the same tag say why it missed; the selection
follows ``arch.ops.Match`` (plus every VMID for ``TLBI ALLE1``). A queued operation reaches its
own pCPU and, when it is a broadcast, every other one; pCPUs share no state, so applying a queue
pCPU by pCPU (``apply_on``, which ``fastpath.run_step`` runs inside its parallel loop) is the
same as applying it operation by operation.
"""

from __future__ import annotations

from typing import Any

from numba import njit

from ..guest.workload import LINES_PER_PAGE

# Invalidation match codes (arch.ops.Match, plus every VMID for TLBI ALLE1).
M_ALL = 0
M_VA_ASID = 1
M_VA_ANY_ASID = 2
M_ASID = 3
M_EVERY_VMID = 4

CTX_SHIFT = 17

# Columns of a queued maintenance operation (``FastTlbs.queue_tlb`` / ``queue_icache``).
Q_TARGET, Q_PCPU, Q_VMID, Q_MATCH, Q_ASID, Q_PAGE, Q_NPAGES, Q_REASON, Q_OTHERS = range(9)
T_TLB = 0
T_ICACHE = 1


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
