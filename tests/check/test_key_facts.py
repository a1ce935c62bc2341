"""Each fact of the canonical key (``check/key.py``'s module docstring lists them), held by hand:
pairs of states reached by short explicit paths that differ in exactly one fact, whose keys must
differ (the fact decides a future: the search merges states by key, so a key without it would
let one path's future stand for the other's), and states equal under a renaming of pCPUs, vCPUs
(with their own tables) or processes, whose keys must be equal. Every test goes through the
explorer's public key (``Explorer.key``) or ``check``; none reads the key's form.

Written from the survivors of the mutation run of ``key.py`` (docs/testing.md, "check/key.py").
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import pytest
from test_explore_invariants import follow

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HypOp
from vtlbsim.check.actions import GuestModel, GuestState, Operation
from vtlbsim.check.explore import Explorer, check
from vtlbsim.check.oracle import Oracle
from vtlbsim.check.snapshot import copy_state
from vtlbsim.hyp.policy import (
    NO_FLAGS,
    Decision,
    PcpuId,
    Policy,
    VcpuId,
    VcpuInfo,
    VcpuLoad,
    flush_tlb_ic,
)
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine

PERCPU = "percpu-tables"


def _state(ex: Explorer, labels: Sequence[str]) -> tuple[Engine, Oracle, GuestState]:
    """The engine, oracle and guest bookkeeping after the actions ``labels`` from the start."""
    ops: list[Operation] = follow(ex, list(labels))  # type: ignore[assignment]
    engine, oracle = ex.replay(tuple(e for op in ops for e in op.events))
    assert not oracle.violations and not oracle.guest_errors
    return engine, oracle, ops[-1].state if ops else ex.model.initial()


def _key(ex: Explorer, labels: Sequence[str]) -> object:
    """The key of the state after ``labels``, from an explorer that keyed nothing before (its
    memos cannot answer for another state)."""
    fresh = Explorer(ex.model, ex.policy, ex.pcpus, incomplete=ex.incomplete, vms=ex.vms)
    return fresh.key(*_state(fresh, labels))


def _explorer(kind: str, policy: str | Policy = "none", **options: bool) -> Explorer:
    incomplete = options.pop("incomplete", False)
    vms = 2 if options.pop("vms2", False) else 1
    pol = resolve(policy) if isinstance(policy, str) else policy
    return Explorer(GuestModel.for_kind(kind, 2, **options), pol, 2, incomplete=incomplete, vms=vms)


# ---- the policy's own state (a plug-in may keep any value the key can order and rename) -------


@dataclass(frozen=True)
class _Seen:
    who: VcpuId
    where: PcpuId


class Wrapping(Policy):
    """A plug-in that keeps what it remembers as ``wrap(...)`` of it, so a test picks the shape
    of the policy-state value; no HCR_EL2 flags and no load history: what it remembers is in
    the key only as its policy state."""

    load_history = False

    def __init__(self, wrap: Callable[..., Hashable]) -> None:
        self.wrap = wrap

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS


class _LastHere(Wrapping):
    """A plug-in in the manner of Xen's "last vCPU ran" slot: each pCPU remembers the vCPU
    loaded on it last, as ``wrap(vCPU, pCPU)``, and a load of another vCPU there flushes the VMID's
    TLB and the I-cache (a first load on an empty pCPU flushes nothing)."""

    name = "last-here"
    summary = "flush when another vCPU ran on this pCPU last"

    def on_load(self, load: VcpuLoad) -> Decision:
        me = self.wrap(VcpuId(load.vcpu.vcpu), PcpuId(load.pcpu))
        here = load.state.pcpu
        ops: Sequence[HypOp] = flush_tlb_ic(load.vcpu.arch) if here not in (None, me) else ()
        return Decision(tuple(ops), pcpu=me)


WRAPS: dict[str, Callable[[VcpuId, PcpuId], Hashable]] = {
    "a vCPU": lambda v, p: v,
    "a frozenset": lambda v, p: frozenset({v, p}),
    "a frozenset of a tuple": lambda v, p: frozenset({(v, p)}),
    "a tuple": lambda v, p: (v, p),
    "a frozen dataclass": _Seen,
}


@pytest.mark.parametrize("wrap", WRAPS.values(), ids=WRAPS.keys())
def test_a_policy_state_value_is_renamed_with_the_vcpus_and_pcpus(
    wrap: Callable[[VcpuId, PcpuId], Hashable],
) -> None:
    """Per-CPU tables: "v0 on pCPU 0" and "v1 on pCPU 1" are the same state under the renaming
    v0 <-> v1 (with their own tables ``main`` <-> ``cpu1``) and pCPU 0 <-> 1, the policy's
    memory included: pCPU 0 remembering (v0, pCPU 0) is pCPU 1 remembering (v1, pCPU 1)
    renamed, whether the value is a bare vCPU or a set, a tuple or a dataclass holding the vCPU
    and the pCPU. So the keys are equal."""
    ex = _explorer(PERCPU, _LastHere(wrap))
    assert _key(ex, ["run v0 on 0"]) == _key(ex, ["run v1 on 1"])


# v1 last ran on pCPU 1 and waits; v0 runs on pCPU 1; pCPU 0 is idle and remembers v0 (A) or v1
# (B). Nothing was mapped, so no TLB, I-cache or legality fact differs; with no load history,
# only the policy's memory of pCPU 0 tells A from B.
REMEMBERS_V0 = ["run v1 on 1", "run v0 on 0", "run v0 on 1"]
REMEMBERS_V1 = ["run v1 on 0", "run v1 on 1", "run v0 on 1"]


@pytest.mark.parametrize("wrap", WRAPS.values(), ids=WRAPS.keys())
def test_what_the_policy_remembers_is_in_the_key(
    wrap: Callable[[VcpuId, PcpuId], Hashable],
) -> None:
    """In A a later "run v0 on 0" flushes nothing (pCPU 0 remembers v0) and in B it flushes
    (pCPU 0 remembers v1), so after "v0 map", "v0 fetch" on pCPU 1, "run v0 on 0", ... the two
    differ in what the TLBs hold: the keys must differ, whatever the value's shape. (No
    renaming maps A to B: v0 runs on pCPU 1 in both, so any renaming that keeps the running
    vCPU's facts keeps pCPU 0's memory of v0 or v1.)"""
    ex = _explorer(PERCPU, _LastHere(wrap))
    assert _key(ex, REMEMBERS_V0) != _key(ex, REMEMBERS_V1)


def test_a_policy_state_the_checker_cannot_order_is_refused_by_name() -> None:
    """A plug-in that keeps a complex number (hashable, but not totally ordered, so no key can
    sort it) is told which values the checker accepts: a TypeError naming the value, its type
    and the accepted types."""
    accepted = (
        r"policy state value 0j \(complex\): the checker needs None, bool, int, str, float, "
        r"VcpuId, PcpuId, enums, tuples, frozensets or frozen dataclasses of these"
    )
    with pytest.raises(TypeError, match=accepted):
        check(PERCPU, _LastHere(lambda v, p: complex(int(v))), depth=3)


# ---- the guest's bookkeeping and the renamings of processes and ASIDs ----------------------------


def test_a_vcpu_that_owes_the_rollover_flush_is_told_apart() -> None:
    """Linux AArch32, ``none``: v0 enters as2 and takes the free ASID 1 (A), or enters as1
    (ASID 1), main, then as2, which finds no free ASID and rolls over: main, the table v0 was
    on, keeps ASID 0 and as2 takes ASID 1 from as1 (B). Both end with v0 on as2 under ASID 1,
    main on 0, as1 without one, v1 never loaded and nothing mapped. In B, v1 owes the rollover
    flush: its first load runs the local BPIALL + TLBIALL (Linux ``check_and_switch_context``:
    a CPU that has not switched since a rollover flushes before it uses an ASID); in A it does
    not. So after v0 maps and fetches on pCPU 0 and v1 is loaded there, pCPU 0's TLB still
    holds v0's entry in A only: the keys must differ."""
    ex = _explorer("linux-arm32-smp")
    a = ["run v0 on 0", "v0 switch as2, ASID 1"]
    b = [
        "run v0 on 0",
        "v0 switch as1, ASID 1",
        "v0 switch main",
        "v0 switch as2, rollover, ASID 1",
    ]
    assert _key(ex, a) != _key(ex, b)


