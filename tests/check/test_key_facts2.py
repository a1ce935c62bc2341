"""More facts of the canonical key held by hand, as ``test_key_facts.py`` does (pairs of states
built by short explicit paths; keys equal for one state renamed, different where a fact decides
a future): states that are one state renamed where nothing but a plug-in policy's own state
tells which renaming the key takes (the tie between the state as it is and its renaming is
broken late, so a renaming that spells a value differently from the state as it is shows as
two keys for one state); a policy state kept as a plain value of each accepted type; the
maintenance still pending under ``--incomplete``. Written from the survivors of the mutation
run of ``key.py`` and ``keyplan.py`` as restructured for speed (docs/testing.md, "check/key.py
and keyplan.py, as restructured for speed").
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from enum import Enum

import pytest
from test_key_facts import PERCPU, Wrapping, _explorer, _key

from vtlbsim.arch.ops import HypOp
from vtlbsim.hyp.policy import (
    Decision,
    PcpuId,
    VcpuId,
    VcpuLoad,
    flush_tlb_ic,
)


class _FirstLoaded(Wrapping):
    """A plug-in that remembers, in its VM-wide slot, the first load of the VM as
    ``wrap(vCPU, pCPU)`` and never changes it; it executes nothing."""

    name = "first-loaded"
    summary = "remembers the VM's first load"

    def on_load(self, load: VcpuLoad) -> Decision:
        if load.state.vm is not None:
            return Decision()
        return Decision(vm=self.wrap(VcpuId(load.vcpu.vcpu), PcpuId(load.pcpu)))


FIRST = {
    "a tuple": lambda v, p: (v, p),
    "a frozenset": lambda v, p: frozenset({(v, p)}),
    "a pCPU": lambda v, p: p,
}


@pytest.mark.parametrize("wrap", FIRST.values(), ids=FIRST.keys())
def test_a_symmetric_machine_renamed_only_in_the_policy_state_has_one_key(
    wrap: Callable[[VcpuId, PcpuId], Hashable],
) -> None:
    """Per-CPU tables: v0 runs on pCPU 0 and v1 on pCPU 1 (each on its own table, nothing
    mapped), loaded v0 first (A: the slot holds v0 and pCPU 0) or v1 first (B: v1 and pCPU 1).
    The renaming v0 <-> v1, pCPU 0 <-> 1 (main <-> cpu1) maps every machine fact of A onto
    itself and A's slot onto B's: one state, so equal keys. (Every other fact being the same
    under that renaming, only the slot's value decides which of A's two spellings is the
    smaller, so the renamed value must be spelled as the value itself is.)"""
    ex = _explorer(PERCPU, _FirstLoaded(wrap))
    assert _key(ex, ["run v0 on 0", "run v1 on 1"]) == _key(ex, ["run v1 on 1", "run v0 on 0"])


class Parity(Enum):
    EVEN = 0
    ODD = 1


PARITIES: dict[str, Callable[[int], Hashable]] = {
    "a bool": lambda n: n % 2 == 1,
    "an int": lambda n: n % 2,
    "a str": lambda n: "odd" if n % 2 else "even",
    "a float": lambda n: float(n % 2),
    "an enum": lambda n: Parity(n % 2),
}


class _EveryOtherLoad(Wrapping):
    """A plug-in that counts the VM's loads modulo 2 in its VM-wide slot (``wrap(1)`` after an
    odd number, ``wrap(0)`` after an even one; nothing before the first) and runs the local
    flush (``flush_tlb_ic``) at every second load."""

    name = "every-other-load"
    summary = "flush at every second load"

    def on_load(self, load: VcpuLoad) -> Decision:
        odd = load.state.vm == self.wrap(1)
        ops: Sequence[HypOp] = flush_tlb_ic(load.vcpu.arch) if odd else ()
        return Decision(tuple(ops), vm=self.wrap(0 if odd else 1))


@pytest.mark.parametrize("wrap", PARITIES.values(), ids=PARITIES.keys())
def test_a_plain_value_of_the_policy_state_is_in_the_key(wrap: Callable[[int], Hashable]) -> None:
    """Per-CPU tables under ``_EveryOtherLoad``: v0 loaded once, on pCPU 0 (A: the slot says
    odd), or on pCPU 1 and then pCPU 0 (B: even; the second load flushed pCPU 0, which held
    nothing). Nothing was mapped and the policy reads no load history, so only the slot tells
    A from B. After "v0 map 0x1000 0xa000", "v0 fetch 0x1000" (an entry on pCPU 0), "run v0
    on 1" and "run v0 on 0", the flush falls on pCPU 1 in A and on pCPU 0 in B, so pCPU 0
    still holds the entry in A only: different futures, the keys must differ, whatever type
    the parity is kept as (bool, int, str, float or an enum, all accepted by the checker)."""
    ex = _explorer(PERCPU, _EveryOtherLoad(wrap))
    assert _key(ex, ["run v0 on 0"]) != _key(ex, ["run v0 on 1", "run v0 on 0"])


def test_maintenance_pending_until_its_dsb_is_in_the_key() -> None:
    """Linux AArch64 under ``--incomplete``: both vCPUs run on main, v0 maps 0x1000 (nothing
    fetched, so no TLB holds it) and unmaps it: its TLBI VALE1IS has taken effect on pCPU 0,
    is pending on pCPU 1 (which holds nothing) and is not yet reported to the oracle (A); or
    v0 has also run its DSB ISH, completing and reporting it (B). The PA is dead in both, so
    no TLB, table or legality fact differs, only what is pending; but v0 owes the DSB in A
    (its only action until then) and not in B (it may fetch, map or switch): different
    futures, the keys must differ."""
    ex = _explorer("linux-arm64-smp", incomplete=True)
    a = ["run v0 on 0", "run v1 on 1", "v0 map 0x1000 0xa000", "v0 unmap 0x1000"]
    assert _key(ex, a) != _key(ex, [*a, "v0 dsb ish"])
