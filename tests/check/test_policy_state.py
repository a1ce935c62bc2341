"""Policies with state of their own (issue 12): the store, the checker's key, the cost model's
load situations, and a user's stateful plug-in found unsafe through the CLI.

Every expectation below is argued by hand in its docstring.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from conftest import CliRun
from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HYP_OPS, Arch, HypOp
from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer, check
from vtlbsim.check.key import _renamed, state_form
from vtlbsim.check.replay import replay
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
from vtlbsim.hyp.scheduler import LoadSituation, situation_flushes
from vtlbsim.hyp.state import PolicyState
from vtlbsim.litmus import load, parse

EXAMPLE_POLICIES = Path(__file__).resolve().parents[2] / "examples" / "policies"
XSA = "xsa_pattern:SkipIfRanHereBefore"
ONE_TABLE_PER_PROCESS = (
    "linux-arm64-smp",
    "linux-arm64-local",
    "linux-arm32-smp",
    "linux-arm32-up",
    "freebsd-arm64-smp",
    "freebsd-armv7-up",
)
"""Kinds with no H2 at the matrix size (one table per process and ASID, or one vCPU): FB+BSU
closes their H1, and the XSA pattern's missing flush matters only for H2."""


@pytest.fixture
def xsa_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example plug-in importable as ``xsa_pattern`` (what PYTHONPATH does for a user)."""
    monkeypatch.syspath_prepend(str(EXAMPLE_POLICIES))
    yield
    sys.modules.pop("xsa_pattern", None)


# ---- the XSA pattern: a user's stateful plug-in ------------------------------------------


def test_xsa_pattern_plugin_is_unsafe_with_the_hand_derived_counterexample(
    xsa_importable: None,
) -> None:
    """``SkipIfRanHereBefore`` sets FB+BSU and flushes a pCPU when a vCPU of the VM that never
    ran there before is loaded on it. FB makes percpu-tables' local VALE1 / IC IALLU broadcast,
    so H1 is closed; H2 is not. v1 hits v0's entry on A only if v1's load on A does not flush,
    i.e. v1 ran on A before; and v0 must fill the entry after that first load of v1 (the first
    load flushes). Shortest: run v1 on A (1), run v0 on A (1), v0 map (1), v0 fetch (1), run v1
    on A (1: it ran there before, no flush), v1 fetch (1) = 6 actions, cross-vcpu-tlb (up to
    the symmetry of v0 and v1). With 5 actions the load of the using vCPU is its first on A,
    which flushes: nothing within 5."""
    r = check("percpu-tables", XSA, depth=8)
    assert not r.safe and len(r.actions) == 6
    assert r.violation is not None and r.violation.category == "cross-vcpu-tlb"
    runs = [a for a in r.actions if a.startswith("run")]
    assert len(runs) == 3 and runs[0] != runs[1] and runs[0] == runs[2]
    assert r.counterexample is not None and r.counterexample.policy == XSA
    sc = parse(r.counterexample.to_litmus(), path="<xsa>")
    out = replay(sc, resolve(sc.policy))
    assert out.outcome == "violation" and out.guest_errors == []
    assert check("percpu-tables", XSA, depth=5).safe


def test_xsa_pattern_is_kvm_with_a_weaker_slot(xsa_importable: None) -> None:
    """KVM's slot holds the *last* vCPU, so v1 coming back to A after v0 flushes: safe where
    the XSA pattern is not."""
    assert check("percpu-tables", "kvm", depth=6).safe


def test_policy_matrix_cli_finds_the_xsa_pattern_unsafe_and_writes_litmus_files(
    cli: CliRun, xsa_importable: None, tmp_path: Path
) -> None:
    """``vtlbsim check --policy mod:Class --matrix``: the plug-in against every guest kind. At
    depth 6 only percpu-tables is unsafe (FB+BSU closes every H1 of the other kinds, which
    share one table per process: no H2), in 6 actions; the folder holds its counterexample,
    which `vtlbsim litmus` replays (exit 0: the file expects a violation)."""
    code, stdout, err = cli(
        ["check", "--policy", XSA, "--matrix", "--depth", "6", "--out", str(tmp_path), "--json"]
    )
    assert code == 1, err
    rows = {r["kind"]: r for r in json.loads(stdout)}
    assert not rows["percpu-tables"]["safe"] and len(rows["percpu-tables"]["actions"]) == 6
    for kind in ONE_TABLE_PER_PROCESS:
        assert rows[kind]["safe"], kind
    ce = tmp_path / "percpu-tables--xsa-pattern.toml"
    assert rows["percpu-tables"]["written_to"] == str(ce)
    assert {f.name for f in tmp_path.iterdir()} == {
        f"{k}--xsa-pattern.toml" for k, r in rows.items() if not r["safe"]
    }
    code, stdout, err = cli(["litmus", str(ce)])
    assert code == 0, err
    assert "violation" in stdout
    assert load(ce).policy == XSA
    code, stdout, err = cli(["check", "--policy", XSA, "--matrix", "--depth", "6"])
    row = next(line for line in stdout.splitlines() if line.startswith("│ xsa-pattern"))
    assert code == 1 and "UNSAFE (6)" in row


def test_guest_matrix_cli_checks_one_kind_against_every_policy(cli: CliRun) -> None:
    """``--guest K --matrix``: linux-arm32-up at depth 7, predictors invisible, is unsafe
    exactly under the policies that leave its local TLB maintenance on pCPU A (none,
    last-vcpu-ran: no flush when the only vCPU comes back), in 7 actions (the H1 minimum,
    test_explore_expectations). trap-ttlb is safe: every TLBI traps and runs IS, new code is
    published with ICIMVAU (by VA to the PoU: every PE of the Inner Shareable domain), and its
    one local I-cache instruction, the ICIALLU of an executable mapping, acts on a fresh page.
    With visible predictors the policies that set FB leave its local BPIALL local
    (tests/check/data/verdicts.toml)."""
    code, stdout, err = cli(
        ["check", "--guest", "linux-arm32-up", "--matrix", "--depth", "7", "--bp-invisible"]
    )
    assert code == 1, err
    unsafe = {
        line.split("│")[1].strip()
        for line in stdout.splitlines()
        if "UNSAFE" in line and line.startswith("│")
    }
    assert unsafe == {"none", "last-vcpu-ran"}
    assert "UNSAFE (7)" in stdout


# ---- a stateless plug-in still works -----------------------------------------------------


class FlushWhenMoved(Policy):
    """The README's example plug-in, verbatim: no state, reads ``load.migrated``."""

    name = "my-flush"
    summary = "flush the VMID and the I-cache when the vCPU changes pCPU"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return flush_tlb_ic(load.vcpu.arch) if load.migrated else ()