# v0 goes through as1 and as2 (whose switch rolls over) before v1's bring-up, and back to main
ROLLED_BACK_TO_MAIN = [
    "run v0 on 0",
    "v0 switch as1, ASID 1",
    "v0 switch as2, rollover, ASID 0",
    "run v1 on 1",
    "v0 switch main",
]


def test_renaming_the_processes_and_their_asids_gives_the_same_key() -> None:
    """Linux AArch64, ``none``: both vCPUs end on main, v0 having been through a second
    process, nothing mapped. In A, main holds ASID 0 and as1 ASID 1 (v0 went through as1). In
    B, v0 went through as1 and as2 (whose switch rolled over) before v1's bring-up, after which
    main holds ASID 1, as2 ASID 0 (v0 went through as2) and as1 none. Swapping as1 <-> as2
    (neither is where vCPUs start, and AArch64's two processes map alike) and ASIDs 0 <-> 1 (no
    number is special to the allocator) turns B into A: equal keys."""
    ex = _explorer("linux-arm64-smp")
    a = ["run v0 on 0", "run v1 on 1", "v0 switch as1, ASID 1", "v0 switch main"]
    assert _key(ex, a) == _key(ex, ROLLED_BACK_TO_MAIN)


def test_renaming_the_processes_renames_where_each_was_active() -> None:
    """Linux AArch64 with local unmaps (the mm's active vCPUs, ``mm_cpumask``, are in the key):
    v0 entering as1 or as2 (each with the free ASID 1) are the same state under as1 <-> as2:
    the table v0 is active on is renamed with the tables. Equal keys."""
    ex = _explorer("linux-arm64-local")
    assert _key(ex, ["run v0 on 0", "v0 switch as1, ASID 1"]) == _key(
        ex, ["run v0 on 0", "v0 switch as2, ASID 1"]
    )


