"""Exact mode's machine state: every pCPU's L1 I, L1 D, L2 TLBs and I-cache as numpy arrays, driven
by the numba kernels of ``sim/fastpath.py`` (the rules) and ``sim/fastmaint.py`` (maintenance).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .fastmaint import (
    T_ICACHE,
    T_TLB,
    apply_queue,
    invalidate_icache,
    invalidate_icache_others,
    invalidate_tlb,
    invalidate_tlb_others,
)
from .fastpath import HINT_SLOTS, N_COUNTERS, run_batch, run_step


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


_threads: list[int] = []
"""The threads a step may use (``set_threads``; empty: every core numba sees)."""


def set_threads(n: int) -> None:
    """Let exact mode's steps in this process use at most ``n`` threads (at least one): one per
    core for a single run, one when several processes share the cores. The results do not
    depend on it (``fastpath.run_step``)."""
    _threads[:] = [max(1, n)]


def threads() -> int:
    """The threads a step uses (``set_threads``, within numba's limit)."""
    limit = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    return min(_threads[0], limit) if _threads else limit


def _set_numba_threads() -> None:
    numba.set_num_threads(threads())


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
            numba.set_num_threads(threads())
            run_step(*args, *rest)
            return _done
        if self._thread is None:
            # numba's thread count is per calling thread: set it in the step thread
            self._thread = ThreadPoolExecutor(
                1, thread_name_prefix="vtlbsim-exact", initializer=_set_numba_threads
            )
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
