"""A second VM on a reused VMID (``check --vms 2``, litmus ``destroy D`` and ``vmid = N``): the
scheduler may destroy the VM and create another of the same kind and size on its VMID; the
hypervisor's flush before a freed VMID serves again (``Policy.on_vmid_reuse``) decides whether
the new VM meets the dead one's TLB entries. Every expectation is argued by hand."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_explore_invariants import walk
from test_snapshot import dump

from conftest import CliRun
from vtlbsim.arch.machine import Hcr
from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer, check
from vtlbsim.check.matrix import Options, pair_fingerprint
from vtlbsim.check.replay import replay
from vtlbsim.check.snapshot import copy_state
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.policy import FB_BSU, Policy, VcpuInfo, VcpuLoad
from vtlbsim.hyp.registry import resolve
from vtlbsim.litmus import load, parse
from vtlbsim.litmus.errors import LitmusError
from vtlbsim.sim.events import Destroy, Event

ROOT = Path(__file__).resolve().parents[2]
XEN_NO_FLUSH = "no_vmid_reuse_flush:XenWithoutReuseFlush"
KVM_NO_FLUSH = "no_vmid_reuse_flush:KvmWithoutRolloverFlush"
DESTROY = "destroy VM g, create VM h on its VMID"


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "policies"))
    yield
    sys.modules.pop("no_vmid_reuse_flush", None)


class _FbOnly(Policy):
    """A stateless user policy: FB + BSU, no flush on load, and the default reuse flush."""

    name = "fb-only"
    summary = "FB+BSU, no flush on load"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB_BSU

    def on_load(self, load: VcpuLoad) -> tuple[()]:
        return ()


class _FbOnlyNoReuseFlush(_FbOnly):
    name = "fb-only-no-reuse-flush"

    def on_vmid_reuse(self, vmid: int) -> tuple[()]:
        return ()


def test_a_reused_vmid_without_its_flush_is_found_in_six_actions(plugins: None) -> None:
    """linux-arm64-smp under Xen without ``p2m_alloc_table``'s flush. The new VM h must *use* a
    translation of the dead VM g: h is loaded (1) and fetches (1); before that g is destroyed (1),
    and g left an entry in a TLB: g is loaded (1), maps a page (1: a fetch of a VA no table
    maps faults and fills nothing) and fetches it (1: neither the bring-up nor the map's own
    instructions fill a TLB) = 6 actions, all on one pCPU. h's load there does not flush: Xen's
    ``last_vcpu_ran[]`` slots of a new domain start INVALID. h never mapped the VA, so the hit
    is illegal and another VM filled it: cross-vm-tlb. Nothing shorter: depth 5 is safe."""
    r = check("linux-arm64-smp", XEN_NO_FLUSH, depth=7, vms=2)
    assert not r.safe and r.violation is not None
    assert r.violation.category == "cross-vm-tlb"
    assert r.actions == [
        "run v0 on 0",
        "v0 map 0x1000 0xa000",
        "v0 fetch 0x1000",
        DESTROY,
        "run v0 on 0",
        "v0 fetch 0x1000",
    ]
    assert r.violation.vcpu == "h.0" and r.violation.filled_by == "g.0"
    assert check("linux-arm64-smp", XEN_NO_FLUSH, depth=5, vms=2).safe
    # the counterexample is a litmus file that replays to the same violation, no guest error
    assert r.counterexample is not None
    sc = parse(r.counterexample.to_litmus(), path="<cex>")
    assert [d.vmid for d in sc.domains] == [None, 1]
    assert [e.domain for e in sc.events if isinstance(e, Destroy)] == ["g"]
    out = replay(sc, resolve(sc.policy))
    assert [v.category for v in out.violations] == ["cross-vm-tlb"] and out.guest_errors == []


def test_without_a_second_vm_the_same_policy_is_safe(plugins: None) -> None:
    """The flush it lacks only matters to a VMID's next VM: with one VM, Xen without it is Xen
    (safe for linux-arm64-smp and percpu-tables at depth 10, docs/check.md's matrix)."""
    assert check("linux-arm64-smp", XEN_NO_FLUSH, depth=8).safe
    assert check("percpu-tables", XEN_NO_FLUSH, depth=8).safe


def test_the_flush_before_reuse_makes_xen_safe() -> None:
    """Xen flushes the VMID everywhere (VMALLS12E1IS) before the new domain uses it: after the
    destruction no TLB holds an entry of VMID 1, g's I-cache lines are of pages no table of h
    maps (maps take fresh PAs, g's included) and an AArch64 guest has no predictor state, so
    from then on h starts as g did at the root: linux-arm64-smp stays safe (depth 10)."""
    assert check("linux-arm64-smp", "xen", vms=2).safe


def test_kvms_minus_one_slot_covers_a_missing_rollover_flush(plugins: None) -> None:
    """KVM without the rollover's ALLE1IS: a new VM's per-CPU ``last_vcpu_ran`` slots start at
    -1, so the new VM's first load on each pCPU flushes VMID 1 there (VMALLE1 + IC IALLU)
    before any of its vCPUs uses anything on that pCPU: safe (linux-arm64-smp, depth 10)."""
    assert check("linux-arm64-smp", KVM_NO_FLUSH, vms=2).safe


def test_xvisors_first_load_flush_covers_its_missing_reuse_flush() -> None:
    """Xvisor frees a guest's stage 2 without a flush (``on_vmid_reuse`` = ()), but a new
    vCPU's ``last_hcpu`` starts at 0xFFFFFFFF, so each first load broadcasts ALLE1IS before the
    vCPU runs: safe (linux-arm64-smp, depth 10)."""
    assert resolve("xvisor").on_vmid_reuse(1) == ()
    assert check("linux-arm64-smp", "xvisor", vms=2).safe


def test_a_stateless_policy_gets_the_default_reuse_flush() -> None:
    """A user's stateless FB policy with no flush on load is safe for linux-arm64-smp with one
    VM (FB broadcasts every local TLBI; the guest's own are broadcast anyway). With a second VM
    it stays safe thanks to the default ``on_vmid_reuse`` (VMALLS12E1IS); declaring no reuse
    flush makes it unsafe in the same 6 actions as Xen without its flush (FB does not flush on
    a load at all)."""
    assert check("linux-arm64-smp", _FbOnly(), depth=8, vms=2).safe
    r = check("linux-arm64-smp", _FbOnlyNoReuseFlush(), depth=8, vms=2)
    assert not r.safe and len(r.actions) == 6 and r.actions[3] == DESTROY
    assert check("linux-arm64-smp", _FbOnlyNoReuseFlush(), depth=8).safe


def test_a_hypervisor_that_never_reuses_a_vmid_has_no_second_vm() -> None:
    """Hafnium creates its VMs once at boot (``on_vmid_reuse`` = None): the scheduler never
    destroys one, so ``--vms 2`` explores exactly the states of one VM."""
    assert resolve("hafnium").on_vmid_reuse(1) is None
    one = check("linux-arm64-smp", "hafnium", depth=8)
    two = check("linux-arm64-smp", "hafnium", depth=8, vms=2)
    assert one.safe and two.safe and one.states == two.states


def test_existing_counterexamples_keep_their_length() -> None:
    """``none`` (with the default reuse flush) on linux-arm64-smp: destroying the VM flushes
    every VMID-1 entry, so it only removes stale entries; the 8-action rollover counterexample
    (docs/check.md) stays the shortest. percpu-tables under fb: the 5-action H2."""
    r = check("linux-arm64-smp", "none", vms=2)
    assert not r.safe and len(r.actions) == 8 and DESTROY not in r.actions
    r = check("percpu-tables", "fb", vms=2)
    assert not r.safe and len(r.actions) == 5


def test_merging_agrees_with_the_plain_search_with_two_vms(plugins: None) -> None:
    """The key keeps which VM runs and the dead VM's entries (as another VM's): the merged
    search finds what the search of every path finds (one vCPU per VM, depth 6)."""
    for kind, policy in [("linux-arm64-smp", XEN_NO_FLUSH), ("percpu-tables", "xen")]:
        merged = check(kind, policy, vcpus=1, depth=6, vms=2)
        plain = check(kind, policy, vcpus=1, depth=6, vms=2, merge=False)
        assert merged.safe == plain.safe and len(merged.actions) == len(plain.actions)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KIND_NAMES),
    policy=st.sampled_from(["none", "fb", "xen", "kvm", "xvisor"]),
    choices=st.lists(st.integers(0, 60), min_size=1, max_size=16),
)
def test_the_guest_keeps_its_discipline_in_either_vm(
    kind: str, policy: str, choices: list[int]
) -> None:
    """Random paths through a destruction and the second VM: no guest error (``walk``)."""
    walk(Explorer(GuestModel.for_kind(kind, 2), resolve(policy), 2, vms=2), choices)