def test_a_stateless_plugin_is_checked_as_before() -> None:
    """It is flush-on-migrate written against the engine's history: with one vCPU every return
    to A is a migration, which flushes (safe); with per-CPU tables v1's first load on A after
    v0 is no migration (H2 in 5 actions, as flush-on-migrate)."""
    assert check("linux-arm32-up", FlushWhenMoved(), depth=8).safe
    r = check("percpu-tables", FlushWhenMoved(), depth=6)
    assert not r.safe and len(r.actions) == 5
    assert FlushWhenMoved.load_history  # the engine's history stays in its states' keys


# ---- the store -----------------------------------------------------------------------------


class _Counter(Policy):
    name = "counter"
    summary = "counts loads per VM, per slot, per pCPU and per vCPU"
    initial_vm = 0
    initial_vm_pcpu = 0
    initial_pcpu = 0
    initial_vcpu = 0

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return NO_FLAGS

    def on_load(self, load: VcpuLoad) -> Decision:
        s = load.state
        return Decision((), s.vm + 1, s.vm_pcpu + 1, s.pcpu + 1, s.vcpu + 1)  # type: ignore[operator]


def test_store_scopes_and_forgetting_a_vm() -> None:
    """Two loads of g.0 on pCPU 0 and one of g.1 on pCPU 1, then one of h.0 on pCPU 0: the VM
    counter of g is 3, its slot for pCPU 0 is 2, pCPU 0's counter (shared by VMs) is 3, g.0's
    is 2. Destroying g drops g's VM, slot and vCPU values; pCPU 0 keeps its count."""
    pol, st = _Counter(), PolicyState()
    g0 = VcpuInfo("g", 0, 1, Arch.AARCH64, 2)
    g1 = VcpuInfo("g", 1, 1, Arch.AARCH64, 2)
    h0 = VcpuInfo("h", 0, 2, Arch.AARCH64, 1)
    for info, p in ((g0, 0), (g0, 0), (g1, 1), (h0, 0)):
        st.load(pol, info, p, None, None)
    assert st.view(pol, "g", 0, 0) == type(st.view(pol, "g", 0, 0))(3, 2, 3, 2)
    st.forget_vm("g")
    assert st.view(pol, "g", 0, 0) == type(st.view(pol, "g", 0, 0))(0, 0, 3, 0)
    assert st.view(pol, "h", 0, 0).vm == 1


