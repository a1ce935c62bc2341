"""The analytic cost model (SPEC §7 "analytic"): closed-form expected cycles a policy loses.

Only what the *policy* changes is charged: a guest's own maintenance, executed as the guest
wrote it, is what it costs on bare metal too, so it is the baseline (and so are the
scheduler's vCPU switches, reported as ``baseline``). The policy is consulted only through the
Policy interface:

- ``policy.hcr(VcpuInfo)`` for each domain group: with FB, each guest instruction costs what
  ``arch.ops.effective(op, fb=True)`` costs minus what the instruction costs; with TTLB, each
  TLB instruction costs a trap round trip plus what ``policy.on_trap`` returns minus itself;
- ``policy.on_load(VcpuLoad)`` for each load situation of ``hyp.scheduler`` (stay/migrate ×
  who of the VM ran last on the pCPU), weighted by how often the scheduler model produces it;
  a stateful policy is played the situation's shortest history first
  (``hyp.scheduler.situation_flushes``), so it sees the state its own rules build;
- each returned operation is costed by what it is: its scope (local, or IS, priced by the DVM
  model ``cost/dvm.py`` under the run's broadcast load), and what it removes (TLB by VA / ASID /
  VMID / all, the I-cache, the branch predictor) on this core (refill of the entries that would
  have hit) and on the others (DVM stalls, and collateral refills of running siblings or of
  everyone).

Broadcasts share the DVM node, so what one costs depends on how many every busy core issues
(``dvm.broadcast_load``): the model first counts the broadcasts per busy core under the policy
and on bare metal (the guests' own IS maintenance), then charges each instruction at the
latency of its load. A policy that adds broadcasts therefore also slows the guests' own ones,
and that extra wait is charged to it (``broadcast-issue``).

Causes (keys of ``CostResult.cycles``): see ``causes.CAUSES``. Formulas are in docs/cost.md;
the per-run constants and retention rules are in ``analytic_machine.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..arch.ops import HypOp, HypTarget, MaintenanceOp, Match, Scope, Structure, effective, op
from ..guest.rates import GuestRates, load_rates
from ..hyp.policy import Policy, VcpuInfo
from ..hyp.registry import resolve
from ..hyp.scheduler import LoadRates, LoadSituation, load_rates_for, situation_flushes
from ..hyp.state import PolicyState
from .analytic_machine import Group, Machine
from .causes import CAUSES
from .dvm import MESSAGES, instruction_cycles
from .guest_ops import guest_ops
from .platform import Platform, load_platform
from .predictor import flushes_predictor, is_nop
from .result import CostResult
from .workload import Workload


@dataclass(slots=True)
class _Ledger:
    """Cycles by cause (all cores), the part of them on other cores, and event counts."""

    cycles: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CAUSES, 0.0))
    others: float = 0.0
    events: dict[str, float] = field(default_factory=dict)
    deferred: dict[tuple[str, str], float] = field(default_factory=dict)
    """(cause, load) → broadcasts charged at that load's price, once the load is known."""

    def add(self, cause: str, cycles: float, *, others: bool = False) -> None:
        self.cycles[cause] += cycles
        if others:
            self.others += cycles

    def defer(self, cause: str, load: str, n: float) -> None:
        key = (cause, load)
        self.deferred[key] = self.deferred.get(key, 0.0) + n

    def count(self, name: str, n: float) -> None:
        self.events[name] = self.events.get(name, 0.0) + n


def _issue(m: Machine, o: MaintenanceOp | HypOp, led: _Ledger, cause: str, rate: float) -> None:
    """Charge the issuing core's wait for ``rate`` executions of ``o``: local, or a broadcast
    at ``m``'s load (deferred: ``_Ledger.defer``) plus its local work beyond a local TLBI's."""
    led.add(cause, rate * instruction_cycles(m.plat, o, 0.0))
    if o.scope is Scope.IS:
        led.defer(cause, m.load, rate)


def _guest_op_cost(m: Machine, g: Group, o: MaintenanceOp, led: _Ledger, rate: float) -> None:
    """Charge ``rate`` executions of ``o`` as executed (no baseline subtraction)."""
    p = m.plat
    _issue(m, o, led, "broadcast-issue", rate)
    if o.scope is not Scope.IS:
        return
    led.count("dvm-broadcasts", rate)
    stall = MESSAGES * m.receivers_of(g, o) * p.dvm_receive_cycles
    led.add("dvm-others", rate * stall, others=True)
    siblings = (g.vcpus - 1) * g.running_share
    if o.structure is Structure.TLB:
        if o.match is Match.ALL:
            lost = siblings * g.own_ws
        elif o.match is Match.ASID:
            lost = 0.0  # an ASID's entries: siblings seldom run that process (docs/cost.md)
        else:
            lost = siblings * g.rates.shared_fraction  # one page, if the siblings share it
        led.add("collateral-tlb", rate * lost * p.walk_2stage_cycles, others=True)
    elif o.structure is Structure.ICACHE and o.match is Match.ALL:
        refill = m.receivers * m.ic_avg * p.icache_line_refill_cycles
        led.add("icache-refill", rate * refill, others=True)
        if flushes_predictor(p, g.rates.arch, o):  # ICIALLUIS also flushes visible predictors
            led.add("bp-retrain", rate * m.receivers * p.bp_retrain_cycles, others=True)
    elif o.structure is Structure.BP and o.match is Match.ALL:
        led.add("bp-retrain", rate * m.receivers * p.bp_retrain_cycles, others=True)