def test_the_option_is_part_of_the_verdict_fingerprint() -> None:
    assert pair_fingerprint("linux-arm64-smp", "xen", Options(vms=2)) != pair_fingerprint(
        "linux-arm64-smp", "xen", Options()
    )


def test_cli_vms(cli: CliRun, plugins: None) -> None:
    """Through the CLI: the title names the option, the JSON records it, the counterexample
    file holds the destruction and the second VM's VMID; --vms 3 is refused (exit 2)."""
    code, out, err = cli(["check", "-g", "percpu-tables", "-p", XEN_NO_FLUSH, "--vms", "2"])
    assert code == 1, err
    assert "2 VMs (VMID reuse)" in out and "cross-vm-tlb after 6 actions" in out
    assert "destroy g" in out and "vmid = 1" in out
    code, out, err = cli(["check", "-g", "percpu-tables", "-p", "xen", "--vms", "2", "--json"])
    assert code == 0, err
    assert json.loads(out)["vms"] == 2
    code, _, err = cli(["check", "-g", "percpu-tables", "-p", "xen", "--vms", "3"])
    assert code == 2 and "--vms: expected 1 or 2, got 3" in err


def test_cli_matrix_vms(cli: CliRun, plugins: None) -> None:
    """Xen without its reuse flush against every kind, depth 6. Every kind maps, fills and can
    be destroyed the same way, so the 6 actions argued above make every pair unsafe
    (cross-vm-tlb; with one VM Xen's shortest counterexamples have 7 or more), but the two
    FreeBSD armv7 kinds: every process there runs on ASID 0, and the new VM's bring-up on any
    pCPU runs ``cpu_context_switch``'s TLBIASID 0, which Xen's FB broadcasts, so it removes
    every entry the dead VM left (all ASID 0) before the new VM uses anything. (Nor can a
    prediction of the dead VM be met later: a prediction is looked up only after a translation
    succeeds, which needs the new VM's own map, whose ICIALLU(IS) FB makes broadcast, and an
    ICIALLU also flushes predictions.) Safe at depth 6; freebsd-armv7-smp's 8-action
    counterexample under Xen is its one-VM stale-bp (docs/check.md's matrix)."""
    args = ["check", "--matrix", "-p", XEN_NO_FLUSH, "--vms", "2", "--depth", "6"]
    code, out, err = cli([*args, "--no-cache", "--jobs", "1", "--json"])
    assert code == 1, err
    rows = json.loads(out)
    assert [row["kind"] for row in rows] == list(KIND_NAMES)
    for row in rows:
        assert row["vms"] == 2
        if row["kind"].startswith("freebsd-armv7"):
            assert row["safe"], row["kind"]
            continue
        assert not row["safe"] and len(row["actions"]) == 6, row["kind"]
        assert row["violation"]["category"] == "cross-vm-tlb"


