"""The policy state store (hyp/state.py): what a load or a trap shows a policy, what it keeps,
the (scope, domain, pCPU, vCPU, value) form the checker's key reads, and forgetting a VM.

Rules (the module's docstring): a slot holding its initial value is not stored (so equal stores
mean equal states); ``KEEP`` leaves a slot alone; the vCPU and pCPU a policy sees are
``VcpuId`` / ``PcpuId`` (the checker renames those); a policy's state must be hashable.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import pytest

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HYP_OPS, Arch, HypOp, MaintenanceOp, op
from vtlbsim.hyp.policy import (
    KEEP,
    Decision,
    HypAction,
    PcpuId,
    Policy,
    PolicyView,
    TrappedOp,
    VcpuId,
    VcpuInfo,
    VcpuLoad,
)
from vtlbsim.hyp.state import PolicyState

G0 = VcpuInfo("g", 0, 1, Arch.AARCH64, 2)
G1 = VcpuInfo("g", 1, 1, Arch.AARCH64, 2)
H0 = VcpuInfo("h", 0, 2, Arch.AARCH64, 1)


class Scripted(Policy):
    """Returns the decision it is handed next, and records what each call saw."""

    name = "scripted"
    summary = "test double"
    initial_vm = "vm0"
    initial_vm_pcpu = "slot0"
    initial_pcpu = "p0"
    initial_vcpu = "v0"

    def __init__(self) -> None:
        self.next: Sequence[HypAction] | Decision = ()
        self.loads: list[VcpuLoad] = []
        self.traps: list[TrappedOp] = []

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return Hcr()

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp] | Decision:
        self.loads.append(load)
        return self.next  # type: ignore[return-value]

    def on_trap(self, trap: TrappedOp) -> Sequence[HypAction] | Decision:
        self.traps.append(trap)
        return self.next


def test_an_empty_store_shows_the_initial_values() -> None:
    """Of each policy class, the first one asked (a class defined here, so no earlier test has
    shown its initial values yet) and the same class again."""

    class Fresh(Scripted):
        initial_vm = "vmF"
        initial_vm_pcpu = "slotF"
        initial_pcpu = "pF"
        initial_vcpu = "vF"

    st = PolicyState()
    assert not st
    for _ in range(2):
        assert st.view(Fresh(), "g", 0, 0) == PolicyView("vmF", "slotF", "pF", "vF")
        assert st.view(Scripted(), "g", 0, 0) == PolicyView("vm0", "slot0", "p0", "v0")
    assert list(st.entries()) == []


def test_a_load_shows_the_history_as_vcpu_and_pcpu_ids_and_keeps_the_decision() -> None:
    """g.1 loaded on pCPU 3, last on pCPU 2, g.0 last here: the policy sees PcpuId(3),
    PcpuId(2), VcpuId(0); a decision setting all four scopes is stored under (g), (g, 3), (3)
    and (g, 1); the flushes are returned as a tuple."""
    pol, st = Scripted(), PolicyState()
    pol.next = Decision((HYP_OPS["vmalle1"],), "vmX", "slotX", "pX", "vX")
    ops = st.load(pol, G1, 3, 2, 0)
    assert ops == (HYP_OPS["vmalle1"],)
    seen = pol.loads[-1]
    assert seen.vcpu is G1
    assert (seen.pcpu, seen.last_pcpu, seen.last_vcpu_here) == (3, 2, 0)
    assert type(seen.pcpu) is PcpuId and type(seen.last_pcpu) is PcpuId
    assert type(seen.last_vcpu_here) is VcpuId
    assert seen.state == PolicyView("vm0", "slot0", "p0", "v0")
    assert st
    assert sorted(st.entries(), key=str) == sorted(
        [
            ("vm", "g", -1, -1, "vmX"),
            ("vm_pcpu", "g", 3, -1, "slotX"),
            ("pcpu", "", 3, -1, "pX"),
            ("vcpu", "g", -1, 1, "vX"),
        ],
        key=str,
    )
    # what later loads see: the VM and pCPU values are shared, the slot and vCPU ones are not
    assert st.view(pol, "g", 1, 3) == PolicyView("vmX", "slotX", "pX", "vX")
    assert st.view(pol, "g", 0, 3) == PolicyView("vmX", "slotX", "pX", "v0")
    assert st.view(pol, "g", 1, 2) == PolicyView("vmX", "slot0", "p0", "vX")
    assert st.view(pol, "h", 1, 3) == PolicyView("vm0", "slot0", "pX", "v0")


def test_a_first_load_has_no_history() -> None:
    pol, st = Scripted(), PolicyState()
    st.load(pol, G0, 0, None, None)
    seen = pol.loads[-1]
    assert seen.last_pcpu is None and seen.last_vcpu_here is None
    assert seen.pcpu == 0 and type(seen.vcpu.vcpu) is int


def test_keep_and_initial_values_are_not_stored() -> None:
    """KEEP leaves a slot as it is; writing a slot's initial value removes it (equal stores,
    equal states), but a value equal to the initial one of another type is stored."""
    pol, st = Scripted(), PolicyState()
    pol.next = Decision((), vm="vmX", vcpu="vX")
    st.load(pol, G0, 0, None, None)
    pol.next = Decision((), vm=KEEP, vcpu="v0")  # back to the initial value
    st.load(pol, G0, 0, None, None)
    assert list(st.entries()) == [("vm", "g", -1, -1, "vmX")]
    pol.next = Decision((), vm="vm0")
    st.load(pol, G0, 0, None, None)
    assert not st and list(st.entries()) == []

    class IntSlots(Scripted):
        initial_pcpu = 0

    ip = IntSlots()
    ip.next = Decision((), pcpu=False)  # False == 0, but not the initial value's type
    st.load(ip, G0, 5, None, None)
    assert list(st.entries()) == [("pcpu", "", 5, -1, False)]
    ip.next = Decision((), pcpu=0)
    st.load(ip, G0, 5, None, None)
    assert list(st.entries()) == []
    # every scope written with its initial value, in an empty store: still empty
    pol.next = Decision((), "vm0", "slot0", "p0", "v0")
    st.load(pol, G1, 2, None, None)
    assert list(st.entries()) == []
    # and after each scope held another value
    pol.next = Decision((), "vmX", "slotX", "pX", "vX")
    st.load(pol, G1, 2, None, None)
    assert len(list(st.entries())) == 4
    pol.next = Decision((), "vm0", "slot0", "p0", "v0")
    st.load(pol, G1, 2, None, None)
    assert list(st.entries()) == []


def test_a_plain_sequence_changes_nothing() -> None:
    pol, st = Scripted(), PolicyState()
    pol.next = [HYP_OPS["iallu"]]
    assert st.load(pol, G0, 0, None, None) == (HYP_OPS["iallu"],)
    assert not st


def test_on_load_must_return_hypervisor_flushes() -> None:
    """A guest instruction among a load's flushes is refused, naming the policy."""
    pol, st = Scripted(), PolicyState()
    vale1 = op(Arch.AARCH64, "vale1")
    pol.next = (HYP_OPS["iallu"], vale1)
    with pytest.raises(TypeError) as e:
        st.load(pol, G0, 0, None, None)
    assert str(e.value).startswith("policy 'scripted': on_load returned MaintenanceOp(")
    assert str(e.value).endswith(", not a HypOp")