def test_renaming_the_asids_renames_the_tlb_entries_and_predictions_they_tag() -> None:
    """Linux AArch32, ``none``: both vCPUs end on main, where v0 then maps 0x1000 and fetches it
    on pCPU 0 (a TLB entry and a branch prediction, both tagged with main's ASID). In A, v0
    went through as2 (ASID 1) and back: main holds ASID 0, as2 ASID 1. In B, v0 went through
    as1 and as2 (whose switch rolled over) before v1's bring-up: main holds ASID 1, as2 ASID 0,
    as1 none (it mapped nothing). Swapping the ASID numbers 0 <-> 1 (AArch32's as1 maps and as2
    does not, so only the numbers swap) turns B, its entry's and its prediction's tags included,
    into A: equal keys."""
    ex = _explorer("linux-arm32-smp")
    fill = ["v0 map 0x1000 0xa000", "v0 fetch 0x1000"]
    a = ["run v0 on 0", "run v1 on 1", "v0 switch as2, ASID 1", "v0 switch main", *fill]
    assert _key(ex, a) == _key(ex, [*ROLLED_BACK_TO_MAIN, *fill])


# ---- the machine: which vCPUs have been brought up, which ASIDs the tables hold ----------------


def test_a_vcpu_never_loaded_differs_from_one_that_waits() -> None:
    """Linux AArch32, ``none``: v0 runs on pCPU 0 and v1 was never loaded (A), or v1 runs on
    pCPU 0 and v0, loaded once, waits (B; renaming the vCPUs, the same machine as A but for
    that). The next load of the waiting vCPU is a plain load in B and its bring-up in A (the
    guest's secondary-CPU entry, which picks its table: ``actions.GuestModel.bring_ups``), so
    the two have different futures: the keys must differ."""
    ex = _explorer("linux-arm32-smp")
    assert _key(ex, ["run v0 on 0"]) != _key(ex, ["run v0 on 0", "run v1 on 0"])


def test_which_asid_each_table_holds_is_in_the_key() -> None:
    """Linux AArch32, ``none``: v0 on main, nothing mapped; as1 holds no ASID (A) or ASID 1,
    kept from v0's visit (B). The allocator's next choice differs (in A, as1 and as2 compete
    for the one free ASID; in B as1 has its own and a switch to as2 rolls over), so the keys
    must differ."""
    ex = _explorer("linux-arm32-smp")
    assert _key(ex, ["run v0 on 0"]) != _key(
        ex, ["run v0 on 0", "v0 switch as1, ASID 1", "v0 switch main"]
    )


def test_what_a_table_maps_is_in_the_key_when_no_vcpu_may_use_it_yet() -> None:
    """Linux AArch64, ``none``: v0 maps 0x1000 in main (A), or maps and unmaps it (B), then
    goes through as1 and as2, whose switch rolls over (main, on no vCPU, loses its ASID; the
    rollover's local TLBI covers every ASID). Nothing is cached, and no vCPU may use main's
    mapping yet (v0 left main before the TLBI, v1 never ran), so only main's mapping tells A
    from B. v1's bring-up enters main and its fetch of 0x1000 translates to 0xa000 in A and
    faults in B: the keys must differ."""
    ex = _explorer("linux-arm64-smp")
    switches = ["v0 switch as1, ASID 1", "v0 switch as2, rollover, ASID 0"]
    a = ["run v0 on 0", "v0 map 0x1000 0xa000", *switches]
    b = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 unmap 0x1000", *switches]
    assert _key(ex, a) != _key(ex, b)


