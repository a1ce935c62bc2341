"""Incomplete maintenance (``check --incomplete``, litmus ``incomplete = true``): a broadcast
completes on the other pCPUs at its issuer's DSB; the hypervisor's DSB when a vCPU leaves a
pCPU (``Policy.dsb_on_deschedule``) and HCR_EL2.BSU decide whether a migration between a
guest's TLBI and its DSB leaves it incomplete. Every expectation is argued by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import CliRun
from vtlbsim.arch.machine import Hcr
from vtlbsim.check.explore import check
from vtlbsim.check.replay import replay
from vtlbsim.hyp.policy import FB, FB_BSU, Policy, VcpuInfo, VcpuLoad
from vtlbsim.hyp.registry import resolve
from vtlbsim.litmus import load, parse

ROOT = Path(__file__).resolve().parents[2]
NO_DSB = "no_deschedule_dsb:KvmWithoutDescheduleDsb"


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "policies"))
    yield
    sys.modules.pop("no_deschedule_dsb", None)


def test_the_litmus_example_needs_the_deschedule_dsb(plugins: None) -> None:
    """incomplete-migration-before-dsb: under its own policy (KVM without the DSB) the last
    load hits the entry the VALE1IS never removed from pCPU 0 (stale-tlb); under KVM the DSB on
    pCPU 1 when the vCPU leaves it completes the VALE1IS first (clean); replayed sequentially
    (incomplete off) the VALE1IS acts at once (clean)."""
    sc = load(ROOT / "examples" / "litmus" / "incomplete-migration-before-dsb.toml")
    assert sc.incomplete
    out = replay(sc, resolve(sc.policy))
    assert out.outcome == "violation" and out.guest_errors == []
    assert [v.category for v in out.violations] == ["stale-tlb"]
    assert out.violations[0].step == len(sc.events)
    assert replay(sc, resolve("kvm")).outcome == "clean"
    sc.incomplete = False
    assert replay(sc, resolve(sc.policy)).outcome == "clean"


def test_check_incomplete_finds_the_missing_dsb_in_eight_actions(plugins: None) -> None:
    """linux-arm64-smp under KVM without the deschedule DSB. The entry must be filled on A
    (run v0 on A, map, fetch: 3), invalidated from B with a broadcast (run v0 on B, then an
    unmap or a code write: 2), and the issuing vCPU must reach A without a DSB on B (run v0 on
    A: 1), execute its DSB there (1: only then may the guest rely on it) and use the VA (1) =
    8 actions; KVM's own flush does not fire on A, where v0 ran last. With the DSB (kvm): safe."""
    r = check("linux-arm64-smp", NO_DSB, depth=9, incomplete=True)
    assert not r.safe and len(r.actions) == 8
    assert r.actions[5:] == ["run v0 on 0", "v0 dsb ish", "v0 fetch 0x1000"]
    assert r.incomplete and r.counterexample is not None and r.counterexample.incomplete
    sc = parse(r.counterexample.to_litmus(), path="<cex>")
    out = replay(sc, resolve(sc.policy))
    assert out.outcome == "violation" and out.guest_errors == []
    assert check("linux-arm64-smp", NO_DSB, depth=7, incomplete=True).safe
    assert check("linux-arm64-smp", "kvm", depth=9, incomplete=True).safe
    assert check("linux-arm64-smp", NO_DSB, depth=9).safe  # the sequential model cannot see it


def test_another_vcpu_may_use_an_entry_before_the_issuers_dsb() -> None:
    """v1 on pCPU 0 holds 0x1000 -> 0xa000; v0 on pCPU 1 unmaps it and issues VALE1IS, still
    pending on pCPU 0. v1's load there before v0's DSB hits 0xa000: legal, bare metal lets a
    CPU see the old entry until the issuer's DSB completes the TLBI. After the DSB the entry is
    gone: v1's load walks and finds nothing (a fault, no violation)."""
    text = """
pcpus = 2
policy = "none"
incomplete = true
steps = '''
run g.1 on 0
g.1 map 0x1000 0xa000
g.1 load 0x1000
run g.0 on 1
g.0 unmap 0x1000
g.0 tlbi vale1is 0x1000
g.1 load 0x1000
g.0 dsb ish
g.1 load 0x1000
'''
[domains.g]
vcpus = 2
"""
    sc = parse(text)
    out = replay(sc, resolve("none"))
    assert out.outcome == "clean" and out.guest_errors == []
    assert out.counts["tlb-hit"] == 1 and out.counts["translation-fault"] == 1


