"""The oracle's judgements on small litmus stories, each expectation derived by hand from SPEC §5
(the legality rule, the categories, the guest errors) and the Arm ARM rules cited per test:
which use is a violation, of which category, by whom, where, and which instruction covers it.

Steps are numbered from 1 in the order written (``run`` lines included); VA and PA pages are
4 KiB, so ``va=1`` is 0x1000.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from test_oracle_rules import DropTrappedTlbi

from vtlbsim.arch.ops import HypOp
from vtlbsim.check.replay import Outcome, replay
from vtlbsim.hyp.registry import resolve
from vtlbsim.litmus import parse


class Swallow(DropTrappedTlbi):
    """A broken hypervisor: traps every TLB instruction and executes none (entries survive),
    and flushes nothing before a freed VMID serves another VM."""

    name = "swallow"

    def on_vmid_reuse(self, vmid: int) -> Sequence[HypOp]:
        return ()


def run(steps: str, policy: str = "none", *, vcpus: int = 1, arch: str = "aarch64") -> Outcome:
    text = (
        f'pcpus = 2\nsteps = """\n{steps.strip()}\n"""\n\n[domains.g]\nvcpus = {vcpus}\n'
        f'arch = "{arch}"\n'
    )
    return replay(parse(text), Swallow() if policy == "swallow" else resolve(policy))


def fields(out: Outcome) -> list[tuple[object, ...]]:
    """Per violation: step, category, vCPU, pCPU, VA page, used, legal, filler, its pCPU,
    covering instruction and its step."""
    return [
        (
            v.step,
            v.category,
            v.vcpu,
            v.pcpu,
            v.va,
            v.used,
            v.legal,
            v.filled_by,
            v.filled_on_pcpu,
            v.covered_by,
            v.covered_at_step,
        )
        for v in out.violations
    ]


def errors(out: Outcome) -> list[tuple[int, str, str]]:
    return [(g.step, g.vcpu, g.kind) for g in out.guest_errors]


# ---- two TLB entries with one output ---------------------------------------------------------

TWO_ENTRIES = """
run g.0 on 0
g.0 asid 1
g.0 map 0x1000 0xa000          # 3: a user page (nG)
g.0 load 0x1000                # 4: pCPU 0 holds (ASID 1, 0x1000 -> 0xa000)
g.0 unmap 0x1000
g.0 map 0x1000 0xa000 global   # 6: the same output, now global: no break-before-make needed
g.0 asid 2
g.0 load 0x1000                # 8: misses the ASID-1 entry, fills (global, 0x1000 -> 0xa000)
g.0 asid 1
run g.0 on 1
g.0 unmap 0x1000
g.0 tlbi {op} 0x1000           # 12: local, on pCPU 1
g.0 dsb nsh
run g.0 on 0
g.0 load 0x1000                # 15: both entries on pCPU 0 match ASID 1 and 0x1000
"""


def test_two_stale_entries_with_one_output_are_one_violation() -> None:
    """VAE1 covers the VA's entries of the current ASID and its global ones (Arm ARM D8.13,
    SPEC §2), so both entries left on pCPU 0 are illegal for g.0 from step 12 on, and the table
    maps nothing: one use, one stale-tlb violation (H1: g.0 filled them from its own table)."""
    out = run(TWO_ENTRIES.format(op="vae1"))
    assert out.guest_errors == []
    assert len(out.violations) == 1
    (v,) = out.violations
    assert (v.step, v.category, v.vcpu, v.pcpu, v.va, v.used, v.legal) == (
        15,
        "stale-tlb",
        "g.0",
        0,
        1,
        "0xa000",
        [],
    )
    assert (v.filled_by, v.filled_on_pcpu, v.covered_by, v.covered_at_step) == (
        "g.0",
        0,
        "vae1",
        12,
    )
    assert v.filled_at_step in (4, 8)
    # FB makes the VAE1 an IS one that removes both; flush-on-migrate flushes on the return
    assert run(TWO_ENTRIES.format(op="vae1"), "fb").violations == []
    assert run(TWO_ENTRIES.format(op="vae1"), "flush-on-migrate").violations == []


def test_a_tlbi_of_another_va_leaves_both_entries_legal() -> None:
    """VAE1 of 0x2000 covers neither entry: 0xa000 stays a legal output of 0x1000 (the table
    mapped it before step 12 and nothing covering came after)."""
    out = run(TWO_ENTRIES.format(op="vae1").replace("vae1 0x1000", "vae1 0x2000"))
    assert out.violations == [] and out.guest_errors == []


# ---- who filled the entry: SPEC §5's categories ---------------------------------------------


def test_an_entry_from_a_table_the_vcpu_never_used_is_cross_vcpu() -> None:
    """H2 (SPEC §1): per-CPU tables map one VA and ASID to different pages; g.1 hits g.0's
    VMID-tagged entry, from a table g.1 never translated through: cross-vcpu-tlb, filled by
    g.0 on pCPU 0 at step 4, no covering instruction; g.1's table maps 0xb000."""
    steps = """
run g.0 on 0
g.0 table t0
g.0 map 0x4000 0xa000
g.0 load 0x4000
run g.1 on 0
g.1 table t1
g.1 map 0x4000 0xb000
g.1 load 0x4000
"""
    out = run(steps, vcpus=2)
    assert fields(out) == [
        (8, "cross-vcpu-tlb", "g.1", 0, 4, "0xa000", ["0xb000"], "g.0", 0, "", 0)
    ]
    assert out.violations[0].filled_at_step == 4 and out.guest_errors == []