# ---- TLB entries: who filled them --------------------------------------------------------------


def test_who_filled_a_tlb_entry_is_in_the_key() -> None:
    """Linux AArch32, ``none``: v1 runs on pCPU 0 and v0 waits; pCPU 0's TLB holds the entry
    for 0x1000 (to 0xa000) that v1 filled (A: v1 mapped it and wrote code there, which
    translates the VA) or that v0 filled before v1 came (B). Renaming the vCPUs cannot match
    them: in A the running vCPU filled the entry, in B the waiting one. Which vCPU filled an
    entry decides how the oracle judges a later use of it (SPEC §5: whether the filler's own
    covering instructions came after the fill, and whose legal outputs the use is held to),
    so the keys must differ."""
    ex = _explorer("linux-arm32-smp")
    a = ["run v0 on 0", "run v1 on 0", "v1 map 0x1000 0xa000", "v1 write-code 0x1000"]
    b = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 write-code 0x1000", "run v1 on 0"]
    assert _key(ex, a) != _key(ex, b)


# ---- I-cache lines and predictions: ages, not versions ----------------------------------------


def test_a_line_fetched_after_a_code_write_is_as_fresh_as_one_fetched_before_any() -> None:
    """Linux AArch32, ``none``: v0 maps 0x1000 and fetches it (A), or maps it, writes code
    there (the code's version moves on; its ICIMVAU and BPIALLIS leave nothing cached) and then
    fetches it (B). Either way pCPU 0 holds an I-cache line and a prediction of the current
    code: age 0, the only thing the oracle compares (SPEC §5: a line is stale by how many
    writes it missed). Equal keys."""
    ex = _explorer("linux-arm32-smp")
    a = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000"]
    b = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 write-code 0x1000", "v0 fetch 0x1000"]
    assert _key(ex, a) == _key(ex, b)


# ---- more states equal under a renaming ----------------------------------------------------------

FILL = ["v0 map 0x1000 0xa000", "v0 fetch 0x1000"]
FILL_V1 = ["v1 map 0x1000 0xa000", "v1 fetch 0x1000"]

RENAMED = {
    # the same vCPU's work done by the other one (its entry, line and prediction on pCPU 0,
    # tagged with main's ASID 0): v0 <-> v1
    "linux-arm32: v0 or v1 fills pCPU 0": (
        "linux-arm32-smp",
        ["run v0 on 0", *FILL],
        ["run v1 on 0", *FILL_V1],
    ),
    # per-CPU tables: what each table maps, and the table a TLB entry came from, are renamed
    # with their vCPU (main <-> cpu1)
    "percpu: v0 maps in main or v1 in cpu1": (
        PERCPU,
        ["run v0 on 0", "v0 map 0x1000 0xa000"],
        ["run v1 on 0", "v1 map 0x1000 0xa000"],
    ),
    "percpu: v0 fills pCPU 0 from main or v1 from cpu1": (
        PERCPU,
        ["run v0 on 0", *FILL],
        ["run v1 on 0", *FILL_V1],
    ),
    # both vCPUs run; the one on pCPU 0 maps the shared VA: v0 <-> v1 with pCPU 0 <-> 1
    "linux-arm64: the vCPU on the other pCPU maps": (
        "linux-arm64-smp",
        ["run v0 on 0", "run v1 on 1", "v0 map 0x1000 0xa000"],
        ["run v0 on 1", "run v1 on 0", "v1 map 0x1000 0xa000"],
    ),
    # v0 visited as1 or as2 (each with the free ASID 1) and came back to main: as1 <-> as2
    "linux-arm64: a visit to as1 or as2": (
        "linux-arm64-smp",
        ["run v0 on 0", "v0 switch as1, ASID 1", "v0 switch main"],
        ["run v0 on 0", "v0 switch as2, ASID 1", "v0 switch main"],
    ),
    # as test_renaming_the_processes_and_their_asids_gives_the_same_key, with an entry on
    # pCPU 0 tagged with main's ASID (0 in A, 1 in B): as1 <-> as2 and ASIDs 0 <-> 1
    "linux-arm64: processes and ASIDs swapped, an entry tagged": (
        "linux-arm64-smp",
        ["run v0 on 0", "run v1 on 1", "v0 switch as1, ASID 1", "v0 switch main", *FILL],
        [*ROLLED_BACK_TO_MAIN, *FILL],
    ),
}


