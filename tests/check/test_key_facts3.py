"""More of the canonical key's facts held by hand (``raw_facts``, as ``test_key_fact_rules.py``
reads them), in states the walks there do not reach: an I-cache line of a dead PA before a
live one on one pCPU; two stale lines of one PA with different ages; an IS I-cache or TLB
instruction the oracle has learned of while a remote part of it is still pending, so the
line or entry it removes on bare metal is still there (``--incomplete`` with no DSB as the
vCPU leaves the pCPU: ``test_keyplan_rules.NoDsbOnLeave``); a destroyed VM's prediction
before a live one on one pCPU (``--vms 2``); and the pending maintenance itself, with every
field of it different from the others (VA page 2, one page, a PA).

Written from the mutants of ``key.py`` the mutation run left "not killed" (docs/testing.md,
"check/key.py and keyplan.py, as restructured for speed")."""

from __future__ import annotations

from pathlib import Path

from test_key_fact_rules import _weak_bp_kind
from test_keyplan_rules import MOVED, NoDsbOnLeave, _facts

from vtlbsim.check.actions import GuestModel
from vtlbsim.check.explore import Explorer
from vtlbsim.hyp.registry import resolve


def test_a_live_line_after_a_dead_one_on_the_same_pcpu_is_in_the_key() -> None:
    """Linux AArch64: v0 maps 0x1000 to 0xa000 and fetches it on pCPU 0 (an I-cache line of
    0xa000), unmaps it (TLBI VALE1IS: no table maps 0xa000 and no entry holds it, so it is
    dead, though pCPU 0's I-cache keeps the line), maps 0x1000 to 0xb000 and fetches it (a
    line of 0xb000, after the dead one on pCPU 0). The key holds the live line only, age 0."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-smp", 2), resolve("none"), 2)
    labels = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000", "v0 unmap 0x1000"]
    facts = _facts(ex, [*labels, "v0 map 0x1000 0xb000", "v0 fetch 0x1000"])
    assert facts["i"] == [(0, 0xB, 0)]


def test_the_floor_is_capped_by_the_oldest_line_of_the_pa(tmp_path: Path) -> None:
    """``test_key_fact_rules.WEAK_BP`` with a local BPIMVA alone at a code write (no I-cache
    instruction anywhere): v0 maps 0x1000 to 0xa000, fetches it on pCPU 0, writes the code,
    moves to pCPU 1, fetches it there (a line of the new code) and writes it again. pCPU 0's
    line is 2 writes old, pCPU 1's 1. Neither vCPU has an I-cache instruction covering 0xa000,
    so each accepts a line up to 2 writes old, capped by the oldest line there is (2): floors
    (v0, 0xa000, 2) and (v1, 0xa000, 2), not the age of the line met last (1)."""
    ex = Explorer(GuestModel.for_kind(_weak_bp_kind(tmp_path, '"bpimva"'), 2), resolve("none"), 2)
    labels = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000", "v0 write-code 0x1000"]
    facts = _facts(ex, [*labels, "run v0 on 1", "v0 fetch 0x1000", "v0 write-code 0x1000"])
    assert facts["i"] == [(0, 0xA, 2), (1, 0xA, 1)]
    assert facts["F"] == [(0, 0xA, 2), (1, 0xA, 2)]


def test_an_is_icimvau_reported_while_pending_elsewhere_sets_the_floor(tmp_path: Path) -> None:
    """``WEAK_BP`` (a code write is ICIMVAU, IS, and a local BPIMVA) under ``--incomplete`` and
    ``NoDsbOnLeave``: v0 maps 0x1000 to 0xa000, fetches it on pCPU 0 (a line there), moves to
    pCPU 1, writes the code (the ICIMVAU stays pending on pCPU 0), moves back to pCPU 0 and
    executes its DSB ISH, which reports the ICIMVAU to the oracle (the VM's IS record, so both
    vCPUs) but completes nothing on pCPU 0: its line, 1 write old, stays. No write came after
    that ICIMVAU, so neither vCPU accepts a stale line: floors (v0, 0xa000, 0), (v1, 0xa000,
    0)."""
    ex = Explorer(
        GuestModel.for_kind(_weak_bp_kind(tmp_path), 2), NoDsbOnLeave(), 2, incomplete=True
    )
    labels = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000", "run v0 on 1"]
    facts = _facts(ex, [*labels, "v0 write-code 0x1000", "run v0 on 0", "v0 dsb ish"])
    assert facts["i"] == [(0, 0xA, 1)]
    assert facts["F"] == [(0, 0xA, 0), (1, 0xA, 0)]


def test_an_is_tlbi_reported_while_pending_elsewhere_covers_the_entry() -> None:
    """Linux AArch64 under ``--incomplete`` and ``NoDsbOnLeave`` (``test_keyplan_rules.MOVED``):
    v0's entry of 0x1000 on pCPU 0 outlives its TLBI VALE1IS issued on pCPU 1, which its DSB
    ISH on pCPU 0 reports to the oracle (the VM's IS record). That TLBI covers ASID 0 and
    0x1000 and came after the fill, so bare metal could not show the entry to v0: it is marked
    covered (before the DSB it is not: the oracle has not learned of the TLBI)."""
    ex = Explorer(GuestModel.for_kind("linux-arm64-smp", 2), NoDsbOnLeave(), 2, incomplete=True)
    assert _facts(ex, MOVED)["t"] == [(0, 1, 0, 0xA, 0, "main", False)]
    assert _facts(ex, [*MOVED, "v0 dsb ish"])["t"] == [(0, 1, 0, 0xA, 0, "main", True)]


def test_a_live_prediction_after_a_destroyed_vms_on_the_same_pcpu_is_in_the_key(
    tmp_path: Path,
) -> None:
    """``WEAK_BP`` (no maintenance at a map) with ``--vms 2`` and two VAs: VM g's v0 maps
    0x1000 to 0xa000 and fetches it on pCPU 0 (a prediction there); g is destroyed and VM h
    created on its VMID (``none`` flushes nothing a predictor holds); h's v0 runs on pCPU 0,
    maps 0x2000 to 0xb000 and fetches it (a prediction after g's on pCPU 0). The key holds
    both: g's as another VM's (trainer -1, flag False), h's as v0's, age 0, trained after
    v0's last instruction covering 0x2000's predictions (none)."""
    model = GuestModel.for_kind(_weak_bp_kind(tmp_path), 2, 2)
    ex = Explorer(model, resolve("none"), 2, vms=2)
    g = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 fetch 0x1000"]
    h = ["run v0 on 0", "v0 map 0x2000 0xb000", "v0 fetch 0x2000"]
    facts = _facts(ex, [*g, "destroy VM g, create VM h on its VMID", *h])
    assert facts["b"] == [(0, 0, 1, 0xA, 0, -1, False), (0, 0, 2, 0xB, 0, 0, True)]


def test_pending_maintenance_is_in_the_key_field_by_field() -> None:
    """Linux AArch64 with two VAs under ``--incomplete`` and ``NoDsbOnLeave``: v0 maps 0x1000
    and 0x2000 (to 0xa000 and 0xb000), fetches 0x2000 on pCPU 0, moves to pCPU 1 and writes
    0x2000's code: its IC IVAU (IS, by VA: ASID 0, VA page 2, one page, translated to 0xb000)
    takes effect on pCPU 1 and stays pending on pCPU 0, and the oracle has not learned of it
    (v0 owes the DSB). The key holds the remote part (issued on pCPU 1, for pCPU 0) and the
    unreported instruction (v0's), each field as it is: no two of them are equal here."""
    model = GuestModel.for_kind("linux-arm64-smp", 2, 2)
    ex = Explorer(model, NoDsbOnLeave(), 2, incomplete=True)
    maps = ["run v0 on 0", "v0 map 0x1000 0xa000", "v0 map 0x2000 0xb000", "v0 fetch 0x2000"]
    facts = _facts(ex, [*maps, "run v0 on 1", "v0 write-code 0x2000"])
    # (issuer, instruction, ASID, VA page, pages, PA, target)
    assert facts["r"] == [(1, "ivau", 0, 2, 1, 0xB, 0)]
    # (vCPU, instruction, VA page, pages, ASID, PA)
    assert facts["u"] == [(0, "ivau", 2, 1, 0, 0xB)]
