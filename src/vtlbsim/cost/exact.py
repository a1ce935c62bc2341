"""Exact mode (SPEC §7): every reference of every running vCPU through each pCPU's TLBs and I-cache.

The run is a timeline of steps of ``dt`` (a divisor of the timeslice, at most 1 ms). In each step:

1. every pCPU runs ``REFS_PER_VCPU_S * dt`` references of its vCPU's stream (``sim/fastpath.py``;
   the working-set model of its guest kind, or a trace), private pages offset per vCPU, the
   global (kernel) pages shared by the VM's vCPUs, every vCPU of a VM with ASID 1 (one mm);
2. each running vCPU issues its guest kind's maintenance, a Poisson number of times at the rates
   of ``guest/rates.py`` and with the instructions of its discipline (``guest_ops.py``, the same
   list the analytic model prices); HCR_EL2 (``policy.hcr``) decides what runs physically: a
   trapped TLB instruction (TTLB) runs what ``policy.on_trap`` returns, else
   ``arch.ops.effective(op, fb)``. By-VA instructions name a random page of the vCPU's data
   working set (global, i.e. shared, with the kind's ``shared_fraction``);
3. the scheduler acts (``cost/exact_sched.py``): time-slice rotation under overcommit, migrations; each
   load asks ``policy.on_load`` (through ``hyp/state.py``, which keeps the policy's own state)
   and executes the flushes it returns.

Costs, by the causes both models charge (``causes.CAUSES``), charge only what the policy adds to
the guest's bare-metal behaviour: every broadcast is priced by the shared DVM model
(``dvm.step_issue``) under the load this run's own schedule produces in its step - the
broadcasts each pCPU issues in that step, under the policy and, for the baseline, as the guests
wrote them - so an added broadcast also charges the longer wait it causes the guests' own ones;
DVM stalls are charged per *busy* core a broadcast reaches (``dvm_scope``) at its instant,
and every refill is counted, not guessed: a 2-stage walk or an I-cache miss whose entry a
hypervisor flush removed (``tlb-refill``, ``icache-refill``), or that a broadcast the guest
did not write removed on another core (``collateral-tlb``, ``icache-refill``). Misses after the
guest's own maintenance, cold misses and capacity misses are the baseline. The branch
predictor is not simulated: each BPIALL the policy adds costs ``bp_retrain_cycles`` per core it
reaches that runs a vCPU (the analytic rule with full retention). The first placement of the
vCPUs and ``WARMUP_SLICES`` timeslices are warm-up and are not charged. ``sample`` simulates that
share of the duration after the warm-up and scales every figure to the full duration.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from ..arch.ops import (
    Arch,
    HypOp,
    HypTarget,
    MaintenanceOp,
    Match,
    Scope,
    Structure,
    effective,
    op,
)
from ..guest.rates import GuestRates, load_rates
from ..guest.workload import F_FETCH, F_GLOBAL, LINES_PER_PAGE, AccessStream, load_trace, stream_for
from ..hyp.policy import Policy, VcpuInfo
from ..hyp.registry import resolve
from ..hyp.state import PolicyState
from ..sim import fastpath as fp
from ..sim.fasttlbs import FastTlbs, Geometry
from ..sim.reference import ReferenceTlbs
from .causes import CAUSES
from .exact_dvm import dvm_stall, issue_cost, price_draws, price_step
from .exact_sched import Scheduler
from .guest_ops import guest_ops
from .platform import Platform, load_platform
from .predictor import flushes_predictor, is_nop
from .result import CostResult
from .workload import Workload

REFS_PER_VCPU_S = 1e7
"""References (64-byte-line granularity) a running vCPU sends to its TLBs per second. Assumption:
a core retires ~1e9 loads/stores/fetch groups per second, but consecutive references to one
line change no TLB or I-cache state; docs/exact.md measures the ratio on the shipped traces."""
STREAM_LEN = 1 << 20
"""References generated per guest kind; each vCPU reads it cyclically from its own offset."""
MAX_DT_S = 1e-3
PROGRESS_STEPS = 50
"""Steps between two calls of ``evaluate_exact``'s progress callback."""
WARMUP_SLICES = 20
"""Every run first simulates this many timeslices uncharged: caches fill and every vCPU runs, so
the charged part is the steady state the analytic model describes, not a cold boot."""