def test_an_entry_of_a_destroyed_vm_is_cross_vm() -> None:
    """A VM created on a destroyed VM's VMID hits the dead VM's entry when the hypervisor
    flushes nothing before reusing the VMID (the example vmid-reuse-after-destroy):
    cross-vm-tlb, h never mapped the VA; the default reuse flush (VMALLS12E1IS) removes it."""
    text = (
        'pcpus = 1\nsteps = """\nrun g.0 on 0\ng.0 map 0x1000 0xa000\ng.0 load 0x1000\n'
        'destroy g\nrun h.0 on 0\nh.0 load 0x1000\n"""\n\n[domains.g]\n\n[domains.h]\nvmid = 1\n'
    )
    out = replay(parse(text), Swallow())
    assert fields(out) == [(6, "cross-vm-tlb", "h.0", 0, 1, "0xa000", [], "g.0", 0, "", 0)]
    assert replay(parse(text), resolve("none")).violations == []


def test_another_vcpus_entry_from_a_shared_table_is_stale_tlb() -> None:
    """g.1 hits, on pCPU 0, the entry g.0 filled there from the table both use; g.1's own IS
    VALE1IS... is dropped by the swallowing hypervisor. The table is one g.1 translates
    through, so the hazard is H1's: stale-tlb, filled by g.0 (another vCPU), covered by
    g.1's vale1is at step 7."""
    steps = """
run g.0 on 0
run g.1 on 1
g.0 map 0x1000 0xa000
g.0 load 0x1000
g.1 load 0x1000
g.1 unmap 0x1000
g.1 tlbi vale1is 0x1000
run g.1 on 0
g.1 load 0x1000
"""
    out = run(steps, "swallow", vcpus=2)
    assert fields(out) == [(9, "stale-tlb", "g.1", 0, 1, "0xa000", [], "g.0", 0, "vale1is", 7)]


# ---- the guest's own errors -------------------------------------------------------------------


REBOUND = """
run g.0 on 0
g.0 table pa
g.0 asid 1
g.0 map 0x1000 0xa000
g.0 load 0x1000
g.0 table pb
"""
"""g.0 fills (ASID 1, 0x1000 -> 0xa000) from table pa (step 5), then binds ASID 1 to table pb
(step 6) with no invalidation in between."""


def test_rebinding_an_asid_without_invalidating_it_is_the_guests_error() -> None:
    """SPEC §5: binding an ASID to another table after using it, with no invalidation of that
    ASID affecting the vCPU in between, is a guest error, reported once at the use that
    exposes it (step 8) and not as a violation: g.0 filled the entry itself."""
    out = run(REBOUND + "g.0 map 0x1000 0xb000\ng.0 load 0x1000")
    assert out.violations == []
    assert errors(out) == [(8, "g.0", "asid-reuse")]
    msg = out.guest_errors[0].message
    assert "ASID 1" in msg and "'pa'" in msg and "'pb'" in msg and "step 5" in msg


