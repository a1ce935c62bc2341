"""The bounded model checker (SPEC §7 "check"): every schedule and every guest operation a
kind's discipline allows, breadth-first, so the first violation found has the fewest actions.

The ground truth is the engine and the oracle: a state is the event path that reaches it and
the engine and oracle after it; a successor gets a purpose-built copy of its parent's
(``snapshot.py``, cheaper than a replay or a deep copy) and applies its own events. States are merged by a *canonical key* (``key.py``): what the TLBs, I-caches and
branch predictors hold and what the oracle would accept, with step numbers abstracted away,
minimised over pCPU and vCPU permutations. An *action* is one scheduler load (``run v on p``)
or one guest operation (``actions.py``); depth counts actions.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from itertools import permutations
from typing import Any

from ..arch.machine import Machine
from ..arch.ops import DEFAULT_BP, BpReading, Match, Structure
from ..guest.domain import Domain
from ..hyp.policy import Policy
from ..hyp.registry import resolve
from ..sim.engine import Engine
from ..sim.events import (
    Access,
    Barrier,
    Destroy,
    Event,
    Maintain,
    PteWrite,
    Run,
    SetAsid,
    SetTable,
    WriteCode,
)
from ..sim.pending import Undone
from ..sim.scenario import DomainSpec, Scenario
from .actions import (
    DEFAULT_VAS,
    DOMAIN,
    SECOND,
    GuestModel,
    GuestState,
    Operation,
    ever_mapped,
    every_table,
    fresh_pa,
)
from .key import canonical_key, is_new
from .keyplan import KeyPlan
from .oracle import GuestError, Oracle, Violation
from .probe import only_fetches, op_outcome, probe, probes_show_nothing
from .result import CheckResult
from .snapshot import copy_state
from .unchanged import CHANGES_NOTHING, SHOWS_NOTHING, UNKNOWN

__all__ = ["CheckResult", "Explorer", "GuestDisciplineError", "check", "probe"]

Node = tuple[tuple[Event, ...], GuestState, tuple[str, ...], Engine, Oracle]
"""A frontier state: its event path, guest bookkeeping, action labels, engine and oracle."""


class GuestDisciplineError(AssertionError):
    """An explored path on which the guest broke its own rules: a bug in ``actions.py``."""


class Explorer:
    """Replays event paths for one kind, policy and machine size."""

    def __init__(
        self,
        model: GuestModel,
        policy: Policy,
        pcpus: int,
        policy_ref: str | None = None,
        bp: BpReading = DEFAULT_BP,
        incomplete: bool = False,
        vms: int = 1,
    ) -> None:
        self.model = model
        self.bp = bp
        self.policy = policy
        self.incomplete = incomplete
        """Broadcasts complete at the issuer's DSB, which is an action of its own."""
        self.policy_ref = policy_ref or policy.name
        """How a litmus file names the policy (a plug-in by its ``module:Class`` path)."""
        self.pcpus = pcpus
        d = model.discipline
        self.spec = DomainSpec(DOMAIN, model.vcpus, d.arch, model.kind)
        self.specs = [self.spec]
        self.vms = vms
        """``check --vms 2``: VM ``DOMAIN`` may be destroyed and VM ``SECOND``, the same kind
        and size, created on its VMID (1); never two live at once."""
        if vms == 2:
            self.specs.append(DomainSpec(SECOND, model.vcpus, d.arch, model.kind, vmid=1))
        self.reuses = vms == 2 and policy.on_vmid_reuse(1) is not None
        """The scheduler may destroy the first VM: the hypervisor hands a freed VMID out again."""
        self.vperms = list(permutations(range(model.vcpus)))
        self.pperms = list(permutations(range(pcpus)))
        self.memo: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.load_memo: dict[tuple[Any, ...], tuple[Operation, ...]] = {}
        """``successors``' scheduler loads, by what they read."""
        self.plan = KeyPlan(model)
        self.rollover_ops = (
            frozenset(model.ops[n] for n in d.rollover) if d.rollover_broadcast else frozenset()
        )
        """The broadcast a rollover issues with the ASID allocator's lock held (``_allocator``)."""

    def replay(self, path: tuple[Event, ...]) -> tuple[Engine, Oracle]:
        """A fresh engine and oracle after ``path``."""
        doms = [Domain(s.name, 1, s.arch, s.vcpus, kind=s.kind) for s in self.specs]
        oracle = Oracle(doms)
        engine = Engine(Machine(self.pcpus, bp=self.bp), doms, self.policy, oracle, self.incomplete)
        engine.apply(path)
        return engine, oracle

    def successors(self, engine: Engine, g: GuestState) -> list[Operation]:
        """Scheduler loads first (every vCPU on every pCPU it is not on; a first load includes
        the vCPU's bring-up), then each running vCPU's guest operations."""
        dn = g.domain
        dom = engine.domains[dn]
        undone = engine.pending.undone
        holder = self._allocator(undone)
        # the loads depend on the guest's bookkeeping, where each vCPU is, was, and its table
        # and ASID (``bring_ups``), and whether the allocator is held: computed once for each
        k = (g, holder is None, *[(vc.pcpu, vc.last_pcpu, vc.table, vc.asid) for vc in dom.vcpus])
        loads = self.load_memo.get(k)
        if loads is None:
            loads = self.load_memo[k] = tuple(self._loads(engine, g, holder is not None))
        out = list(loads)
        if (
            self.reuses
            and dn == DOMAIN
            and not undone
            and any(vc.last_pcpu is not None for vc in dom.vcpus)
        ):
            out.append(
                Operation(
                    f"destroy VM {DOMAIN}, create VM {SECOND} on its VMID",
                    (Destroy(DOMAIN),),
                    self.model.initial(SECOND),
                )
            )
        mapped: tuple[set[int], int | None] | None = None  # the same for every vCPU
        for vc in dom.vcpus:
            if vc.pcpu is None:
                continue
            if vc.name in undone:  # its next instruction is the DSB after its maintenance
                out.append(_dsb(dn, vc.index, undone[vc.name], g))
                continue
            if mapped is None:
                mapped = (ever_mapped(engine), fresh_pa(every_table(engine)))
            ops = self.model.operations(engine, g, vc.index, mapped)
            ops += self.model.extra_operations(engine, g, vc.index)
            if undone:  # the OS serialises PTE and code changes with the flush that follows
                ops = [op for op in ops if not _changes_memory(op.events)]
            if holder is not None:  # a process switch spins on the allocator's lock
                ops = [op for op in ops if not _switches_process(op.events)]
            out.extend(ops)
        return out

    def _loads(self, engine: Engine, g: GuestState, held: bool) -> list[Operation]:
        """Every vCPU on every pCPU it is not on; a first load includes the vCPU's bring-up,
        unless ``held`` (the allocator's lock) and the bring-up switches process."""
        out: list[Operation] = []
        dn = g.domain
        for vc in engine.domains[dn].vcpus:
            v = vc.index
            for p in range(self.pcpus):
                if vc.pcpu == p:
                    continue
                if vc.last_pcpu is None:
                    ups = self.model.bring_ups(engine, g, v)
                else:
                    ups = [([], self.model.on_load(g, v, vc.table))]
                for evs, g2 in ups:
                    if held and _switches_process(tuple(evs)):
                        continue  # its first context switch waits for the allocator
                    out.append(Operation(f"run v{v} on {p}", (Run(dn, v, p), *evs), g2))
        return out

    def _allocator(self, undone: dict[str, tuple[Undone, ...]]) -> str | None:
        """The vCPU between its rollover broadcast and the DSB after it, if any. It holds the
        ASID allocator's lock, and every other vCPU's process switch waits for it: FreeBSD
        arm64 ``pmap_reset_asid_set()`` advances ``asid_epoch``, issues TLBI VMALLE1IS and its
        DSB ISH with ``asid_set_mutex`` held, so a switch elsewhere finds its pmap's epoch
        stale and spins in ``pmap_alloc_asid()`` until the new ASIDs are handed out after the
        DSB (sys/arm64/arm64/pmap.c). Linux's rollover flush is local and owed per CPU, with no
        such window: no vCPU is held for it."""
        for name, pending in undone.items():
            if any(m.op in self.rollover_ops for m, _, _ in pending):
                return name
        return None

    def key(self, engine: Engine, oracle: Oracle, g: GuestState) -> tuple[Any, ...]:
        return canonical_key(self.plan, engine, oracle, g, self.vperms, self.pperms, self.memo)

    def is_new(self, engine: Engine, oracle: Oracle, g: GuestState, met: set[Any]) -> bool:
        """The state's key is not in ``met`` (``key.is_new``), which now holds it."""
        return is_new(self.plan, engine, oracle, g, self.vperms, self.pperms, met)

    def scenario(self, path: tuple[Event, ...], title: str) -> Scenario:
        return Scenario(
            self.pcpus,
            list(self.specs),
            list(path),
            title=title,
            policy=self.policy_ref,
            expect="violation",
            bp=self.bp,
            incomplete=self.incomplete,
        )