_MATCH = {
    Match.ALL: fp.M_ALL,
    Match.VA_ASID: fp.M_VA_ASID,
    Match.VA_ANY_ASID: fp.M_VA_ANY_ASID,
    Match.ASID: fp.M_ASID,
}
ASID = 1
"""Every vCPU of a VM runs one multi-threaded process (one mm, one ASID)."""
OTHER_ASID = 2
"""ASID-wide instructions (an exiting process, a TTBR switch) name another process's ASID, which
has no entries: the analytic model's rule that siblings seldom run that process."""


@dataclass(slots=True)
class _Vcpu:
    info: VcpuInfo
    group: int
    offset: int
    cursor: int
    pcpu: int | None = None
    last_pcpu: int | None = None


@dataclass(slots=True)
class _Group:
    rates: GuestRates
    stream: AccessStream
    data_pages: np.ndarray
    """Data pages of the model (by-VA maintenance picks among them)."""
    global_data: np.ndarray
    code_pages: np.ndarray
    global_code: np.ndarray
    private_data: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    global_code_set: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        self.private_data = np.setdiff1d(self.data_pages, self.global_data)
        self.global_code_set = frozenset(int(x) for x in self.global_code)


@dataclass(slots=True)
class _Run:
    """Mutable state of one exact run."""

    plat: Platform
    pcpus: int
    policy: Policy
    tlbs: FastTlbs | ReferenceTlbs
    vcpus: list[_Vcpu]
    groups: list[_Group]
    rng: np.random.Generator
    running: list[int | None] = field(default_factory=list)
    last_here: dict[tuple[int, int], int] = field(default_factory=dict)
    pstate: PolicyState = field(default_factory=PolicyState)
    """The policy's own state (``hyp/state.py``)."""
    cycles: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0.0))
    others: float = 0.0
    events: dict[str, float] = field(default_factory=dict)
    charge: bool = True
    bcast: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per pCPU: one broadcast's cost to its issuer in the current step, under the policy."""
    native_bcast: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """The same with only the broadcasts the guests wrote (the bare-metal baseline)."""
    ran: dict[int, set[int]] = field(default_factory=dict)
    """VMID → the pCPUs its vCPUs ran on (what a ``filtered`` snoop filter delivers to)."""
    physical_bcasts: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    sockets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    busy: frozenset[int] | None = None
    """The PEs that run a vCPU in the current step, while its guest maintenance and scheduler
    loads run (a PE whose vCPU is being switched is still one); else None: those running now."""

    def add(self, cause: str, cycles: float, *, others: bool = False) -> None:
        if self.charge:
            self.cycles[cause] += cycles
            if others:
                self.others += cycles

    def count(self, name: str, n: float = 1.0) -> None:
        if self.charge:
            self.events[name] = self.events.get(name, 0.0) + n

    def is_busy(self, q: int) -> bool:
        """Whether PE ``q`` runs a vCPU (in the current step, while ``busy`` is set)."""
        return q in self.busy if self.busy is not None else self.running[q] is not None

    def busy_others(self, p: int) -> int:
        """PEs other than ``p`` that run a vCPU (they handle a broadcast's DVM operation)."""
        if self.busy is None:
            return self.pcpus - self.running.count(None) - (self.running[p] is not None)
        # not ``running[p]``: at a load, p's outgoing vCPU has already left it
        return len(self.busy) - (p in self.busy)

    # ---- hypervisor and guest maintenance --------------------------------------------------
    def hyp(self, h: HypOp, p: int, vmid: int, arch: Arch | None = None) -> None:
        """Execute a hypervisor flush on ``p`` (and every PE if IS); charge its issue and DVM.
        For an AArch32 guest (``arch``), IC IALLU also flushes the visible branch predictor."""
        plat = self.plat
        self.count("hyp-flushes-is" if h.scope is Scope.IS else "hyp-flushes")
        self.add("hyp-flush", issue_cost(self, h, p))
        busy = self.busy_others(p)
        if h.scope is Scope.IS:
            dvm_stall(self, p, vmid, h)
        if arch is not None and flushes_predictor(plat, arch, h):  # BP: not simulated
            self.add("bp-retrain", plat.bp_retrain_cycles)
            if h.scope is Scope.IS:
                self.add("bp-retrain", busy * plat.bp_retrain_cycles, others=True)
        if h.target is HypTarget.BP:
            return
        match = fp.M_ALL if h.target is HypTarget.TLB_VMID else fp.M_EVERY_VMID
        others = fp.R_HYP_BROADCAST if h.scope is Scope.IS else -1
        if h.target is HypTarget.ICACHE:
            self.tlbs.queue_icache(p, vmid, -1, fp.R_HYP_LOAD, others)
            return
        self.tlbs.queue_tlb(p, vmid, match, 0, 0, 1, fp.R_HYP_LOAD, others)

    def physical(
        self, e: MaintenanceOp, written: MaintenanceOp, v: _Vcpu, p: int, page: int
    ) -> None:
        """Carry out ``e`` (what ``written`` became) on the PEs its scope reaches; reasons say
        whether the guest's own instruction reached that PE."""
        vmid = v.info.vmid
        added = e.scope is Scope.IS and written.scope is not Scope.IS
        if added:
            self.count("broadcasts-added")
            dvm_stall(self, p, vmid, e)
        there = fp.R_GUEST_BROADCAST if written.scope is Scope.IS else fp.R_FB_COLLATERAL
        others = there if e.scope is Scope.IS else -1
        if e.structure is Structure.TLB:
            asid = OTHER_ASID if e.match is Match.ASID else ASID
            m = _MATCH[e.match]
            self.tlbs.queue_tlb(p, vmid, m, asid, page, 1, fp.R_GUEST_LOCAL, others)
        elif e.structure is Structure.ICACHE:
            pg = page if e.match is Match.VA else -1
            self.tlbs.queue_icache(p, vmid, pg, fp.R_GUEST_LOCAL, others)
            if added and flushes_predictor(self.plat, v.info.arch, e):  # BP: not simulated
                self.add(
                    "bp-retrain", self.busy_others(p) * self.plat.bp_retrain_cycles, others=True
                )
        elif added:  # BP: not simulated (module docstring)
            self.add("bp-retrain", self.busy_others(p) * self.plat.bp_retrain_cycles, others=True)

    def guest_op(self, v: _Vcpu, p: int, name: str, page: int) -> None:
        """The guest on ``p`` issues instruction ``name`` (by VA: ``page``)."""
        info = v.info
        o = _op(info.arch, name)
        if is_nop(self.plat, o):
            return  # executes as a NOP on this platform
        hcr = self.policy.hcr(info)
        self.count("guest-maintenance")
        if o.scope is Scope.LOCAL:
            self.count("guest-local-maintenance")
        if hcr.ttlb and o.ttlb_traps:
            self.count("traps")
            self.add("trap", self.plat.trap_roundtrip_cycles)
            issued = 0.0
            for act in self.pstate.trap(self.policy, info, p, o):
                if isinstance(act, HypOp):
                    self.hyp(act, p, info.vmid, info.arch)
                else:
                    issued += issue_cost(self, act, p)
                    self.physical(act, o, v, p, page)
            self.add("broadcast-issue", issued - issue_cost(self, o, p, native=True))
            return
        e = effective(o, hcr.fb, self.plat.bp)
        if e is not o:
            self.count("fb-upgraded")
        if e is not o or e.scope is Scope.IS:  # an IS one waits longer under the added load
            self.add(
                "broadcast-issue", issue_cost(self, e, p) - issue_cost(self, o, p, native=True)
            )
        self.physical(e, o, v, p, page)

    # ---- scheduling ------------------------------------------------------------------------
    def load(self, vi: int, p: int) -> None:
        """Load vCPU ``vi`` on ``p`` (the vCPU there, if any, leaves); the policy acts."""
        v = self.vcpus[vi]
        prev = self.running[p]
        if prev is not None and prev != vi:
            self.vcpus[prev].pcpu = None
        if v.pcpu is not None:
            self.running[v.pcpu] = None
        info = v.info
        self.count("vcpu-loads")
        if v.last_pcpu is not None and v.last_pcpu != p:
            self.count("migrations")
        here = self.last_here.get((info.vmid, p))
        for h in self.pstate.load(self.policy, info, p, v.last_pcpu, here):
            self.hyp(h, p, info.vmid, info.arch)
        self.running[p] = vi
        v.pcpu = v.last_pcpu = p
        self.last_here[(info.vmid, p)] = info.vcpu
        self.ran.setdefault(info.vmid, set()).add(p)