@pytest.mark.parametrize(
    ("between", "reported"),
    [
        ("g.0 tlbi aside1 1", False),  # invalidates ASID 1's non-global entries (D8.13)
        ("g.0 tlbi vmalle1", False),  # every stage-1 entry of the VMID
        ("g.0 tlbi aside1 2", True),  # another ASID
        ("g.0 tlbi vae1 0x1000", True),  # by VA: not an invalidation of the ASID
        ("g.1 tlbi aside1is 1", False),  # IS from another vCPU of the VM affects g.0
        ("g.1 tlbi aside1 1", True),  # local to g.1: does not affect g.0
    ],
)
def test_what_counts_as_invalidating_the_asid_before_rebinding_it(
    between: str, reported: bool
) -> None:
    steps = f"""
run g.0 on 0
run g.1 on 1
g.0 table pa
g.0 asid 1
g.0 map 0x2000 0xa000
g.0 load 0x2000
{between}
g.0 table pb
g.0 map 0x1000 0xb000
g.0 load 0x1000
"""
    out = run(steps, "swallow", vcpus=2)
    assert errors(out) == ([(10, "g.0", "asid-reuse")] if reported else [])
    assert out.violations == []


def test_rewriting_a_valid_pte_is_a_break_before_make_error() -> None:
    """Arm ARM D8.16.1: a valid PTE changes its output only through an invalid entry and a
    TLB invalidation; rewriting it with the same output is no change."""
    out = run("run g.0 on 0\ng.0 map 0x1000 0xa000\ng.0 map 0x1000 0xa000")
    assert out.guest_errors == []
    out = run("run g.0 on 0\ng.0 map 0x1000 0xa000\ng.0 map 0x1000 0xb000")
    assert errors(out) == [(3, "g.0", "break-before-make")]
    msg = out.guest_errors[0].message
    assert "0x1000" in msg and "0xa000 -> 0xb000" in msg and "'main'" in msg


@pytest.mark.parametrize(
    ("tlbi", "reported"),
    [
        ("", True),  # no TLBI at all
        ("g.0 tlbi vae1 0x2000", True),  # another VA
        ("g.0 tlbi vae1 0x1000", False),
        ("g.0 tlbi aside1 5", False),  # the diagnostics accept any ASID or all-entries TLBI
        ("g.1 tlbi vale1 0x1000", False),  # ... and any vCPU of the VM's, local or IS
    ],
)
def test_a_new_output_after_an_unmap_needs_a_tlbi_of_that_va(tlbi: str, reported: bool) -> None:
    """Arm ARM D8.16.1 (break-before-make): invalid entry, TLB invalidation, then the new
    output. The diagnostic is lenient: any TLBI of the VA (or of all entries) by any vCPU of
    the VM since the unmap will do. Mapping the old output again needs none."""
    steps = f"""
run g.0 on 0
run g.1 on 1
g.0 map 0x1000 0xa000
g.0 unmap 0x1000
{tlbi}
g.0 map 0x1000 0xb000
"""
    out = run(steps, vcpus=2)
    step = 6 if tlbi else 5
    assert errors(out) == ([(step, "g.0", "break-before-make")] if reported else [])
    if reported:
        assert "no TLB invalidation of it since it was unmapped at step 4" in (
            out.guest_errors[0].message
        )
    same = run("run g.0 on 0\ng.0 map 0x1000 0xa000\ng.0 unmap 0x1000\ng.0 map 0x1000 0xa000")
    assert same.guest_errors == []


def test_ic_ivau_of_an_unmapped_va_is_the_guests_error() -> None:
    """IC IVAU translates its VA (Arm ARM D7.5.9.1: a by-VA cache instruction that faults is
    the guest's fault); of an unmapped VA it names no line."""
    out = run("run g.0 on 0\ng.0 ic ivau 0x3000")
    assert errors(out) == [(2, "g.0", "ic-unmapped")]
    assert "0x3000" in out.guest_errors[0].message
    assert run("run g.0 on 0\ng.0 map 0x3000 0xa000\ng.0 ic ivau 0x3000").guest_errors == []


# ---- AArch32 branch predictions --------------------------------------------------------------

BP_STORY = """
run g.0 on 0
g.0 map 0x8000 0x8000
g.0 fetch 0x8000          # 3: pCPU 0's predictor learns the code (v0) at 0x8000
run g.0 on 1
g.0 write-code 0x8000     # 5: v1
g.0 ic icimvau 0x8000     # 6: by VA, every PE
{bp}
g.0 dsb ish
run g.0 on 0
g.0 fetch 0x8000          # 10: a prediction trained on v0
"""


