"""The policy's state store: one value per VM, per (VM, pCPU) slot, per pCPU and per vCPU.

Whoever runs a policy (the engine, exact mode, the analytic model's load situations) asks it
through ``PolicyState.load`` and ``PolicyState.trap``: they show the policy the values its
load or trap concerns and keep the ones it returns, so every user of a policy sees the same
state rules. A slot holding its initial value is not stored, so a stateless policy leaves the
store empty and two stores with equal contents mean equal states.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from typing import TypeVar

from ..arch.ops import HypOp, MaintenanceOp
from .policy import (
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

VmKey = str
"""A VM, by domain name."""
SlotKey = tuple[str, int]
"""A VM's slot for a pCPU: (domain name, pCPU)."""
VcpuKey = tuple[str, int]
"""A vCPU: (domain name, vCPU index)."""
_K = TypeVar("_K", bound=Hashable)


class PolicyState:
    """The values a policy has changed from its initial ones, by scope."""

    __slots__ = ("vm", "vm_pcpu", "pcpu", "vcpu")

    def __init__(self) -> None:
        self.vm: dict[VmKey, Hashable] = {}
        self.vm_pcpu: dict[SlotKey, Hashable] = {}
        self.pcpu: dict[int, Hashable] = {}
        self.vcpu: dict[VcpuKey, Hashable] = {}

    def copy(self) -> PolicyState:
        c = PolicyState.__new__(PolicyState)
        c.vm = self.vm.copy()
        c.vm_pcpu = self.vm_pcpu.copy()
        c.pcpu = self.pcpu.copy()
        c.vcpu = self.vcpu.copy()
        return c

    def __bool__(self) -> bool:
        return bool(self.vm or self.vm_pcpu or self.pcpu or self.vcpu)

    def view(self, policy: Policy, domain: str, vcpu: int, pcpu: int) -> PolicyView:
        """What a load of ``domain.vcpu`` on ``pcpu`` (or a trap there) shows the policy."""
        if not self:
            return _initial_view(policy)
        return PolicyView(
            self.vm.get(domain, policy.initial_vm),
            self.vm_pcpu.get((domain, pcpu), policy.initial_vm_pcpu),
            self.pcpu.get(pcpu, policy.initial_pcpu),
            self.vcpu.get((domain, vcpu), policy.initial_vcpu),
        )

    def keep(
        self,
        policy: Policy,
        domain: str,
        vcpu: int,
        pcpu: int,
        out: Sequence[HypAction] | Decision,
    ) -> tuple[HypAction, ...]:
        """Store the slots a decision changes; the operations it asks for."""
        if not isinstance(out, Decision):
            return tuple(out)
        _put(self.vm, domain, out.vm, policy.initial_vm)
        _put(self.vm_pcpu, (domain, pcpu), out.vm_pcpu, policy.initial_vm_pcpu)
        _put(self.pcpu, pcpu, out.pcpu, policy.initial_pcpu)
        _put(self.vcpu, (domain, vcpu), out.vcpu, policy.initial_vcpu)
        return tuple(out.ops)

    def load(
        self,
        policy: Policy,
        info: VcpuInfo,
        pcpu: int,
        last_pcpu: int | None,
        last_vcpu_here: int | None,
    ) -> tuple[HypOp, ...]:
        """Ask ``policy`` about a load of ``info`` on ``pcpu``; keep its new state; the flushes."""
        v = VcpuId(info.vcpu)
        load = VcpuLoad(
            info,
            PcpuId(pcpu),
            None if last_pcpu is None else PcpuId(last_pcpu),
            None if last_vcpu_here is None else VcpuId(last_vcpu_here),
            self.view(policy, info.domain, v, pcpu),
        )
        ops = self.keep(policy, info.domain, v, pcpu, policy.on_load(load))
        for op in ops:
            if not isinstance(op, HypOp):
                raise TypeError(f"policy {policy.name!r}: on_load returned {op!r}, not a HypOp")
        return ops  # type: ignore[return-value]  # checked above

    def trap(
        self, policy: Policy, info: VcpuInfo, pcpu: int, op: MaintenanceOp
    ) -> tuple[HypAction, ...]:
        """Ask ``policy`` what to execute for a trapped ``op``; keep its new state."""
        v = VcpuId(info.vcpu)
        trapped = TrappedOp(info, PcpuId(pcpu), op, self.view(policy, info.domain, v, pcpu))
        return self.keep(policy, info.domain, v, pcpu, policy.on_trap(trapped))

    def forget_vm(self, domain: str) -> None:
        """The VM is destroyed: its own, its slots' and its vCPUs' state go (pCPUs keep theirs)."""
        self.vm.pop(domain, None)
        for k in [k for k in self.vm_pcpu if k[0] == domain]:
            del self.vm_pcpu[k]
        for k in [k for k in self.vcpu if k[0] == domain]:
            del self.vcpu[k]

    def entries(self) -> Iterator[tuple[str, str, int, int, Hashable]]:
        """Every stored value as (scope, domain, pCPU, vCPU, value); "" and -1 where the scope
        has no such index."""
        for d, value in self.vm.items():
            yield "vm", d, -1, -1, value
        for (d, p), value in self.vm_pcpu.items():
            yield "vm_pcpu", d, p, -1, value
        for p, value in self.pcpu.items():
            yield "pcpu", "", p, -1, value
        for (d, v), value in self.vcpu.items():
            yield "vcpu", d, -1, v, value


_VIEWS: dict[type[Policy], PolicyView] = {}


def _initial_view(policy: Policy) -> PolicyView:
    cls = type(policy)
    v = _VIEWS.get(cls)
    if v is None:
        v = _VIEWS[cls] = PolicyView(
            policy.initial_vm, policy.initial_vm_pcpu, policy.initial_pcpu, policy.initial_vcpu
        )
    return v


def _put(store: dict[_K, Hashable], key: _K, value: Hashable, initial: Hashable) -> None:
    if value is KEEP:
        return
    hash(value)  # a policy's state must be hashable: fail here, not in the checker
    if value == initial and type(value) is type(initial):
        store.pop(key, None)
    else:
        store[key] = value