_op = cache(op)
"""``arch.ops.op``, looked up once per (architecture, name)."""


def _ops_per_s(rates: GuestRates, vcpus: int) -> list[tuple[str, str, float]]:
    """(event, instruction, executions per running vCPU-second) the guest issues (``guest_ops``)."""
    return [x for x in guest_ops(rates, vcpus) if x[2] > 0]


def geometry_of(plat: Platform) -> Geometry:
    """The platform's TLB and I-cache geometry (I-cache lines of ``icache_line_bytes``)."""
    shift = max(0, int(round(math.log2(plat.icache_line_bytes / 64))))
    return Geometry(
        (plat.l1i_tlb_entries, plat.l1i_tlb_ways),
        (plat.l1d_tlb_entries, plat.l1d_tlb_ways),
        (plat.l2_tlb_entries, plat.l2_tlb_ways),
        (plat.icache_lines(), plat.icache_ways),
        ic_shift=shift,
    )


def _group(rates: GuestRates, seed: int, trace: str | None) -> _Group:
    stream = load_trace(trace) if trace else stream_for(rates, STREAM_LEN, seed)
    pages = np.unique(stream.lines // LINES_PER_PAGE)
    fetch = (stream.flags & F_FETCH) != 0
    glob = (stream.flags & F_GLOBAL) != 0
    data = np.unique(stream.lines[~fetch] // LINES_PER_PAGE)
    gdata = np.unique(stream.lines[(~fetch) & glob] // LINES_PER_PAGE)
    code = np.unique(stream.lines[fetch] // LINES_PER_PAGE)
    gcode = np.unique(stream.lines[fetch & glob] // LINES_PER_PAGE)
    return _Group(
        rates, stream, data if data.size else pages, gdata, code if code.size else pages, gcode
    )


def evaluate_exact(
    workload: Workload,
    policy: str,
    pcpus: int | None,
    seed: int,
    sample: float | None,
    *,
    traces: dict[str, str] | None = None,
    backend: str = "numba",
    refs_per_vcpu_s: float = REFS_PER_VCPU_S,
    progress: Callable[[float, float], None] | None = None,
) -> CostResult:
    """Simulate ``workload`` under ``policy`` (module docstring) and cost it by cause.

    ``traces`` maps a guest kind to a trace file (lackey or .npz) that replaces its model; it
    takes precedence over a domain group's own ``trace`` field (relative to the workload file),
    which otherwise replaces the model for that group's vCPUs;
    ``backend`` is ``"numba"`` or ``"reference"`` (plain Python, for tests); ``progress``, if
    given, is called every ``PROGRESS_STEPS`` steps with (simulated seconds done, in all),
    the warm-up included. The result does not depend on how many threads the loop uses.
    """
    plat = load_platform(workload.platform, workload.base_dir)
    n_p = pcpus or workload.pcpus or plat.cores
    pol = resolve(policy)
    if backend not in ("numba", "reference"):
        raise ValueError(f"backend: expected 'numba' or 'reference', got {backend!r}")
    share = 1.0 if sample is None else float(sample)
    if not 0.0 < share <= 1.0:
        raise ValueError(f"sample: expected a share in (0, 1], got {sample}")
    rng = np.random.default_rng(seed)
    groups: list[_Group] = []
    vcpus: list[_Vcpu] = []
    sched = workload.scheduler
    pinned = sched.kind == "pinned"
    kinds: dict[tuple[str, int, str | None], int] = {}
    streams: dict[tuple[str, str | None], _Group] = {}
    vcpus_of: list[int] = []
    vmid = 0
    for dg in workload.domains:
        rates = load_rates(dg.kind, workload.base_dir)
        trace = (traces or {}).get(dg.kind)  # the caller's KIND=FILE wins over the file's field
        if trace and not Path(trace).is_absolute() and workload.base_dir:
            cand = Path(workload.base_dir) / trace
            trace = str(cand) if cand.exists() else trace
        if not trace:
            own = dg.trace_path(workload.base_dir)
            trace = str(own) if own is not None else None
        key = (dg.kind, dg.vcpus, trace)
        if key not in kinds:
            if (dg.kind, trace) not in streams:
                streams[(dg.kind, trace)] = _group(rates, seed + len(streams), trace)
            kinds[key] = len(groups)
            groups.append(streams[(dg.kind, trace)])
            vcpus_of.append(dg.vcpus)
        gi = kinds[key]
        span = (int(groups[gi].stream.lines.max()) // LINES_PER_PAGE + 1) * LINES_PER_PAGE
        for _ in range(dg.count):
            vmid += 1
            for k in range(dg.vcpus):
                info = VcpuInfo(f"vm{vmid}", k, vmid, rates.arch, dg.vcpus, pinned)
                n = len(groups[gi].stream)
                vcpus.append(_Vcpu(info, gi, k * span, int(rng.integers(0, n))))
    tlbs: FastTlbs | ReferenceTlbs
    geo = geometry_of(plat)
    tlbs = FastTlbs(n_p, geo) if backend == "numba" else ReferenceTlbs(n_p, geo)
    n_v = len(vcpus)
    run = _Run(plat, n_p, pol, tlbs, vcpus, groups, rng, [None] * n_p)
    scheduler = Scheduler(run, sched.kind, sched.migrations_per_vcpu_s, sched.timeslice_ms / 1e3)
    run.charge = False
    dt = sched.timeslice_ms / 1e3 / math.ceil(sched.timeslice_ms / 1e3 / MAX_DT_S)
    idle = np.zeros(n_p, dtype=np.int64)
    price_step(run, idle, idle, dt)  # an idle machine until the first step's broadcasts
    scheduler.place()
    warmup = int(round(WARMUP_SLICES * sched.timeslice_ms / 1e3 / dt))
    steps = max(1, int(round(workload.duration_s * share / dt)))
    simulated = steps * dt
    refs_step = refs_per_vcpu_s * dt
    carry = 0.0
    plan = _StepPlan(groups, n_p, refs_step)
    ops = [_ops_per_s(g.rates, vcpus_of[i]) for i, g in enumerate(groups)]
    means = [np.array([x[2] * dt for x in o], dtype=np.float64) for o in ops]
    try:
        for step in range(-warmup, steps):
            if step == 0:  # the warm-up is over: charge from here on
                run.charge = True
                tlbs.counters[:] = 0
            carry += refs_step
            n_refs = int(carry)
            carry -= n_refs
            # the step's references run on another thread while this one decides the guests'
            # maintenance and the scheduler's moves (they never read TLB state; what they queue
            # takes effect at the next step, as it would have after this step's references)
            vmids, asids, starts, stops, offsets = plan.fill(run, n_refs)
            wait = tlbs.start_step(vmids, asids, starts, stops, offsets, plan.lines, plan.flags)
            active = [(p, vi) for p, vi in enumerate(run.running) if vi is not None]
            # one Poisson draw per (running vCPU, instruction), in pCPU order
            draws = rng.poisson(np.concatenate([means[vcpus[vi].group] for _, vi in active]))
            price_draws(run, active, draws, ops, dt)
            k = 0
            run.busy = frozenset(p for p, _ in active)
            for p, vi in active:
                v = vcpus[vi]
                g = groups[v.group]
                for event, name, _ in ops[v.group]:
                    for _ in range(int(draws[k])):
                        run.count(event + ":" + name)
                        run.guest_op(v, p, name, _page_for(run, g, v, name))
                    k += 1
            # the scheduler's loads happen while the other pCPUs run their vCPUs: a hypervisor
            # broadcast at a load reaches the step's busy PEs (not only those reloaded before
            # it within the same timeslice end, which the tick applies one after another)
            scheduler.tick(step, dt)
            run.busy = None
            wait()
            if progress is not None and (step % PROGRESS_STEPS == 0 or step == steps - 1):
                progress((step + warmup + 1) * dt, (steps + warmup) * dt)
        tlbs.flush()
    finally:
        tlbs.close()
    scale = workload.duration_s / simulated
    walks = tlbs.counters[:, fp.C_WALK : fp.C_WALK + fp.N_REASONS].sum(axis=0) * scale
    misses = tlbs.counters[:, fp.C_IC_MISS : fp.C_IC_MISS + fp.N_REASONS].sum(axis=0) * scale
    cycles = {k: v * scale for k, v in run.cycles.items()}
    cycles["tlb-refill"] += walks[fp.R_HYP_LOAD] * plat.walk_2stage_cycles
    collateral = (walks[fp.R_FB_COLLATERAL] + walks[fp.R_HYP_BROADCAST]) * plat.walk_2stage_cycles
    cycles["collateral-tlb"] += collateral
    ic_others = (
        misses[fp.R_FB_COLLATERAL] + misses[fp.R_HYP_BROADCAST]
    ) * plat.icache_line_refill_cycles
    cycles["icache-refill"] += misses[fp.R_HYP_LOAD] * plat.icache_line_refill_cycles + ic_others
    others = run.others * scale + collateral + ic_others
    events: dict[str, float] = {k: v * scale for k, v in sorted(run.events.items())}
    totals = tlbs.counters.sum(axis=0) * scale
    events["references"] = float(totals[fp.C_REFS])
    events["l1-tlb-hits"] = float(totals[fp.C_L1_HIT])
    events["l2-tlb-hits"] = float(totals[fp.C_L2_HIT])
    events["icache-hits"] = float(totals[fp.C_IC_HIT])
    for r, name in enumerate(fp.REASONS):
        events[f"walks:{name}"] = float(walks[r])
        events[f"icache-misses:{name}"] = float(misses[r])
    events["running-vcpu-s"] = min(n_v, n_p) * workload.duration_s
    machine_cycles = n_p * plat.clock_ghz * 1e9 * workload.duration_s
    total = float(sum(cycles.values()))
    assumptions = [f"{plat.name}:{k}" for k in plat.assumed_figures()]
    for g in groups:
        assumptions += [f"{g.rates.kind}:{k}" for k in g.rates.assumed_rates()]
    return CostResult(
        policy=pol.name,
        pcpus=n_p,
        platform=plat.name,
        overhead_pct=100.0 * total / machine_cycles,
        cost_to_others_pct=100.0 * others / machine_cycles,
        cycles={k: float(v) for k, v in cycles.items()},
        events=events,
        safe=None,
        mode="exact",
        total_cycles=total,
        machine_cycles=machine_cycles,
        duration_s=workload.duration_s,
        assumptions=sorted(set(assumptions) | {"exact:refs_per_vcpu_s"}),
        baseline_cycles=events.get("vcpu-loads", 0.0) * plat.vcpu_switch_cycles,
    )


class _StepPlan:
    """What every pCPU runs in one step: every group's stream in one array, and per pCPU its
    vCPU's VMID, ASID, private offset and batches (from the vCPU's cursor, wrapping around to
    the start of its stream: one batch per wrap)."""

    def __init__(self, groups: list[_Group], pcpus: int, refs_per_step: float) -> None:
        streams = list({id(g.stream): g.stream for g in groups}.values())
        self.lines = np.concatenate([x.lines for x in streams])
        self.flags = np.concatenate([x.flags for x in streams])
        starts = np.cumsum([0] + [len(x) for x in streams])
        base = {id(x): int(b) for x, b in zip(streams, starts, strict=False)}
        self.base = [base[id(g.stream)] for g in groups]
        self.length = [len(g.stream) for g in groups]
        wraps = 2 + math.ceil(math.ceil(refs_per_step) / max(1, min(self.length)))
        self.vmids = np.zeros(pcpus, dtype=np.int64)
        self.asids = np.full(pcpus, ASID, dtype=np.int64)
        self.offsets = np.zeros(pcpus, dtype=np.int64)
        self.starts = np.zeros((pcpus, wraps), dtype=np.int64)
        self.stops = np.zeros((pcpus, wraps), dtype=np.int64)

    def fill(
        self, run: _Run, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The arrays of ``FastTlbs.run_step`` for ``n`` references per running vCPU; advances
        each running vCPU's cursor."""
        self.vmids[:] = 0
        self.stops[:] = 0
        for p, vi in enumerate(run.running):
            if vi is None:
                continue
            v = run.vcpus[vi]
            base, length = self.base[v.group], self.length[v.group]
            self.vmids[p] = v.info.vmid
            self.offsets[p] = v.offset
            left, j = n, 0
            while left > 0:
                stop = min(length, v.cursor + left)
                self.starts[p, j], self.stops[p, j] = base + v.cursor, base + stop
                left -= stop - v.cursor
                v.cursor = stop % length
                j += 1
        return self.vmids, self.asids, self.starts, self.stops, self.offsets


def _page_for(run: _Run, g: _Group, v: _Vcpu, name: str) -> int:
    """The page a by-VA instruction names: a code page for I-cache maintenance, else a data
    page, global (shared by the VM's vCPUs) with the kind's ``shared_fraction``; a private page
    is offset to the vCPU's own copy."""
    rng = run.rng
    if _op(v.info.arch, name).structure is Structure.ICACHE:
        page = int(g.code_pages[rng.integers(0, g.code_pages.size)])
        return page if page in g.global_code_set else page + v.offset // LINES_PER_PAGE
    private = g.private_data
    if g.global_data.size and (not private.size or rng.random() < g.rates.shared_fraction):
        return int(g.global_data[rng.integers(0, g.global_data.size)])
    return int(private[rng.integers(0, private.size)]) + v.offset // LINES_PER_PAGE