def test_a_local_bpiall_covers_the_vcpus_own_predictions() -> None:
    """g.0's own BPIALL (local, pCPU 1) covers every prediction for g.0 from step 7 on; on
    pCPU 0 the prediction trained on v0 at step 3 survives: stale-bp, legal only v1."""
    out = run(BP_STORY.format(bp="g.0 bp bpiall"), arch="aarch32")
    assert fields(out) == [
        (10, "stale-bp", "g.0", 0, 8, "0x8000:v0", ["0x8000:v1"], "g.0", 0, "bpiall", 7)
    ]
    assert out.violations[0].filled_at_step == 3
    assert out.guest_errors == []


def test_without_bp_maintenance_the_old_prediction_stays_legal() -> None:
    """No BPIALL/BPIMVA/ICIALLU at all: on bare metal the v0 prediction may still be used, so
    it is legal (the guest's contract never promised otherwise)."""
    out = run(BP_STORY.format(bp="g.0 isb"), arch="aarch32")
    assert out.violations == [] and out.guest_errors == []


def test_bpimva_covers_only_its_va() -> None:
    """BPIMVA 0x8000 covers the prediction for 0x8000 (and a later TLBI of another VA, local
    as well, changes nothing about it); BPIMVA of another VA covers nothing."""
    out = run(BP_STORY.format(bp="g.0 bp bpimva 0x8000"), arch="aarch32")
    assert [(v.category, v.covered_by) for v in out.violations] == [("stale-bp", "bpimva")]
    later = BP_STORY.format(bp="g.0 bp bpimva 0x8000\ng.0 tlbi tlbimva 0x9000")
    out = run(later, arch="aarch32")
    assert [(v.category, v.covered_by, v.covered_at_step) for v in out.violations] == [
        ("stale-bp", "bpimva", 7)
    ]
    out = run(BP_STORY.format(bp="g.0 bp bpimva 0x9000"), arch="aarch32")
    assert out.violations == []


def test_a_prediction_legal_again_after_a_remap_to_its_page() -> None:
    """After g.0's BPIALL (step 6) the table maps 0x1000 to 0xa000 again at step 12, with the
    code still v0: the v0 prediction for 0xa000 is legal again, although the table now maps
    0xb000 (SPEC §5: some instant at or after the covering instruction). The TLBIs are IS, so
    the TLB is clean and the prediction alone is judged."""
    steps = """
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 fetch 0x1000
run g.0 on 1
g.0 unmap 0x1000
g.0 bp bpiall
g.0 tlbi tlbimvais 0x1000
g.0 map 0x1000 0xb000
g.0 unmap 0x1000
g.0 tlbi tlbimvais 0x1000
g.0 isb
g.0 map 0x1000 0xa000
g.0 unmap 0x1000
g.0 tlbi tlbimvais 0x1000
g.0 map 0x1000 0xb000
run g.0 on 0
g.0 fetch 0x1000
"""
    out = run(steps, arch="aarch32")
    assert out.violations == [] and out.guest_errors == []
    # without the return to 0xa000 it is stale: legal only the code now at 0xb000
    gone = steps.replace("g.0 map 0x1000 0xa000\ng.0 unmap", "g.0 isb\ng.0 unmap", 1)
    gone = gone.replace("g.0 isb\ng.0 map 0x1000 0xa000", "g.0 isb\ng.0 isb")
    out = run(gone, arch="aarch32")
    assert [(v.category, v.used, v.legal, v.covered_by) for v in out.violations] == [
        ("stale-bp", "0xa000:v0", ["0xb000:v0"], "bpiall")
    ]


class NoDescheduleDsb(Swallow):
    """As ``Swallow``, and no DSB on the pCPU a vCPU leaves (``Policy.dsb_on_deschedule``)."""

    name = "no-deschedule-dsb"
    dsb_on_deschedule = False


