"""Exact mode's DVM pricing: each step's broadcasts through the shared DVM model (``dvm.py``).

Before a step's guest maintenance runs, its Poisson draws say how many broadcasts each pCPU
issues in the step - under the policy (FB upgrades, trapped instructions emulated as IS) and as
the guests wrote them (the bare-metal baseline). ``dvm.step_issue`` prices one broadcast per
pCPU under each load; ``issue_cost`` charges an instruction at its pCPU's price, and
``dvm_stall`` charges the receivers a broadcast reaches (``dvm_scope``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..arch.ops import HypOp, MaintenanceOp, Scope, Structure, effective, op
from ..hyp.state import PolicyState
from .dvm import MESSAGES, filterable, instruction_cycles, step_issue

if TYPE_CHECKING:
    from .exact import _Run


def receivers(run: _Run, p: int, vmid: int, o: MaintenanceOp | HypOp) -> int:
    """Busy PEs other than ``p`` that a broadcast of ``o`` reaches (``dvm_scope``): every
    one; those of ``p``'s socket; or (a VMID snoop filter, TLB maintenance) those the VMID
    ran on since the run began. Busy as ``_Run.busy_others`` counts them: at a load, the PEs
    that run a vCPU in the step (not only those already reloaded at a timeslice end)."""
    plat = run.plat
    if plat.dvm_scope == "socket":
        mine = plat.socket_of(p)
        return sum(
            1 for q in range(run.pcpus) if q != p and run.is_busy(q) and plat.socket_of(q) == mine
        )
    if plat.dvm_scope == "filtered" and filterable(o):
        ran = run.ran.get(vmid, set())
        return sum(1 for q in ran if q != p and run.is_busy(q))
    return run.busy_others(p)


def dvm_stall(run: _Run, p: int, vmid: int, o: MaintenanceOp | HypOp) -> None:
    """Charge the stalls of one broadcast of ``o`` (an operation and a Sync) on its receivers."""
    stall = MESSAGES * receivers(run, p, vmid, o) * run.plat.dvm_receive_cycles
    run.add("dvm-others", stall, others=True)


def issue_cost(run: _Run, o: MaintenanceOp | HypOp, p: int, native: bool = False) -> float:
    """``o``'s cost to its issuer on ``p`` in this step (``native``: under the baseline's load)."""
    costs = run.native_bcast if native else run.bcast
    return instruction_cycles(run.plat, o, float(costs[p]) if costs.size else 0.0)


def broadcasts(run: _Run, vi: int, name: str) -> tuple[int, int]:
    """(broadcasts under the policy, broadcasts as written) of one guest instruction of vCPU
    ``vi``; cached per (vCPU, instruction)."""
    key = (vi, name)
    got = run.physical_bcasts.get(key)
    if got is None:
        info = run.vcpus[vi].info
        o = op(info.arch, name)
        hcr = run.policy.hcr(info)
        if hcr.ttlb and o.ttlb_traps:
            acts = PolicyState().trap(run.policy, info, 0, o)  # the initial state
            pol = sum(1 for a in acts if a.scope is Scope.IS)
        else:
            pol = int(effective(o, hcr.fb, run.plat.bp).scope is Scope.IS)
        got = (pol, int(o.scope is Scope.IS))
        if o.structure is Structure.BP and not run.plat.bp_visible:
            got = (0, 0)  # a NOP: no DVM message
        run.physical_bcasts[key] = got
    return got


def price_step(run: _Run, counts: np.ndarray, native: np.ndarray, dt: float) -> None:
    """Price this step's broadcasts: ``counts[p]`` under the policy, ``native[p]`` as written."""
    plat = run.plat
    if run.sockets.size != run.pcpus:
        run.sockets = np.array([plat.socket_of(p) for p in range(run.pcpus)], np.int64)
    span = 1 if plat.dvm_scope == "socket" else plat.is_sockets(run.pcpus)
    interval = dt * plat.clock_ghz * 1e9
    run.bcast = step_issue(plat, counts, run.sockets, interval, span)
    run.native_bcast = step_issue(plat, native, run.sockets, interval, span)


def price_draws(
    run: _Run,
    active: list[tuple[int, int]],
    draws: np.ndarray,
    ops: list[list[tuple[str, str, float]]],
    dt: float,
) -> None:
    """Count the step's broadcasts per pCPU from its draws (one per running vCPU and
    instruction, in ``active`` order) and price them (``price_step``)."""
    counts = np.zeros(run.pcpus, dtype=np.int64)
    native = np.zeros(run.pcpus, dtype=np.int64)
    k = 0
    for p, vi in active:
        for _, name, _ in ops[run.vcpus[vi].group]:
            n = int(draws[k])
            k += 1
            if n:
                pol, nat = broadcasts(run, vi, name)
                counts[p] += n * pol
                native[p] += n * nat
    price_step(run, counts, native, dt)