def _changes_memory(events: tuple[Event, ...]) -> bool:
    """The operation writes a PTE or code. While a vCPU is between its maintenance and its DSB,
    no vCPU does (kernels hold the page-table lock or the text-patching lock until the flush
    completes); so the tables and the code stay as they were when the maintenance executed,
    and the oracle may learn of it at the DSB, with the DSB's step."""
    return any(isinstance(e, (PteWrite, WriteCode)) for e in events)


def _switches_process(events: tuple[Event, ...]) -> bool:
    """The operation enters another process's table or takes an ASID (a context switch)."""
    return any(isinstance(e, (SetTable, SetAsid)) for e in events)


def _dsb(dn: str, v: int, undone: tuple[Undone, ...], g: GuestState) -> Operation:
    """The DSB a vCPU executes after its maintenance (``incomplete``): ISH if it wrote an
    Inner Shareable instruction, else NSH, as the kinds' sources do."""
    option = "ish" if any(m.op.broadcast for m, _, _ in undone) else "nsh"
    return Operation(f"v{v} dsb {option}", (Barrier(dn, v, "dsb", option=option),), g)


def check(
    kind: str,
    policy: str | Policy,
    pcpus: int = 2,
    vcpus: int = 2,
    depth: int = 10,
    merge: bool = True,
    vas: int = DEFAULT_VAS,
    progress: Callable[[int, int], None] | None = None,
    incomplete: bool = False,
    globals: bool = False,
    asid_flush: bool = False,
    bp: BpReading = DEFAULT_BP,
    vms: int = 1,
) -> CheckResult:
    """Breadth-first search for the shortest action sequence that gives a violation.

    ``merge=False`` explores every path (no state merging, no symmetry, every leaf operation
    applied): the reference the tests hold the merged search against. ``progress`` is told
    (depth done, states so far) after each depth. ``incomplete``: a broadcast completes on the
    other PEs only at its issuer's DSB (``sim/pending.py``), and that DSB is an action of its
    own, so the scheduler may act between a guest's maintenance and its DSB. ``globals`` and
    ``asid_flush`` add the guest operations of ``GuestModel.extra_operations``. ``vms=2``: the
    scheduler may also destroy the VM (once it ran, and if the policy hands freed VMIDs out
    again, ``Policy.on_vmid_reuse``) and create a second one of the same kind and size on its
    VMID, which runs from then on.
    """
    # The frontier holds thousands of engines, which Python's automatic collections would walk
    # again and again; the search frees the states it drops itself (``_release``).
    enabled = gc.isenabled()
    gc.disable()
    try:
        if depth < 0 or pcpus < 1 or vcpus < 1:
            raise ValueError("depth must be >= 0, pcpus and vcpus >= 1")
        if vms not in (1, 2):
            raise ValueError("vms must be 1 or 2")
        model = GuestModel.for_kind(kind, vcpus, vas, globals=globals, asid_flush=asid_flush)
        return _Search(
            kind, policy, pcpus, model, depth, merge, progress, incomplete, bp.normalised(), vms
        ).run()
    finally:
        if enabled:
            gc.enable()