def test_freebsd_armv7_up_s_own_switch_flush_covers_the_missing_reuse_flush(
    plugins: None,
) -> None:
    """As argued for the matrix above: no cross-VM use is possible at any depth,
    and with one VM Xen's shortest counterexample for freebsd-armv7-up has 9 actions
    (docs/check.md), so depth 8 is safe with two VMs too."""
    assert check("freebsd-armv7-up", XEN_NO_FLUSH, depth=8, vms=2).safe


def test_the_litmus_example_needs_the_reuse_flush(plugins: None) -> None:
    """vmid-reuse-after-destroy: under its own policy (Xen without the reuse flush) h's fetch
    at the last step hits g's entry (cross-vm-tlb); Xen's VMALLS12E1IS at the destruction
    removes it (clean); KVM without its rollover flush flushes VMID 1 on pCPU 0 at h's first
    load there (its slot is -1: clean); Hafnium never reuses a VMID, so h runs on a fresh one
    that g's entry does not match (clean)."""
    sc = load(ROOT / "examples" / "litmus" / "vmid-reuse-after-destroy.toml")
    out = replay(sc, resolve(sc.policy))
    assert [v.category for v in out.violations] == ["cross-vm-tlb"] and out.guest_errors == []
    assert out.violations[0].step == len(sc.events)
    for policy in ("xen", KVM_NO_FLUSH, "hafnium"):
        assert replay(sc, resolve(policy)).outcome == "clean", policy
    assert replay(sc, resolve("hafnium")).counts["vmid-fresh"] == 1


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("run g.0 on 0\nrun h.0 on 1", ":4: VMID 1 still tags VM 'g': 'destroy g' before"),
        ("run g.0 on 0\ndestroy g\ng.0 fetch 0x1000", ":5: domain 'g' was destroyed"),
        ("destroy x", ":3: unknown domain 'x'"),
        ("run g.0 on 0\ndestroy g\ndestroy g", ":5: domain 'g' was destroyed"),
        ("destroy", ":3: expected 'destroy DOMAIN'"),
    ],
)
def test_litmus_vm_lifetime_errors(steps: str, message: str) -> None:
    """A VMID tags one live VM at a time, and a destroyed VM does nothing more: one line that
    names the file's line (the steps start on line 3)."""
    text = f'pcpus = 2\nsteps = """\n{steps}\n"""\n[domains.g]\n[domains.h]\nvmid = 1\n'
    with pytest.raises(LitmusError, match=message):
        parse(text, path="f.toml")