class _FbNoDsb(Policy):
    name = "fb-no-bsu-no-dsb"
    summary = "FB without BSU, no flush, no DSB when a vCPU leaves"
    dsb_on_deschedule = False

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB

    def on_load(self, load: VcpuLoad) -> tuple[()]:
        return ()


class _FbBsuNoDsb(_FbNoDsb):
    name = "fb-bsu-no-dsb"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return FB_BSU


def test_bsu_makes_the_guests_dsb_nsh_complete_what_fb_broadcast() -> None:
    """A UP arm32 guest invalidates with a local TLBIMVA and a DSB NSH, both on pCPU 1, before
    it moves back to pCPU 0. FB makes the TLBIMVA a TLBIMVAIS, pending on pCPU 0. With BSU =
    Inner Shareable the DSB NSH acts as a DSB ISH and completes it (clean); without BSU it
    completes only pCPU 1's part, and with no DSB when the vCPU leaves pCPU 1 the entry on pCPU
    0 survives (stale-tlb): the hazard FB alone (Xvisor's HCR) leaves to the deschedule DSB."""
    text = """
pcpus = 2
incomplete = true
steps = '''
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 load 0x1000
run g.0 on 1
g.0 unmap 0x1000
g.0 tlbi tlbimva 0x1000
g.0 dsb nsh
run g.0 on 0
g.0 load 0x1000
'''
[domains.g]
vcpus = 1
arch = "aarch32"
"""
    sc = parse(text)
    assert replay(sc, _FbBsuNoDsb()).outcome == "clean"
    out = replay(sc, _FbNoDsb())
    assert [v.category for v in out.violations] == ["stale-tlb"] and out.guest_errors == []
    assert replay(sc, resolve("xvisor")).outcome == "clean"  # FB alone, but its DSB on leaving


def test_cli_incomplete(cli: CliRun, plugins: None) -> None:
    """linux-arm32-up under KVM without the deschedule DSB, through the CLI: new code must be
    fetched on A (run, map — whose ICIALLU completes at its own DSB NSH, an action of its own
    —, dsb, fetch: 4), rewritten on B (run on B, write-code with its ICIMVAU broadcast: 2),
    and the vCPU must reach A before its DSB (run on A, dsb, fetch: 3) = 9 actions."""
    code, out, err = cli(
        ["check", "-g", "linux-arm32-up", "-p", NO_DSB, "--incomplete", "--depth", "9", "--json"]
    )
    assert code == 1, err
    obj = json.loads(out)
    assert obj["incomplete"] is True and len(obj["actions"]) == 9
    assert "incomplete = true" in obj["litmus"]


def test_a_rollover_broadcast_holds_the_asid_allocator_until_its_dsb() -> None:
    """FreeBSD arm64 rolls its ASIDs over with asid_set_mutex held: asid_epoch advances, then
    TLBI VMALLE1IS and DSB ISH, and only then are ASIDs handed out (pmap_reset_asid_set /
    pmap_alloc_asid, sys/arm64/arm64/pmap.c); another CPU's switch finds its pmap's epoch
    stale and spins on the mutex. So while the rolling vCPU sits between its VMALLE1IS and
    the DSB, no other vCPU switches process, and none reuses a recycled ASID before the
    broadcast completes: the search ends without a guest-discipline error (it used to stop at
    one: g.0 entering the recycled ASID 0 while g.1's VMALLE1IS was still pending). KVM's
    flush when another vCPU of the VM ran on the pCPU last, and its DSB when a vCPU leaves,
    keep it safe."""
    r = check("freebsd-arm64-smp", "kvm", depth=10, incomplete=True)
    assert r.safe and r.depth == 10