def _negate(led: _Ledger) -> _Ledger:
    out = _Ledger()
    out.cycles = {k: -v for k, v in led.cycles.items()}
    out.others = -led.others
    out.events = {"native-" + k: v for k, v in led.events.items()}
    out.deferred = {k: -v for k, v in led.deferred.items()}
    return out


def _merge(into: _Ledger, part: _Ledger) -> None:
    for k, v in part.cycles.items():
        into.cycles[k] += v
    into.others += part.others
    for k, v in part.events.items():
        into.count(k, v)
    for (cause, load), n in part.deferred.items():
        into.defer(cause, load, n)


def _hyp_op_cost(
    m: Machine,
    g: Group,
    h: HypOp,
    useful: float,
    useful_ic: float,
    useful_bp: float,
    led: _Ledger,
    rate: float,
) -> None:
    """Charge ``rate`` executions of hypervisor flush ``h`` at a load whose vCPU would have hit
    ``useful`` TLB entries, ``useful_ic`` I-cache lines and a ``useful_bp`` share of the BP."""
    p = m.plat
    is_ = h.scope is Scope.IS
    _issue(m, h, led, "hyp-flush", rate)
    if is_:
        led.count("dvm-broadcasts", rate)
        stall = MESSAGES * m.receivers_of(g, h) * p.dvm_receive_cycles
        led.add("dvm-others", rate * stall, others=True)
    if h.target is HypTarget.ICACHE:
        led.add("icache-refill", rate * useful_ic * p.icache_line_refill_cycles)
        if flushes_predictor(p, g.rates.arch, h):  # IC IALLU also flushes visible predictors
            led.add("bp-retrain", rate * useful_bp * p.bp_retrain_cycles)
        if is_:
            led.add(
                "icache-refill",
                rate * m.receivers * m.ic_avg * p.icache_line_refill_cycles,
                others=True,
            )
        return
    if h.target is HypTarget.BP:
        if flushes_predictor(p, g.rates.arch, h):
            led.add("bp-retrain", rate * useful_bp * p.bp_retrain_cycles)
        return
    led.add("tlb-refill", rate * useful * p.walk_2stage_cycles)
    if is_:
        if h.target is HypTarget.TLB_ALL:
            lost = m.receivers * m.ws_avg
        else:
            lost = (g.vcpus - 1) * g.running_share * g.own_ws
        led.add("collateral-tlb", rate * lost * p.walk_2stage_cycles, others=True)


def _charge_guest(
    m: Machine, mn: Machine, g: Group, policy: Policy, info: VcpuInfo, rs: float, led: _Ledger
) -> None:
    """Guest maintenance over ``rs`` running vCPU-seconds: the policy's extra cost only (what
    it executes on ``m``, minus what the guest's instructions cost on bare metal, ``mn``)."""
    hcr = policy.hcr(info)
    for _, name, per_s in guest_ops(g.rates, g.vcpus):
        n = per_s * rs
        if n == 0.0:
            continue
        o = op(g.rates.arch, name)
        if is_nop(m.plat, o):
            continue  # executes as a NOP on this platform: no cost, policy or not
        led.count("guest-maintenance", n)
        if o.scope is Scope.LOCAL:
            led.count("guest-local-maintenance", n)
        delta = _Ledger()
        if hcr.ttlb and o.ttlb_traps:
            led.count("traps", n)
            delta.add("trap", n * m.plat.trap_roundtrip_cycles)
            for act in PolicyState().trap(policy, info, 0, o):  # from the initial state
                if isinstance(act, HypOp):
                    _hyp_op_cost(m, g, act, 0.0, 0.0, 0.0, delta, n)
                else:
                    if act.scope is Scope.IS and o.scope is Scope.LOCAL:
                        led.count("broadcasts-added", n)
                    _guest_op_cost(m, g, act, delta, n)
        else:
            e = effective(o, hcr.fb, m.plat.bp)
            if e is o and o.scope is not Scope.IS:
                continue  # a local instruction left local costs what it costs on bare metal
            if e is o:  # the guest's own broadcast: only the wait its load adds differs
                led.count("dvm-broadcasts", n)
                led.count("native-dvm-broadcasts", n)
                led.defer("broadcast-issue", m.load, n)
                led.defer("broadcast-issue", mn.load, -n)
                continue
            if e is not o:
                led.count("fb-upgraded", n)
                led.count("broadcasts-added", n)
            _guest_op_cost(m, g, e, delta, n)
        native = _Ledger()
        _guest_op_cost(mn, g, o, native, n)
        _merge(delta, _negate(native))
        _merge(led, delta)