def test_ic_ivau_covers_its_pa_for_the_guest_even_while_it_is_pending() -> None:
    """Incomplete maintenance (Arm ARM B2.3.12: a broadcast completes on other PEs at the
    issuer's DSB). g.0 issues IC IVAU on pCPU 1 and is moved to pCPU 0 before a DSB there; no
    DSB on the pCPU it left, so pCPU 0 keeps the v0 line. As the guest wrote it, IVAU covers
    the PA from its DSB (step 8) on: the v0 fetch at step 9 is stale-icache, legal only v1."""
    steps = """
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 fetch 0x1000
run g.0 on 1
g.0 write-code 0x1000
g.0 ic ivau 0x1000
run g.0 on 0
g.0 dsb ish
g.0 fetch 0x1000
"""
    text = (
        f'pcpus = 2\nincomplete = true\nsteps = """\n{steps.strip()}\n"""\n\n'
        '[domains.g]\nvcpus = 1\narch = "aarch64"\n'
    )
    out = replay(parse(text), NoDescheduleDsb())
    assert fields(out) == [
        (9, "stale-icache", "g.0", 0, 1, "0xa000:v0", ["0xa000:v1"], "g.0", 0, "ivau", 8)
    ]
    assert out.guest_errors == []


def test_each_later_hit_through_a_rebound_asid_is_its_own_guest_error() -> None:
    """The rebinding is reported at the first use through the new table (step 8, a load of
    another VA); the next use, a hit on the old table's entry for 0x1000 (step 9), is the
    guest's doing too (it filled the entry itself, and nothing it wrote covers it): a second
    asid-reuse error naming both tables, never a violation."""
    out = run(REBOUND + "g.0 map 0x2000 0xb000\ng.0 load 0x2000\ng.0 load 0x1000")
    assert out.violations == []
    assert errors(out) == [(8, "g.0", "asid-reuse"), (9, "g.0", "asid-reuse")]
    msg = out.guest_errors[1].message
    assert "0x1000 -> 0xa000" in msg and "'pa'" in msg and "'pb'" in msg


CONFLICT = """
run g.0 on 0
g.0 asid 1
g.0 map 0x1000 0xb000            # 3: a user page (nG) of ASID 1
g.0 load 0x1000                  # 4: pCPU 0 holds (ASID 1, 0x1000 -> 0xb000)
{move}
g.0 unmap 0x1000
{tlbi}
g.0 map 0x1000 0xa000 global     # now a global mapping of the VA
{back}
g.0 asid 2
g.0 load 0x1000                  # misses the ASID-1 entry, fills (global, 0x1000 -> 0xa000)
g.0 asid 1
g.0 load 0x1000                  # both match, with different outputs
"""


def test_two_entries_with_different_outputs_after_the_hypervisor_left_one_stale() -> None:
    """The example tlb-conflict-global: g.0's local VAE1 on pCPU 1 (step 7) covers the ASID-1
    entry on pCPU 0, filled before it (step 4): that entry is the hypervisor's doing, the global
    0xa000 is legal. One tlb-conflict violation naming both outputs, legal 0xa000."""
    steps = CONFLICT.format(
        move="run g.0 on 1", tlbi="g.0 tlbi vae1 0x1000\ng.0 dsb nsh", back="run g.0 on 0"
    )
    out = run(steps)
    assert out.guest_errors == []
    assert [f[:5] + f[6:] for f in fields(out)] == [
        (14, "tlb-conflict", "g.0", 0, 1, ["0xa000"], "g.0", 0, "vae1", 7)
    ]
    assert sorted(out.violations[0].used.split(" + ")) == ["0xa000", "0xb000"]
    assert out.violations[0].filled_at_step == 4


def test_two_entries_with_different_outputs_the_guest_made_are_its_own_error() -> None:
    """No TLBI between the unmap and the new mapping (break-before-make broken, step 6), all
    on one pCPU: both entries are legal for g.0 (nothing it wrote covers either), so the
    conflict is the guest's: two guest errors, no violation."""
    out = run(CONFLICT.format(move="", tlbi="", back=""))
    assert out.violations == []
    assert errors(out) == [(6, "g.0", "break-before-make"), (10, "g.0", "tlb-conflict")]
    assert out.guest_errors[1].message == (
        "2 TLB entries match 0x1000 with different outputs; the guest did not break-before-make"
    )


def test_a_prediction_the_vcpu_trained_before_its_own_table_switch_is_its_own_error() -> None:
    """AArch32: predictions are looked up by ASID and VA. g.0 trains one for 0x1000 -> 0xa000
    (step 3), invalidates ASID 0's TLB entries but not its predictor, and switches to a table
    that maps 0x1000 to 0xb000 under the same ASID: on bare metal its own CPU would predict
    the old code too. A guest error (stale-bp), not a violation."""
    steps = """
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 fetch 0x1000
g.0 tlbi tlbiasid 0
g.0 table as1
g.0 map 0x1000 0xb000
g.0 fetch 0x1000
"""
    out = run(steps, arch="aarch32")
    assert out.violations == []
    assert errors(out) == [(7, "g.0", "stale-bp")]
    assert out.guest_errors[0].message == (
        "prediction for 0x1000 trained before the guest changed tables"
    )