class _Search:
    """One breadth-first search. Levels below ``depth - 1`` are merged by canonical key; the
    states at ``depth - 1`` are not keyed: each is checked for the violations its last action
    shows and then *probed* in place with every fetch a running vCPU may make, which is every
    use the last level could make (``probe``); the first probe that finds one is kept, and
    returned once the whole level ``depth - 1`` has shown no shorter violation."""

    def __init__(
        self,
        kind: str,
        policy: str | Policy,
        pcpus: int,
        model: GuestModel,
        depth: int,
        merge: bool,
        progress: Callable[[int, int], None] | None = None,
        incomplete: bool = False,
        bp: BpReading = DEFAULT_BP,
        vms: int = 1,
    ) -> None:
        self.progress = progress
        self.kind, self.depth, self.merge = kind, depth, merge
        self.pol = resolve(policy) if isinstance(policy, str) else policy
        self.model = model
        ref = policy if isinstance(policy, str) else None
        self.ex = Explorer(self.model, self.pol, pcpus, ref, bp, incomplete, vms)
        self.bp = bp
        self.t0 = time.perf_counter()
        self.states = 0

    def result(
        self,
        reached: int,
        path: tuple[Event, ...] = (),
        violation: Violation | None = None,
        labels: list[str] | None = None,
    ) -> CheckResult:
        ex, pol = self.ex, self.pol
        return CheckResult(
            self.kind,
            pol.name,
            ex.pcpus,
            self.model.vcpus,
            self.depth,
            self.states,
            reached,
            time.perf_counter() - self.t0,
            ex.scenario(path, f"check: {self.kind} under {pol.name}") if violation else None,
            violation,
            labels or [],
            len(self.model.vas),
            ex.policy_ref,
            incomplete=ex.incomplete,
            bp=self.bp,
            vms=ex.vms,
        )

    def applied(
        self, engine: Engine, oracle: Oracle, path: tuple[Event, ...], op: Operation
    ) -> None:
        engine.apply(op.events)
        if oracle.guest_errors:
            raise GuestDisciplineError(
                _guest_error(self.kind, path + op.events, oracle.guest_errors[0])
            )

    def run(self) -> CheckResult:
        ex, depth = self.ex, self.depth
        root: tuple[Event, ...] = ()
        g0 = self.model.initial()
        e0, o0 = ex.replay(root)
        seen: set[tuple[Any, ...]] = set()  # keys and identity facts met (``key.is_new``)
        ex.is_new(e0, o0, g0, seen)
        self.states = 1
        frontier: list[Node] = [(root, g0, (), e0, o0)]
        probe_level = depth - 1 if self.merge and depth >= 2 else -1
        found: tuple[tuple[Event, ...], Violation, list[str]] | None = None
        for level in range(1, depth + 1):
            nxt: list[Node] = []
            frontier.reverse()  # popped from the end: the same order, each freed once expanded
            while frontier:
                path, g, labels, engine, oracle = frontier.pop()
                ops = ex.successors(engine, g)
                if level == depth:  # a violation is a *use*: nothing to check at a leaf without
                    ops = [op for op in ops if uses_something(op.events)]
                last = level == probe_level or level == depth  # states checked, not keyed
                for i, op in enumerate(ops):
                    quiet = op_outcome(engine, oracle, op.events) if self.merge else UNKNOWN
                    if quiet == CHANGES_NOTHING or (last and quiet == SHOWS_NOTHING):
                        # the successor has its parent's key: a duplicate of it; or, checked
                        # only for a violation, it shows none (``unchanged.py``)
                        if level == probe_level:
                            self.states += 1
                        if i == len(ops) - 1:
                            _release(engine)
                        continue
                    if level == probe_level and found is not None and not uses_something(op.events):
                        # a probe already found a violation at the last level: this state is
                        # only checked for one at its own, and it shows none (nothing is used)
                        self.states += 1
                        if i == len(ops) - 1:
                            _release(engine)
                        continue
                    if i == len(ops) - 1:  # the parent's own state serves its last successor
                        e2, o2 = engine, oracle
                    else:  # a copy of the parent's state: as replaying its path from scratch
                        e2, o2 = copy_state(engine, oracle)
                    self.applied(e2, o2, path, op)
                    if o2.violations:
                        self.states += 1
                        return self.result(
                            level, path + op.events, o2.violations[0], [*labels, op.label]
                        )
                    if level == probe_level:
                        self.states += 1
                        if (
                            found is None
                            and not only_fetches(op.events)
                            and not probes_show_nothing(e2, o2)
                        ):
                            hit = probe(e2, o2)
                            if hit is not None:
                                use, label = hit
                                found = (
                                    path + op.events + (use,),
                                    o2.violations[0],
                                    [*labels, op.label, label],
                                )
                        _release(e2)
                        continue
                    if level == depth:
                        _release(e2)
                        continue  # checked for a violation; never expanded, so never keyed
                    if self.merge and not ex.is_new(e2, o2, op.state, seen):
                        _release(e2)
                        continue
                    self.states += 1
                    nxt.append((path + op.events, op.state, (*labels, op.label), e2, o2))
                if not ops:
                    _release(engine)
            if self.progress is not None:
                self.progress(depth if level == probe_level else level, self.states)
            if level == probe_level:
                if found is not None:
                    return self.result(depth, *found)
                return self.result(depth)  # the probes were every use of the last level
            frontier = nxt
            if not frontier:
                return self.result(level)
        return self.result(depth)


def _release(engine: Engine) -> None:
    """Break the only reference cycle of a dropped state (each vCPU points at its domain), so
    reference counting frees it at once without the garbage collector."""
    for d in engine.domains.values():
        d.vcpus.clear()


def uses_something(events: tuple[Event, ...]) -> bool:
    """Whether ``events`` translate, fetch or predict: the only events the oracle judges."""
    return any(
        isinstance(e, (Access, WriteCode))
        or (
            isinstance(e, Maintain)
            and e.op.structure is Structure.ICACHE
            and e.op.match is Match.VA
        )
        for e in events
    )


def _guest_error(kind: str, path: tuple[Event, ...], err: GuestError) -> str:
    from ..sim.events import render

    steps = "; ".join(render(e) for e in path)
    return f"{kind}: the guest broke its discipline: {err.explain()} [path: {steps}]"