@pytest.mark.parametrize(("kind", "a", "b"), RENAMED.values(), ids=RENAMED.keys())
def test_states_equal_under_a_renaming_have_equal_keys(
    kind: str, a: list[str], b: list[str]
) -> None:
    """Each pair is one state under the renaming its comment names (``none``: the policy
    compares no index; the guest's vCPUs, its interchangeable processes and its ASID numbers
    behave alike under a permutation), so the keys are equal."""
    ex = _explorer(kind)
    assert _key(ex, a) == _key(ex, b)


# ---- the load history, for a policy that reads it ------------------------------------------------


class _ReadsHistory(Policy):
    """A plug-in that reads the engine's load history (``load_history`` left True): flush the
    VMID's TLB and the I-cache when the vCPU last ran on another pCPU, or another vCPU of its
    VM ran here last (flush-on-arrival's rule, from ``VcpuLoad`` rather than its own state)."""

    name = "reads-history"
    summary = "flush on a move or when another vCPU ran here last"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        moved = load.last_pcpu is not None and load.last_pcpu != load.pcpu
        other = load.last_vcpu_here is not None and load.last_vcpu_here != load.vcpu.vcpu
        return flush_tlb_ic(load.vcpu.arch) if moved or other else ()


def test_where_a_waiting_vcpu_ran_last_is_in_the_key() -> None:
    """Per-CPU tables under ``_ReadsHistory``: v1 runs on pCPU 0 after a visit to pCPU 1, so
    both pCPUs last ran v1; v0 waits, having last run on pCPU 0 (A) or pCPU 1 (B). No renaming
    maps one to the other (v1 runs on pCPU 0 in both). "run v0 on 0" is a return in A and a
    move in B, which the policy flushes for: the keys must differ."""
    ex = _explorer(PERCPU, _ReadsHistory())
    a = ["run v0 on 0", "run v1 on 1", "run v1 on 0"]
    b = ["run v0 on 1", "run v1 on 1", "run v1 on 0"]
    assert _key(ex, a) != _key(ex, b)


def test_what_an_idle_pcpu_ran_last_is_in_the_key() -> None:
    """Per-CPU tables under ``_ReadsHistory``: v1 runs on pCPU 0 and v0 waits, having last run
    there; pCPU 1 never ran a vCPU (A) or last ran v1 (B). "run v0 on 1" then meets an empty
    slot in A and v1's in B, which the policy flushes for: the keys must differ (and "never
    ran one" must not read as any vCPU)."""
    ex = _explorer(PERCPU, _ReadsHistory())
    a = ["run v0 on 0", "run v1 on 0"]
    b = ["run v0 on 0", "run v1 on 1", "run v1 on 0"]
    assert _key(ex, a) != _key(ex, b)


def test_the_load_history_is_renamed_with_the_pcpus_and_left_out_when_unread() -> None:
    """v0 loaded on pCPU 0, or on pCPU 1: one state under pCPU 0 <-> 1, the history included
    (the other pCPU never ran a vCPU in both), so equal keys under ``_ReadsHistory``. Under
    ``none``, which reads no history, v0 having moved from pCPU 0 to 1 is the same state as v0
    loaded on pCPU 1 alone (what pCPU 0 ran last decides nothing): equal keys too."""
    ex = _explorer(PERCPU, _ReadsHistory())
    assert _key(ex, ["run v0 on 0"]) == _key(ex, ["run v0 on 1"])
    ex = _explorer(PERCPU)
    assert _key(ex, ["run v0 on 0", "run v0 on 1"]) == _key(ex, ["run v0 on 1"])


# ---- what a destroyed VM left behind (``check --vms 2``) -------------------------------------------

DESTROY = "destroy VM g, create VM h on its VMID"


class _ReusesUnflushed(Policy):
    """No FB, no flush at a load, and a freed VMID handed to the next VM with nothing
    executed in between (``on_vmid_reuse`` returns no operation)."""

    name = "reuses-unflushed"
    summary = "VMIDs reused without a flush"
    load_history = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()

    def on_vmid_reuse(self, vmid: int) -> Sequence[HypOp] | None:
        return ()