def test_another_vcpus_prediction_from_another_table_is_a_violation() -> None:
    """H2 with the predictor: g.1 trains ASID 0's prediction for 0x1000 on pCPU 0 from its
    table as1 (0xb000); g.0, in main (0xa000), then runs there: it hits g.1's TLB entry
    (cross-vcpu-tlb) and uses g.1's prediction (stale-bp, legal only main's 0xa000 code v0)."""
    steps = """
run g.1 on 0
g.1 table as1
g.1 map 0x1000 0xb000
g.1 fetch 0x1000
run g.1 on 1
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 fetch 0x1000
"""
    out = run(steps, arch="aarch32", vcpus=2)
    assert fields(out) == [
        (8, "cross-vcpu-tlb", "g.0", 0, 1, "0xb000", ["0xa000"], "g.1", 0, "", 0),
        (8, "stale-bp", "g.0", 0, 1, "0xb000:v0", ["0xa000:v0"], "g.1", 0, "", 0),
    ]
    assert [v.filled_at_step for v in out.violations] == [4, 4] and out.guest_errors == []


def test_a_prediction_trained_on_code_the_page_held_after_the_last_bp_maintenance_is_legal() -> (
    None
):
    """After g.0's BPIALL (step 3) the page's code became v1 (step 4) and a prediction was
    trained on it (step 6); the code then became v2 with only the I-cache maintained by VA.
    As the guest wrote it, nothing covers predictions after step 3, and at step 4 the table
    mapped 0x1000 to 0xa000 while the code was v1: the v1 prediction is legal (SPEC §5), no
    violation and no guest error."""
    steps = """
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 bp bpiall
g.0 write-code 0x1000
g.0 fetch 0x1000
g.0 write-code 0x1000
g.0 ic icimvau 0x1000
g.0 fetch 0x1000
"""
    out = run(steps, arch="aarch32")
    assert out.violations == [] and out.guest_errors == []


def test_findings_name_the_file_line_of_their_step() -> None:
    """SPEC §6: each finding carries the line of the litmus file its step was written on
    (blank lines and comments are no steps)."""
    text = (
        'pcpus = 1\nsteps = """\nrun g.0 on 0\n\n# a comment\ng.0 ic ivau 0x3000\n"""\n\n'
        "[domains.g]\n"
    )
    out = replay(parse(text), resolve("none"))
    assert [(g.step, g.line, g.kind) for g in out.guest_errors] == [(2, 6, "ic-unmapped")]


def test_a_conflict_is_the_guests_even_when_another_vcpu_filled_one_legal_entry() -> None:
    """As above, but g.1 fills the global entry on pCPU 0 (step 8): both outputs are still
    legal for g.0 (its table mapped 0xb000, then 0xa000 global, and nothing it wrote covers
    either), so who filled them does not matter: the guest's conflict, not a violation."""
    steps = """
run g.0 on 0
g.0 asid 1
g.0 map 0x1000 0xb000
g.0 load 0x1000
g.0 unmap 0x1000
g.0 map 0x1000 0xa000 global
run g.1 on 0
g.1 load 0x1000
run g.0 on 0
g.0 load 0x1000
"""
    out = run(steps, vcpus=2)
    assert out.violations == []
    assert errors(out) == [(6, "g.0", "break-before-make"), (10, "g.0", "tlb-conflict")]


def test_break_before_make_is_tracked_per_va() -> None:
    """Two pages unmapped; only 0x2000 is invalidated before its new output (no error), while
    0x1000 gets a new output with no TLBI of it since its unmap (step 3): Arm ARM D8.16.1
    broken for 0x1000 alone, at step 8."""
    steps = """
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 unmap 0x1000
g.0 map 0x2000 0xb000
g.0 unmap 0x2000
g.0 tlbi vae1 0x2000
g.0 map 0x2000 0xc000
g.0 map 0x1000 0xd000
"""
    out = run(steps)
    assert errors(out) == [(8, "g.0", "break-before-make")]
    assert "unmapped at step 3" in out.guest_errors[0].message