def test_a_trap_shows_the_state_and_keeps_the_decision() -> None:
    pol, st = Scripted(), PolicyState()
    st.pcpu[1] = "pY"
    st.vcpu[("g", 1)] = "vY"
    vale1: MaintenanceOp = op(Arch.AARCH64, "vale1")
    pol.next = Decision((vale1, HYP_OPS["iallu"]), vm_pcpu="slotT", vcpu="vT")
    out = st.trap(pol, G1, 1, vale1)
    assert out == (vale1, HYP_OPS["iallu"])
    seen = pol.traps[-1]
    assert seen.vcpu is G1 and seen.op is vale1
    assert seen.pcpu == 1 and type(seen.pcpu) is PcpuId
    assert seen.state == PolicyView("vm0", "slot0", "pY", "vY")
    assert st.vm_pcpu == {("g", 1): "slotT"}
    assert st.vcpu == {("g", 1): "vT"}  # the trapping vCPU's own slot


def test_forget_vm_drops_its_vm_slot_and_vcpu_values_only() -> None:
    st = PolicyState()
    st.vm.update({"g": 1, "h": 2})
    st.vm_pcpu.update({("g", 0): 1, ("g", 1): 1, ("h", 0): 2})
    st.pcpu.update({0: 1})
    st.vcpu.update({("g", 0): 1, ("g", 1): 1, ("h", 0): 2})
    st.forget_vm("g")
    assert st.vm == {"h": 2}
    assert st.vm_pcpu == {("h", 0): 2}
    assert st.pcpu == {0: 1}
    assert st.vcpu == {("h", 0): 2}
    st.forget_vm("nobody")  # a VM the store never saw
    assert st.vm == {"h": 2}


def test_copy_is_independent_in_every_scope() -> None:
    st = PolicyState()
    st.vm["g"] = 1
    st.vm_pcpu[("g", 0)] = 1
    st.pcpu[0] = 1
    st.vcpu[("g", 0)] = 1
    c = st.copy()
    assert list(c.entries()) == list(st.entries())
    c.vm["h"] = 2
    c.vm_pcpu[("h", 0)] = 2
    c.pcpu[1] = 2
    c.vcpu[("h", 0)] = 2
    assert list(st.entries()) == [
        ("vm", "g", -1, -1, 1),
        ("vm_pcpu", "g", 0, -1, 1),
        ("pcpu", "", 0, -1, 1),
        ("vcpu", "g", -1, 0, 1),
    ]


@pytest.mark.parametrize("scope", ["vm", "vm_pcpu", "pcpu", "vcpu"])
def test_any_one_scope_makes_the_store_non_empty(scope: str) -> None:
    st = PolicyState()
    key: Hashable = {"vm": "g", "vm_pcpu": ("g", 0), "pcpu": 0, "vcpu": ("g", 0)}[scope]
    getattr(st, scope)[key] = 1
    assert st
    # and a non-empty store still shows the initial values of the slots it does not hold
    pol = Scripted()
    view = st.view(pol, "h", 1, 1)
    assert view == PolicyView("vm0", "slot0", "p0", "v0")