_VCPU_HERE = {
    LoadSituation.STAY_SELF: (False, "self"),
    LoadSituation.STAY_OTHER: (False, "other"),
    LoadSituation.MIGRATE_SELF: (True, "self"),
    LoadSituation.MIGRATE_OTHER: (True, "other"),
    LoadSituation.MIGRATE_EMPTY: (True, None),
}


def _charge_loads(
    m: Machine, g: Group, policy: Policy, info: VcpuInfo, lr: LoadRates, rs: float, led: _Ledger
) -> None:
    """Hypervisor flushes at each load situation, weighted by its rate."""
    p = m.plat
    reach, lines = float(p.tlb_reach_entries()), float(p.icache_lines())
    n_stay = m.overcommit - 1.0
    n_move = m.overcommit if m.overcommit > 1.0 else m.busy
    plan: list[tuple[float, bool, str | None, list[HypOp]]] = []
    for sit, per_s in lr.by_situation.items():
        n = per_s * rs
        if n == 0.0:
            continue
        migrated, who = _VCPU_HERE[sit]
        led.count(f"loads:{sit.value}", n)
        plan.append((n, migrated, who, list(situation_flushes(policy, info, sit))))
    loads = sum(x[0] for x in plan)
    ic_local = sum(
        x[0]
        for x in plan
        if any(h.target is HypTarget.ICACHE and h.scope is Scope.LOCAL for h in x[3])
    )
    f_ic = ic_local / loads if loads > 0 else 0.0
    for n, migrated, who, ops in plan:
        if migrated:  # runs on the destination since this vCPU left it: docs/exact.md
            keep = m.revisit_retention(m.ws_avg, reach)
            keep_ic = m.revisit_retention(m.ic_avg, lines)
        else:  # the c - 1 runs since this vCPU's own last run here: LRU sets
            keep = m.lru_retention(n_stay, g.own_ws, m.ws_avg, reach, p.l2_tlb_ways)
            keep_ic = m.lru_retention(n_stay, g.own_ic, m.ic_avg, lines, p.icache_ways)
        if who is None:
            keep = keep_ic = 0.0
        elif who == "other" and migrated:
            keep = m.sibling_retention(g, keep, g.own_ws, m.ws_avg, reach)
            keep_ic = m.sibling_retention(g, keep_ic, g.own_ic, m.ic_avg, lines)
        if f_ic > 0.0 and not any(h.target is HypTarget.ICACHE for h in ops):
            # A local IC IALLU empties the whole (PIPT) I-cache, so the lines of the vCPUs
            # that ran on this pCPU before the flushed load are refilled too: a load that does
            # not flush the I-cache itself still refills the lines it would have found if any
            # of the loads on this pCPU since this vCPU's last run here (``c - 1`` for a stay,
            # at least ``2c - 1`` after a migration) flushed it, each with the share ``f_ic``
            # of loads that do. (Against exact mode: docs/exact.md, "Cross-validation".)
            between = 2.0 * m.overcommit - 1.0 if migrated else n_stay
            lost = 1.0 - (1.0 - f_ic) ** between
            refill = n * lost * g.own_ic * keep_ic * p.icache_line_refill_cycles
            led.add("icache-refill", refill)
        if not ops:
            continue
        keep_bp = m.retention(n_move if migrated else n_stay, 1.0, 1.0)
        for h in ops:
            led.count("hyp-flushes-is" if h.scope is Scope.IS else "hyp-flushes", n)
            _hyp_op_cost(m, g, h, g.own_ws * keep, g.own_ic * keep_ic, keep_bp, led, n)


_POLICY_CLASSES: dict[str, type[Policy]] = {}


def policy_instance(name: str) -> Policy:
    """A fresh instance of the policy ``name`` (class lookup cached: entry points are slow)."""
    cls = _POLICY_CLASSES.get(name)
    if cls is None:
        cls = type(resolve(name))
        _POLICY_CLASSES[name] = cls
    return cls()


