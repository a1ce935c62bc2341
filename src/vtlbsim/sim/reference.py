"""The plain-Python reference of exact mode's access loop (kept for tests and the benchmark).

It implements the rules stated in ``sim/fastpath.py`` with ordinary objects — one ``Way`` per
entry, a list of ways per set — and no numba, so that the compiled loop can be held to it bit
for bit (state, LRU stamps and counters) on random streams.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..guest.workload import F_FETCH, F_GLOBAL, LINES_PER_PAGE
from .fastmaint import CTX_SHIFT, M_ALL, M_ASID, M_EVERY_VMID, M_VA_ANY_ASID, M_VA_ASID
from .fastpath import (
    C_FETCHES,
    C_IC_HIT,
    C_IC_MISS,
    C_L1_HIT,
    C_L2_HIT,
    C_REFS,
    C_WALK,
    N_COUNTERS,
)
from .fasttlbs import Geometry


class Way:
    """One entry: what it holds, its tag, its last use, and empty/valid/ghost-of-reason."""

    __slots__ = ("key", "ctx", "stamp", "state")

    def __init__(self) -> None:
        self.key = -1
        self.ctx = 0
        self.stamp = -1
        self.state = 0  # 0 empty, 1 valid, 2 + reason: ghost

    @property
    def valid(self) -> bool:
        return self.state == 1

    @property
    def ghost(self) -> bool:
        return self.state >= 2


class Structure:
    """A set-associative structure of one pCPU: ``sets`` lists of ``ways`` entries."""

    def __init__(self, sets: int, ways: int) -> None:
        self.sets = [[Way() for _ in range(ways)] for _ in range(sets)]

    def set_for(self, key: int) -> list[Way]:
        return self.sets[key % len(self.sets)]

    def lookup(self, key: int, tags: tuple[int, int], now: int) -> Way | None:
        """The first valid way holding ``key`` under one of ``tags``; a hit becomes MRU."""
        for way in self.set_for(key):
            if way.valid and way.key == key and way.ctx in tags:
                way.stamp = now
                return way
        return None

    def why_absent(self, key: int, tags: tuple[int, int]) -> int:
        """The reason of the first ghost of ``key`` under ``tags`` in its set, else 0."""
        for way in self.set_for(key):
            if way.ghost and way.key == key and way.ctx in tags:
                return way.state - 2
        return 0

    def fill(self, key: int, ctx: int, now: int) -> None:
        """Forget ghosts of this exact tag; take the oldest invalid way, else the LRU valid one."""
        ways = self.set_for(key)
        for way in ways:
            if way.ghost and way.key == key and way.ctx == ctx:
                way.state, way.stamp = 0, -1
        invalid = [w for w in ways if not w.valid]
        pool = invalid if invalid else ways
        victim = min(pool, key=lambda w: w.stamp)  # min() keeps the first of equal stamps
        victim.key, victim.ctx, victim.stamp, victim.state = key, ctx, now, 1


class ReferenceTlbs:
    """The same machine state as ``FastTlbs``, in plain Python."""

    def __init__(self, pcpus: int, geometry: Geometry) -> None:
        self.pcpus = pcpus
        self.geometry = geometry
        self.l1i = [Structure(*geometry.sets("l1i")) for _ in range(pcpus)]
        self.l1d = [Structure(*geometry.sets("l1d")) for _ in range(pcpus)]
        self.l2 = [Structure(*geometry.sets("l2")) for _ in range(pcpus)]
        self.ic = [Structure(*geometry.sets("icache")) for _ in range(pcpus)]
        self.counters = np.zeros((pcpus, N_COUNTERS), dtype=np.int64)
        self.clocks = [0] * pcpus

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
        """References ``start:stop`` by (vmid, asid) on pCPU ``p`` (rules: sim/fastpath.py);
        ``offset`` is added to the line of each non-global reference."""
        l1i, l1d, l2, ic = self.l1i[p], self.l1d[p], self.l2[p], self.ic[p]
        cnt = self.counters[p]
        mine = (vmid << CTX_SHIFT) | (asid + 1)
        glob = vmid << CTX_SHIFT
        tags = (mine, glob)
        line_tags = (vmid, vmid)
        shift = self.geometry.ic_shift
        clock = self.clocks[p]
        last_line = last_dpage = -1
        for k in range(start, stop):
            f = int(flags[k])
            line = int(lines[k]) + (0 if f & F_GLOBAL else offset)
            page = line // LINES_PER_PAGE
            cnt[C_REFS] += 1
            fetch = bool(f & F_FETCH)
            if fetch:
                cnt[C_FETCHES] += 1
                if last_line >= 0 and line >> shift == last_line >> shift:
                    # the I-cache line of the last fetch (so its page): hits, already MRU
                    cnt[C_L1_HIT] += 1
                    cnt[C_IC_HIT] += 1
                    last_line = line
                    continue
                same_page = last_line >= 0 and page == last_line // LINES_PER_PAGE
                last_line = line
                clock += 1
                hit = same_page or l1i.lookup(page, tags, clock) is not None
                l1 = l1i
            else:
                if page == last_dpage:
                    cnt[C_L1_HIT] += 1
                    continue
                last_dpage = page
                clock += 1
                hit = l1d.lookup(page, tags, clock) is not None
                l1 = l1d
            if hit:
                cnt[C_L1_HIT] += 1
            else:
                entry = l2.lookup(page, tags, clock)
                if entry is not None:
                    cnt[C_L2_HIT] += 1
                    ctx = entry.ctx
                else:
                    cnt[C_WALK + l2.why_absent(page, tags)] += 1
                    ctx = glob if f & F_GLOBAL else mine
                    l2.fill(page, ctx, clock)
                l1.fill(page, ctx, clock)
            if fetch:
                key = line >> shift
                if ic.lookup(key, line_tags, clock) is not None:
                    cnt[C_IC_HIT] += 1
                else:
                    cnt[C_IC_MISS + ic.why_absent(key, line_tags)] += 1
                    ic.fill(key, vmid, clock)
        self.clocks[p] = clock

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
        """As ``FastTlbs.run_step``: each pCPU's batches in order, pCPUs one after another."""
        for p in range(self.pcpus):
            if vmids[p] <= 0:
                continue
            for start, stop in zip(starts[p], stops[p], strict=True):
                if stop <= start:
                    break
                self.run(
                    p,
                    int(vmids[p]),
                    int(asids[p]),
                    lines,
                    flags,
                    int(start),
                    int(stop),
                    int(offsets[p]),
                )

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
        """``run_step`` now (nothing runs in the background here); returns a no-op wait."""
        self.run_step(vmids, asids, starts, stops, offsets, lines, flags)
        return lambda: None

    def close(self) -> None:
        """Nothing to stop."""

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
        """As ``FastTlbs.queue_tlb``, applied at once (nothing runs before a flush anyway)."""
        self.invalidate_tlb(p, vmid, match, asid, page, npages, reason)
        if others >= 0:
            self.invalidate_tlb_others(p, vmid, match, asid, page, npages, others)

    def queue_icache(self, p: int, vmid: int, page: int, reason: int, others: int = -1) -> None:
        """As ``FastTlbs.queue_icache``, applied at once."""
        self.invalidate_icache(p, vmid, page, reason)
        if others >= 0:
            self.invalidate_icache_others(p, vmid, page, others)

    def flush(self) -> None:
        """Nothing is deferred here."""

    def invalidate_tlb(
        self, p: int, vmid: int, match: int, asid: int, page: int, npages: int, reason: int
    ) -> int:
        """As ``FastTlbs.invalidate_tlb``: every level of ``p``; returns the L2 count."""
        gone = 0
        for s in (self.l1i[p], self.l1d[p], self.l2[p]):
            gone = _invalidate(s, vmid, match, asid, page, npages, reason)
        return gone

    def invalidate_icache(self, p: int, vmid: int, page: int, reason: int) -> int:
        """IC IALLU (``page < 0``) or one page's lines of ``vmid`` on ``p``."""
        gone = 0
        per_page = LINES_PER_PAGE >> self.geometry.ic_shift
        for ways in self.ic[p].sets:
            for way in ways:
                if not way.valid:
                    continue
                if page < 0 or (
                    way.ctx == vmid and page * per_page <= way.key < (page + 1) * per_page
                ):
                    way.state = 2 + reason
                    gone += 1
        return gone

    def invalidate_tlb_others(
        self, p: int, vmid: int, match: int, asid: int, page: int, npages: int, reason: int
    ) -> int:
        """``invalidate_tlb`` on every PE but ``p``."""
        return sum(
            self.invalidate_tlb(q, vmid, match, asid, page, npages, reason)
            for q in range(self.pcpus)
            if q != p
        )

    def invalidate_icache_others(self, p: int, vmid: int, page: int, reason: int) -> int:
        """``invalidate_icache`` on every PE but ``p``."""
        return sum(
            self.invalidate_icache(q, vmid, page, reason) for q in range(self.pcpus) if q != p
        )

    def snapshot(self) -> list[np.ndarray]:
        """The state as the (va, ctx, stamp, st) arrays ``FastTlbs.snapshot`` gives (an empty
        way reads va -1, ctx 0), then the counters and the clocks."""
        out: list[np.ndarray] = []
        for structs in (self.l1i, self.l1d, self.l2, self.ic):
            nsets, ways = len(structs[0].sets), len(structs[0].sets[0])
            shape = (self.pcpus, nsets, ways)
            va = np.empty(shape, np.int64)
            ctx = np.empty(shape, np.int64)
            stamp = np.empty(shape, np.int64)
            st = np.empty(shape, np.int8)
            for p, struct in enumerate(structs):
                for s, ws in enumerate(struct.sets):
                    for w, way in enumerate(ws):
                        empty = way.state == 0
                        va[p, s, w], ctx[p, s, w] = (-1, 0) if empty else (way.key, way.ctx)
                        stamp[p, s, w], st[p, s, w] = way.stamp, way.state
            out.extend((va, ctx, stamp, st))
        out.append(self.counters.copy())
        out.append(np.array(self.clocks, dtype=np.int64))
        return out


def _invalidate(
    s: Structure, vmid: int, match: int, asid: int, page: int, npages: int, reason: int
) -> int:
    """Ghost the valid entries the match selects (codes: sim/fastpath.py ``M_*``)."""
    mine = (vmid << CTX_SHIFT) | (asid + 1)
    glob = vmid << CTX_SHIFT
    gone = 0
    for ways in s.sets:
        for way in ways:
            if not way.valid:
                continue
            same_vm = (way.ctx >> CTX_SHIFT) == vmid
            if match == M_EVERY_VMID:
                hit = True
            elif match == M_ALL:
                hit = same_vm
            elif match == M_ASID:
                hit = same_vm and way.ctx == mine
            elif match in (M_VA_ASID, M_VA_ANY_ASID):
                in_range = page <= way.key < page + npages
                hit = same_vm and in_range and (match == M_VA_ANY_ASID or way.ctx in (mine, glob))
            else:
                raise ValueError(f"unknown match code {match}")
            if hit:
                way.state = 2 + reason
                gone += 1
    return gone