def test_litmus_vmid_must_be_a_guest_vmid() -> None:
    text = 'pcpus = 1\nsteps = "run g.0 on 0"\n[domains.g]\nvmid = 0\n'
    with pytest.raises(LitmusError, match=r"f.toml:4: domains.g.vmid must be between 1 and"):
        parse(text, path="f.toml")


@pytest.mark.parametrize("kind", ["linux-arm64-smp", "linux-arm32-up", "percpu-tables"])
@pytest.mark.parametrize("policy", ["fb", "xen", "xvisor"])
def test_a_copy_through_a_destruction_is_a_replay(kind: str, policy: str) -> None:
    """``snapshot.copy_state`` keeps the destroyed VMs and the second VM's state: a copy plus
    each successor's events is a replay of the whole path, field by field, on random paths that
    destroy the first VM as soon as they may."""
    pol = resolve(policy)
    ex = Explorer(GuestModel.for_kind(kind, 2), pol, 2, vms=2)
    rng = random.Random(f"{kind}/{policy}/vms")
    destroyed = 0
    for _ in range(8):
        path: tuple[Event, ...] = ()
        g = ex.model.initial()
        engine, oracle = ex.replay(path)
        for _ in range(10):
            ops = ex.successors(engine, g)
            for op in rng.sample(ops, min(3, len(ops))):
                e2, o2 = copy_state(engine, oracle)
                e2.apply(op.events)
                assert dump(e2, pol) == dump(ex.replay(path + op.events)[0], pol)
            kill = [op for op in ops if op.label == DESTROY]
            op = kill[0] if kill and rng.random() < 0.5 else rng.choice(ops)
            destroyed += op.label == DESTROY
            engine, oracle = copy_state(engine, oracle)
            engine.apply(op.events)
            path, g = path + op.events, op.state
            if oracle.violations:
                break
    assert destroyed > 0