def test_unhashable_state_is_refused_at_once() -> None:
    class Bad(_Counter):
        def on_load(self, load: VcpuLoad) -> Decision:
            return Decision(vcpu=[1, 2])  # a list: not hashable

    with pytest.raises(TypeError):
        PolicyState().load(Bad(), VcpuInfo("g", 0, 1, Arch.AARCH64, 1), 0, None, None)


def test_state_forms_rename_vcpus_and_pcpus_only() -> None:
    """A VcpuId / PcpuId is renamed with its vCPU / pCPU; a plain int is data; a frozenset is
    re-sorted after renaming, so equal sets give equal forms."""
    v, p = [1, 0, -1], [1, 0, -1]  # swap vCPUs 0 and 1, and pCPUs 0 and 1
    assert _renamed(state_form(VcpuId(0)), v, p) == state_form(VcpuId(1))
    assert _renamed(state_form(PcpuId(1)), v, p) == state_form(PcpuId(0))
    assert _renamed(state_form(0), v, p) == state_form(0)
    a = frozenset({VcpuId(0), VcpuId(1), 7})
    assert _renamed(state_form(a), v, p) == state_form(a)
    b = (VcpuId(0), PcpuId(0), None, "x")
    assert _renamed(state_form(b), v, p) == state_form((VcpuId(1), PcpuId(1), None, "x"))
    with pytest.raises(TypeError):
        state_form(object())


def test_policy_state_is_part_of_the_key() -> None:
    """Two states equal but for Xen's slot of pCPU 0 (vCPU 0 ran there, or nobody did) have
    different futures (a load of vCPU 1 flushes only in the first), so different keys."""
    ex = Explorer(GuestModel.for_kind("percpu-tables", 2), resolve("xen"), 2)
    e, o = ex.replay(())
    g = ex.model.initial()
    before = ex.key(e, o, g)
    e.pstate.vm_pcpu[("g", 0)] = VcpuId(0)
    assert ex.key(e, o, g) != before


# ---- the cost model's load situations -------------------------------------------------------


def _info(vcpu: int) -> VcpuInfo:
    return VcpuInfo("vm", vcpu, 1, Arch.AARCH64, 2)


def test_situations_follow_each_source() -> None:
    """A first load of the VM on the pCPU (MIGRATE_EMPTY): Xen's slot is INVALID, no flush;
    KVM's is -1, flush; Hafnium's reads 0, so vCPU 0 does not flush and vCPU 1 does. A
    sibling ran here last (MIGRATE_OTHER): all three flush. The vCPU itself ran here last and
    comes back from another pCPU (MIGRATE_SELF): none of the three flushes, flush-on-migrate
    and Xvisor (a pCPU change) do."""
    flush = {
        name: {
            sit: situation_flushes(resolve(name), _info(0), sit)
            for sit in (
                LoadSituation.MIGRATE_EMPTY,
                LoadSituation.MIGRATE_OTHER,
                LoadSituation.MIGRATE_SELF,
                LoadSituation.STAY_SELF,
            )
        }
        for name in ("xen", "kvm", "hafnium", "flush-on-migrate", "xvisor")
    }
    vmalle1, iallu = HYP_OPS["vmalle1"], HYP_OPS["iallu"]
    assert flush["xen"][LoadSituation.MIGRATE_EMPTY] == ()
    assert flush["kvm"][LoadSituation.MIGRATE_EMPTY] == (vmalle1, iallu)
    assert flush["hafnium"][LoadSituation.MIGRATE_EMPTY] == ()
    assert situation_flushes(resolve("hafnium"), _info(1), LoadSituation.MIGRATE_EMPTY) == (
        vmalle1,
    )
    assert flush["xen"][LoadSituation.MIGRATE_OTHER] == (HYP_OPS["vmalls12e1"],)
    assert flush["kvm"][LoadSituation.MIGRATE_OTHER] == (vmalle1, iallu)
    assert flush["hafnium"][LoadSituation.MIGRATE_OTHER] == (vmalle1,)
    for name in ("xen", "kvm", "hafnium"):
        assert flush[name][LoadSituation.MIGRATE_SELF] == ()
    assert flush["flush-on-migrate"][LoadSituation.MIGRATE_SELF] == flush_tlb_ic(Arch.AARCH64)
    assert flush["xvisor"][LoadSituation.MIGRATE_SELF] == (HYP_OPS["alle1is"],)
    for name in flush:
        assert flush[name][LoadSituation.STAY_SELF] == ()
