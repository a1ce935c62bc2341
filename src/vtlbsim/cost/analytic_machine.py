"""The analytic model's per-run constants (``Machine``) and domain groups (``Group``): who a
broadcast reaches, what one costs under the run's load, and how much of a working set a vCPU
finds again when it is loaded (retention). Used by ``analytic.py`` only.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from ..arch.ops import HypOp, MaintenanceOp
from ..guest.rates import GuestRates
from .dvm import BroadcastLoad, broadcast_load, filterable
from .platform import Platform


@functools.lru_cache(maxsize=4096)
def _lru_keep(a: float, b: float, ways: int) -> float:
    """``E[min(k, max(0, W - m))] / a`` for ``k ~ Poisson(a)``, ``m ~ Poisson(b)``, ``W = ways``
    (``E[min(k, c)]`` is the sum over ``i = 1..c`` of ``P(k >= i)``)."""
    pk = math.exp(-a)
    tail = [1.0]  # tail[i] = P(k >= i)
    for i in range(ways):
        tail.append(tail[-1] - pk)
        pk *= a / (i + 1)
    pm = math.exp(-b)
    kept = 0.0
    for m in range(ways):
        kept += pm * sum(tail[1 : ways - m + 1])
        pm *= b / (m + 1)
    return min(1.0, max(0.0, kept / a))


@dataclass(frozen=True, slots=True)
class Machine:
    """The per-run constants every costing rule needs."""

    plat: Platform
    pcpus: int
    busy: float
    overcommit: float
    ws_avg: float
    """Mean TLB working set (entries, capped at the TLB reach) of the running vCPUs."""
    ic_avg: float
    """Mean I-cache working set (lines, capped at the cache) of the running vCPUs."""
    vcpus: int = 1
    """vCPUs of all VMs together (``V``)."""
    load: str = "policy"
    """Which DVM load this machine's broadcasts are priced at: the policy's, or "native" (the
    guests' own broadcasts only, the bare-metal baseline). Priced once both are counted."""

    @property
    def receivers(self) -> float:
        """Busy cores other than the issuer that a broadcast reaches (``dvm_scope`` system or
        socket; I-cache and branch-predictor broadcasts under ``filtered`` too)."""
        cores = self.pcpus
        if self.plat.dvm_scope == "socket":
            cores = min(cores, self.plat.cores_per_socket())
        return (cores - 1) * self.busy

    def receivers_of(self, g: Group, o: MaintenanceOp | HypOp) -> float:
        """Busy cores a broadcast of ``o`` by a vCPU of ``g`` reaches: under a VMID snoop filter
        (``filtered``) a pinned VM's TLB maintenance reaches only its siblings' cores; a VM that
        migrates has, in the steady state, run on every core."""
        if self.plat.dvm_scope == "filtered" and filterable(o) and g.pinned:
            return (g.vcpus - 1) * g.running_share
        return self.receivers

    def sockets(self) -> int:
        """Sockets the machine's cores sit in (``dvm.broadcast_load`` decides what a broadcast
        spans and how many Sync servers there are)."""
        return self.plat.is_sockets(self.pcpus)

    def native(self) -> Machine:
        """The same machine, its broadcasts priced at the bare-metal load."""
        return dataclasses.replace(self, load="native")

    def broadcast_price(self, broadcasts_per_s: float) -> BroadcastLoad:
        """What one broadcast costs when every busy core issues ``broadcasts_per_s``."""
        issuers = self.pcpus * self.busy
        rate = broadcasts_per_s / (self.plat.clock_ghz * 1e9)
        return broadcast_load(self.plat, rate, issuers, self.sockets(), self.receivers)

    def revisit_retention(self, ws: float, capacity: float) -> float:
        """Share of a vCPU's entries still cached on the pCPU a migration takes it to, under
        overcommit ``c``: the destination is one of ``P`` at random, so the vCPU last ran there
        ``j >= 2`` of its runs ago with probability ``(1/P)(1 - 1/P)^(j-2)``, and ``c*j - 1``
        other runs happened there since; ``sum_j P(j) exp(-(c*j - 1) ws / capacity)`` in closed
        form. (Cross-validated against exact mode, docs/exact.md.)"""
        if self.pcpus <= 1 or capacity <= 0:
            return 0.0
        c, q, x = self.overcommit, 1.0 - 1.0 / self.pcpus, ws / capacity
        return math.exp(-(2.0 * c - 1.0) * x) / self.pcpus / (1.0 - q * math.exp(-c * x))

    def sibling_retention(
        self, g: Group, own: float, ws: float, avg: float, capacity: float
    ) -> float:
        """Share of a migrating vCPU's working set (``ws`` of ``capacity``) still useful on a
        pCPU where a sibling vCPU of its VM ran after it (``own``: the revisit retention).

        Its private part, ``1 - shared_fraction``, was left by its own last run there and has
        also been through the sibling's run since: ``own * exp(-avg / capacity)``. The shared
        (global) part was refreshed by whichever vCPU of the VM ran there last: each run on a
        pCPU is the VM's with probability ``p = k / V``, so ``n`` runs of other VMs
        (``avg`` entries each) followed it with probability ``p (1 - p)^n``, which keeps
        ``p / (1 - (1 - p) exp(-avg / capacity))`` of it. Of those shared entries only a share
        ``exp(-ws / capacity)`` would have hit: they sit in sets among the sibling's private
        entries, and the arriving vCPU's fills of its own absent entries (most of its working
        set) evict many of them before it first touches them. That last factor is fitted to
        exact mode at one size (``ws`` = 3/4 of the L2 TLB, where it re-walks about 0.6 of
        the shared entries it finds), not derived; docs/exact.md, "Cross-validation"."""
        if capacity <= 0:
            return 0.0
        p = min(1.0, g.vcpus / max(self.vcpus, 1))
        e_avg = math.exp(-avg / capacity)
        shared = p / (1.0 - (1.0 - p) * e_avg) * math.exp(-ws / capacity)
        sf = g.rates.shared_fraction
        return sf * shared + (1.0 - sf) * own * e_avg

    def lru_retention(
        self, runs_between: float, ws: float, avg: float, capacity: float, ways: int
    ) -> float:
        """Share of a working set of ``ws`` entries still cached after ``runs_between`` other
        runs of ``avg`` entries each, in ``capacity`` entries of ``ways``-way LRU sets (what
        the hardware and exact mode do): each of the ``S = capacity / ways`` sets holds
        ``k ~ Poisson(ws / S)`` of the vCPU's entries and receives ``m ~ Poisson(runs * avg
        / S)`` newer ones, which evict the oldest first, so ``min(k, max(0, ways - m))`` of
        its entries stay: ``E[min(k, max(0, W - m))] / E[k]``. Random replacement
        (``retention``) is 0.78 instead of 0.93 for ``ws`` = a quarter of a 4-way TLB after
        one other run. Falls back to ``retention`` for caches of more than 64 ways."""
        if capacity <= 0 or ways <= 0:
            return 0.0
        if ws <= 0:
            return 1.0
        if ways > 64:
            return self.retention(runs_between, avg, capacity)
        return _lru_keep(ws * ways / capacity, runs_between * avg * ways / capacity, ways)

    def retention(self, runs_between: float, ws: float, capacity: float) -> float:
        """Share of a working set still cached after ``runs_between`` other vCPUs' runs of
        ``ws`` entries each in a structure of ``capacity`` entries (random replacement)."""
        return math.exp(-runs_between * ws / capacity) if capacity > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Group:
    """One domain group: its rates, VM size and the figures derived from them."""

    rates: GuestRates
    vcpus: int
    running_share: float
    own_ws: float
    own_ic: float
    pinned: bool = False