def evaluate_analytic(
    workload: Workload,
    policy_name: str,
    pcpus: int | None = None,
    *,
    platform: Platform | None = None,
    rates: Mapping[str, GuestRates] | None = None,
) -> CostResult:
    """Expected cycles ``policy_name`` costs ``workload`` on ``pcpus`` cores, by cause.

    ``platform`` and ``rates`` (guest kind → rates) replace the profiles the workload names:
    what-if figures, e.g. the report's uncertainty corners (``study/uncertainty.py``)."""
    plat = platform or load_platform(workload.platform, workload.base_dir)
    n_pcpus = pcpus or workload.pcpus or plat.cores
    policy = policy_instance(policy_name)
    sched = workload.scheduler
    total_v = workload.total_vcpus
    reach, lines = float(plat.tlb_reach_entries()), float(plat.icache_lines())
    groups: list[tuple[Group, int, LoadRates]] = []
    for dg in workload.domains:
        kind_rates = (rates or {}).get(dg.kind) or load_rates(dg.kind, workload.base_dir)
        lr = load_rates_for(
            sched.kind, n_pcpus, total_v, dg.vcpus, sched.migrations_per_vcpu_s, sched.timeslice_ms
        )
        ic = kind_rates.icache_working_set_kib * 1024 / plat.icache_line_bytes
        g = Group(
            kind_rates,
            dg.vcpus,
            lr.running_share,
            min(kind_rates.tlb_working_set_pages, reach),
            min(ic, lines),
            lr.pinned,
        )
        groups.append((g, dg.count, lr))
    weight = float(total_v)
    ws_avg = sum(g.own_ws * c * g.vcpus for g, c, _ in groups) / weight
    ic_avg = sum(g.own_ic * c * g.vcpus for g, c, _ in groups) / weight
    lr0 = groups[0][2]
    m = Machine(plat, n_pcpus, lr0.busy, lr0.overcommit, ws_avg, ic_avg, total_v)
    led, baseline = _charge_all(m, m.native(), groups, policy, workload.duration_s)
    # Every broadcast is priced at the load it was issued under, counted over the whole run:
    # broadcasts per busy core per second, under the policy and on bare metal (docs/cost.md,
    # "The DVM model").
    busy_s = n_pcpus * lr0.busy * workload.duration_s
    price = {
        "policy": m.broadcast_price(led.events.get("dvm-broadcasts", 0.0) / busy_s).issue,
        "native": m.broadcast_price(led.events.get("native-dvm-broadcasts", 0.0) / busy_s).issue,
    }
    for (cause, load), n in led.deferred.items():
        led.add(cause, n * price[load])
    machine = n_pcpus * plat.clock_ghz * 1e9 * workload.duration_s
    total = sum(led.cycles.values())
    assumptions = [f"{plat.name}:{k}" for k in plat.assumed_figures()]
    for g, _, _ in groups:
        assumptions += [f"{g.rates.kind}:{k}" for k in g.rates.assumed_rates()]
    res = CostResult(
        policy=policy.name,
        pcpus=n_pcpus,
        platform=plat.name,
        overhead_pct=100.0 * total / machine,
        cost_to_others_pct=100.0 * led.others / machine,
        cycles=dict(led.cycles),
        events=dict(sorted(led.events.items())),
        safe=None,
        mode="analytic",
        total_cycles=total,
        machine_cycles=machine,
        duration_s=workload.duration_s,
        assumptions=sorted(set(assumptions)),
        baseline_cycles=baseline,
    )
    return res


def _charge_all(
    m: Machine,
    mn: Machine,
    groups: list[tuple[Group, int, LoadRates]],
    policy: Policy,
    duration_s: float,
) -> tuple[_Ledger, float]:
    """Every group's guest maintenance and loads over the run: the ledger, and the baseline
    cycles of the scheduler's own vCPU switches."""
    plat = m.plat
    led = _Ledger()
    baseline = 0.0
    for vmid, (g, count, lr) in enumerate(groups, start=1):
        info = VcpuInfo(
            domain=f"{g.rates.kind}",
            vcpu=0,
            vmid=vmid,
            arch=g.rates.arch,
            domain_vcpus=g.vcpus,
            pinned=lr.pinned,
        )
        rs = count * g.vcpus * lr.running_share * duration_s
        led.count("running-vcpu-s", rs)
        led.count("vcpu-loads", lr.loads_per_s * rs)
        led.count("migrations", lr.migrations_per_s * rs)
        r = g.rates
        led.count("pte-changes", r.pte_changes_per_s * rs)
        led.count("asid-flushes", r.asid_flushes_per_s * rs)
        led.count("asid-rollovers", r.asid_rollovers_per_s * rs)
        led.count("code-changes", r.code_changes_per_s * rs)
        led.count("guest-context-switches", r.context_switches_per_s * rs)
        baseline += lr.loads_per_s * rs * plat.vcpu_switch_cycles
        _charge_guest(m, mn, g, policy, info, rs, led)
        _charge_loads(m, g, policy, info, lr, rs, led)
    return led, baseline