def test_an_entry_a_destroyed_vm_left_is_in_the_key() -> None:
    """Linux AArch64 with two VMs in turn on one VMID, reused unflushed: g maps 0x1000 and
    fetches it on pCPU 0 (A: its entry stays in pCPU 0's TLB) or only maps it (B), then is
    destroyed and h created. h's first load on pCPU 0 and a fetch of 0x1000 there hit g's
    entry in A (the new VM uses the dead one's translation: a violation) and fault in B, so
    the keys must differ."""
    ex = _explorer("linux-arm64-smp", _ReusesUnflushed(), vms2=True)
    a = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000", DESTROY]
    b = ["run v0 on 0", "v0 map 0x1000 0xa000", DESTROY]
    assert _key(ex, a) != _key(ex, b)


@pytest.mark.parametrize("kind", ["linux-arm64-smp", "linux-arm32-smp"])
def test_a_destroyed_vms_entry_is_renamed_with_nobody(kind: str) -> None:
    """As above (A): g's entry (and, AArch32, its prediction) on pCPU 0, then h's v0 or h's v1
    loaded on pCPU 1. The two are one state under v0 <-> v1: what the dead VM left belongs to
    no vCPU of h, so the renaming leaves it as it is. Equal keys."""
    ex = _explorer(kind, _ReusesUnflushed(), vms2=True)
    a = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000", DESTROY]
    assert _key(ex, [*a, "run v0 on 1"]) == _key(ex, [*a, "run v1 on 1"])


def test_an_icache_line_is_in_the_key() -> None:
    """Per-CPU tables, ``none``: v0 maps 0x1000 and fetches it (A: a TLB entry and an I-cache
    line on pCPU 0) or writes code there (B: the write translates, filling the same entry, and
    its local IC IALLU leaves no line). If v0 then moves to pCPU 1, writes the code again and
    comes back to fetch on pCPU 0, A's line is one write old (the IC IALLU was local to pCPU
    1): a stale fetch in A only. The keys must differ."""
    ex = _explorer(PERCPU)
    a = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000"]
    b = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 write-code 0x1000"]
    assert _key(ex, a) != _key(ex, b)


def test_a_stale_icache_line_is_in_the_key() -> None:
    """Per-CPU tables, ``none``: v0 fetches 0x1000 on pCPU 0 or not, then moves to pCPU 1 and
    writes the code there (its IC IALLU is local). With the fetch, pCPU 0 keeps a line one
    write old, which v0 may no longer use (its IC IALLU came after the write) and v1 may (it
    executed none): a fetch by v0 back on pCPU 0 is stale. The keys must differ."""
    ex = _explorer(PERCPU)
    tail = ["run v0 on 1", "v0 write-code 0x1000"]
    a = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000", *tail]
    b = ["run v0 on 0", "v0 map 0x1000 0xa000", *tail]
    assert _key(ex, a) != _key(ex, b)


def test_one_explorer_keys_a_state_as_a_fresh_one_does() -> None:
    """Per-CPU tables, ``none``: v1's bring-up on pCPU 1 before or after v0 maps 0x1000 in
    main gives one state (v1 never had main, v0 never had cpu1). Both grown, as the search
    grows states, from copies of the state after "run v0 on 0" (sharing its records), and keyed
    by one explorer in turn (its memos then hold the first's facts): the second gets the key a
    fresh explorer gives it, and both keys are equal."""
    ex = _explorer(PERCPU)
    root = _state(ex, ["run v0 on 0"])

    def grow(labels: list[str]) -> tuple[Engine, Oracle, GuestState]:
        engine, oracle = copy_state(root[0], root[1])
        g = root[2]
        for label in labels:
            op = next(o for o in ex.successors(engine, g) if o.label == label)
            engine.apply(op.events)
            g = op.state
        return engine, oracle, g

    a = grow(["run v1 on 1", "v0 map 0x1000 0xa000"])
    b = grow(["v0 map 0x1000 0xa000", "run v1 on 1"])
    ka, kb = ex.key(*a), ex.key(*b)
    assert kb == _explorer(PERCPU).key(*b) and ka == kb


def test_a_page_mapped_and_unmapped_with_nothing_cached_leaves_nothing() -> None:
    """Linux AArch64, ``none``: v0 maps 0x1000 and unmaps it before anything used it (its
    TLBI leaves nothing to remove), or does neither. Maps take fresh PAs, so the unmapped one
    can never be reached again, and an AArch64 guest trains no prediction the key must
    follow: one state, equal keys."""
    ex = _explorer("linux-arm64-smp")
    assert _key(ex, ["run v0 on 0"]) == _key(
        ex, ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 unmap 0x1000"]
    )