def test_an_all_broadcast_guest_needs_the_other_vcpu_flush_while_a_tlbi_is_in_flight() -> None:
    """FreeBSD arm64 invalidates with IS forms only, so with complete maintenance no policy
    can go wrong. With --incomplete: v0 fills 0x1000 on pCPU 0 (run, map, fetch: 3), moves to
    pCPU 1 (1) and unmaps there, its VALE1IS still in flight to pCPU 0 (1); v1 is brought up on
    pCPU 0 (1) and fetches 0x1000 (1) = 7 actions. It hits v0's entry, same VMID and ASID,
    though on bare metal its CPU never had the table current while the page was mapped
    (stale-tlb). Gunyah sets FB and flushes nothing on a load; KVM's flush (v1 is not the vCPU
    that ran last on pCPU 0) removes the entry first."""
    r = check("freebsd-arm64-smp", "gunyah", depth=10, incomplete=True)
    assert not r.safe and len(r.actions) == 7
    assert r.actions == [
        "run v0 on 0",
        "v0 map 0x1000 0xa000",
        "v0 fetch 0x1000",
        "run v0 on 1",
        r.actions[4],
        "run v1 on 0",
        "v1 fetch 0x1000",
    ]
    assert r.actions[4].startswith("v0 unmap 0x1000")
    assert r.violation is not None and r.violation.category == "stale-tlb"
    assert check("freebsd-arm64-smp", "gunyah", depth=10).safe


GLOBAL_BEFORE_DSB = """
pcpus = 2
policy = "none"
incomplete = true
steps = '''
run g.0 on 0
run g.1 on 1
g.0 map 0x8000 0xa000 global table=main
g.0 map 0x8000 0xa000 global table=as1
g.0 load 0x8000
g.1 unmap 0x8000 table=main
g.1 unmap 0x8000 table=as1
g.1 tlbi vale1is 0x8000
g.0 table as1
g.0 asid 1
g.0 load 0x8000
g.1 dsb ish
g.0 load 0x8000
'''
[domains.g]
vcpus = 2
"""


def test_a_global_entry_filled_under_one_table_is_legal_under_the_next_until_the_dsb() -> None:
    """v0 on pCPU 0 fills a global (nG = 0) entry 0x8000 -> 0xa000 while table ``main`` is
    current; v1 on pCPU 1 unmaps the page in both tables and issues VALE1IS, pending on pCPU 0
    until v1's DSB. v0 switches to table ``as1`` (ASID 1) and loads 0x8000: a global entry
    matches every ASID, so it hits 0xa000, and on bare metal it may (the TLBI completes only at
    the issuer's DSB, and the entry was cached from ``main`` while ``main`` was current and
    mapped it so): legal, and no ASID rebinding either (a global entry is no ASID's). After
    v1's DSB the VALE1IS has removed the global entry whatever the ASID (Arm ARM D8.13): the
    load walks ``as1`` and faults. So: clean, 1 hit, 1 fault, no guest error. (The rule once
    judged a global entry only against the table current now, and called this hit an ASID
    reuse by the guest, which stopped ``check --globals --incomplete`` on every kind with an
    ASID allocator.)"""
    out = replay(parse(GLOBAL_BEFORE_DSB), resolve("none"))
    assert out.guest_errors == [] and out.outcome == "clean"
    assert out.counts["tlb-hit"] == 1 and out.counts["translation-fault"] == 1


def test_check_globals_incomplete_runs_on_an_allocating_kind() -> None:
    """``check --globals --incomplete`` on linux-arm64-smp under KVM explores to depth 8 without
    a guest-discipline error (it stopped at the path of the test above before) and finds KVM
    safe: with the DSB when a vCPU leaves a pCPU and a flush when another vCPU of the VM ran
    there last, nothing a guest issued is left incomplete where a vCPU can use it."""
    r = check("linux-arm64-smp", "kvm", depth=8, globals=True, incomplete=True)
    assert r.safe
