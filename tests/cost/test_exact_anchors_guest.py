"""Exact mode's anchors for the guest's own maintenance (issue 15 item 6): which core a guest
instruction reaches, under which reason its refills are counted, and what is charged. The
figures, trace and helpers are ``test_exact_anchors.py``'s (anchor-round: tlbi_local 100,
dvm_op 500, dvm_sync 1000, dvm_receive 10, walk_2stage 200, icache_line_refill 20, ic_iallu
300, bp_retrain 5000; steps of 1 ms, 100 charged ones whose references follow the
maintenance queued in steps -1 to 98; a two-reference trace: after a TLB flush a vCPU walks
exactly twice, after an I-cache flush it misses once); every expected value is derived in the
docstring."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_exact_anchors import SHORT_SLICE_MS, TRACE, _fresh_dvm_solutions, exact, only

from vtlbsim.cost.result import CostResult

__all__ = ["_fresh_dvm_solutions"]  # the autouse fixture: each run solves its own DVM steps


# ---- the guest's own maintenance ------------------------------------------------------------
# Which core a guest instruction reaches, under which reason its refills are counted, and what
# is charged. A VM of two vCPUs is pinned on two pCPUs (vCPU k on pCPU k); at 20,000
# instructions per vCPU-second a pCPU issues a Poisson(20) number per 1 ms step, so every step
# has one on each pCPU (P(none in one of the 200 pCPU-steps) < 1e-6). pCPU 0's instructions
# are carried out before pCPU 1's in every step (``evaluate_exact`` walks the running vCPUs in
# pCPU order), so a broadcast from pCPU 0 is what removes pCPU 1's entries first; pCPU 0's own
# entries go to its own instruction (reason ``guest-local``).

BUSY = 20_000.0
"""Instructions per vCPU-second: at least one per pCPU in every 1 ms step."""


def pair(tmp_path: Path, policy: str, name: str, rate: float, **more: object) -> CostResult:
    """``policy`` over one VM of two vCPUs pinned on two pCPUs (vCPU k on pCPU k; a 1 ms
    timeslice) whose guest issues ``name`` at ``rate`` per vCPU-second; ``more``: ``exact``'s
    other arguments."""
    return exact(
        tmp_path,
        policy,
        pcpus=2,
        vms=1,
        vcpus=2,
        ops={"pte_user": name},
        rates={"pte_changes_per_s": rate},
        timeslice_ms=SHORT_SLICE_MS,
        **more,  # type: ignore[arg-type]
    )


def test_the_guests_own_broadcasts_are_the_baseline(tmp_path: Path) -> None:
    """No policy, the guest's own TLBI VMALLE1IS at every step on both pCPUs: nothing the policy
    adds, so nothing is charged (the broadcasts, their stalls and their refills are bare-metal
    behaviour). The refills are counted by reason: pCPU 1's 2 entries go to pCPU 0's broadcast
    at each of the 100 steps (walks:guest-broadcast = 200), pCPU 0's to its own instruction
    (walks:guest-local = 200)."""
    res = pair(tmp_path, "none", "vmalle1is", BUSY)
    only(res)
    assert res.events["walks:guest-broadcast"] == 200.0
    assert res.events["walks:guest-local"] == 200.0
    assert res.events["walks:fb-collateral"] == 0.0
    assert res.events.get("broadcasts-added", 0.0) == 0.0
    assert res.events["guest-maintenance"] == res.events["pte-changes:vmalle1is"]
    assert res.events.get("guest-local-maintenance", 0.0) == 0.0


@pytest.mark.parametrize("plat", [{}, {"dvm_scope": "filtered"}], ids=["system", "filtered"])
def test_an_fb_upgrade_of_a_vm_wide_tlbi_removes_the_sibling_vcpus_entries(
    tmp_path: Path, plat: dict[str, object]
) -> None:
    """FB, the guest's local TLBI VMALLE1 at every step on both pCPUs: each becomes VMALLE1IS.
    pCPU 1's 2 entries of this VM go to pCPU 0's upgraded broadcast at each of the 100 steps:
    walks:fb-collateral = 200, collateral-tlb = 200 x 200 = 40,000 (pCPU 0's own walks stay
    the baseline, walks:guest-local = 200). Each upgraded broadcast sends 2 DVM messages to the
    other busy core, under system scope and under a VMID snoop filter alike (this VM's other
    vCPU runs there): dvm-others = 20 per broadcast. Both pCPUs issue in every step, so the
    issuer waits op + R with D = 1,000 < R <= 2 D: broadcast-issue strictly between 1,400 and
    2,400 per broadcast. No I-cache or predictor maintenance."""
    res = pair(tmp_path, "fb", "vmalle1", BUSY, plat=plat)
    n = res.events["broadcasts-added"]
    assert n == res.events["fb-upgraded"] == res.events["guest-local-maintenance"]
    assert 3_000 < n < 5_000  # Poisson, mean 2 x 2,000
    assert res.events["walks:fb-collateral"] == 200.0
    assert res.events["walks:guest-local"] == 200.0
    assert res.events["walks:guest-broadcast"] == 0.0
    assert res.cycles["collateral-tlb"] == pytest.approx(40_000.0)
    assert res.cycles["dvm-others"] == pytest.approx(20.0 * n)
    assert 1_400.0 * n < res.cycles["broadcast-issue"] < 2_400.0 * n
    for cause in ("tlb-refill", "hyp-flush", "icache-refill", "bp-retrain", "trap"):
        assert res.cycles[cause] == 0.0, cause
    assert res.cost_to_others_pct == pytest.approx(100.0 * (40_000.0 + 20.0 * n) / 2e8)


def test_a_local_tlbi_reaches_only_its_own_core(tmp_path: Path) -> None:
    """No policy, the guest's local TLBI VMALLE1 at 200 per vCPU-second (about 0.2 per step on
    each pCPU, so most steps have none): each removes the 2 entries of its own core only, so the
    walks after them are at most 2 per instruction (fewer when two fall in one step), whatever
    the other core does; nothing is charged."""
    res = pair(tmp_path, "none", "vmalle1", 200.0)
    only(res)
    n = res.events["guest-local-maintenance"]
    assert 20 < n < 60  # Poisson, mean 2 x 20
    assert 0 < res.events["walks:guest-local"] <= 2 * n
    assert res.events["walks:guest-broadcast"] == 0.0


TWO_CODE_PAGES = "I  00010000,4\nI  00011000,4\n L 00020000,8\n"
"""Fetches of pages 16 and 17 (one I-cache line each) and a load of page 32."""
TWO_DATA_PAGES = "I  00010000,4\n L 00020000,8\n L 00021000,8\n"
"""A fetch of page 16 and loads of pages 32 and 33."""


def lone(tmp_path: Path, name: str, rate: float, lackey: str, arch: str = "aarch64") -> CostResult:
    """No policy, one VM of one vCPU on one pCPU whose guest issues ``name`` at ``rate``."""
    return exact(
        tmp_path,
        "none",
        pcpus=1,
        vms=1,
        arch=arch,
        ops={"pte_user": name},
        rates={"pte_changes_per_s": rate},
        lackey=lackey,
        timeslice_ms=SHORT_SLICE_MS,
    )


@pytest.mark.parametrize(("name", "walks"), [("vale1", 100.0), ("vmalle1", 200.0), ("aside1", 0.0)])
def test_what_a_guest_tlbi_removes_on_its_own_core(tmp_path: Path, name: str, walks: float) -> None:
    """The guest's instruction at every step on its own core (nothing charged: no policy).
    By VA it names a page of the vCPU's data (here the only one, page 32): 1 walk after each of
    the 100 steps; VMALLE1 removes both pages' entries: 2 walks a step; ASIDE1 names another
    process's ASID (``exact.OTHER_ASID``), which has no entries: no walk."""
    res = lone(tmp_path, name, BUSY, TRACE)
    only(res)
    assert res.events["walks:guest-local"] == walks


def test_a_by_va_tlbi_removes_one_page(tmp_path: Path) -> None:
    """TLBI VALE1 at 200 per second (about 20 in 0.1 s, most steps none) on a vCPU with two data
    pages: each removes the entry of one of them, so at most one walk follows each."""
    res = lone(tmp_path, "vale1", 200.0, TWO_DATA_PAGES)
    only(res)
    n = res.events["guest-local-maintenance"]
    assert 10 < n < 40
    assert 0 < res.events["walks:guest-local"] <= n


@pytest.mark.parametrize(("name", "misses"), [("iallu", 200.0), ("ialluis", 200.0)])
def test_a_whole_icache_invalidate_removes_every_line(
    tmp_path: Path, name: str, misses: float
) -> None:
    """IC IALLU (or, alone, IC IALLUIS) at every step: both code lines go, 2 misses after each of
    the 100 steps, the guest's own (nothing charged); the TLBs are untouched."""
    res = lone(tmp_path, name, BUSY, TWO_CODE_PAGES)
    only(res)
    assert res.events["icache-misses:guest-local"] == misses
    assert res.events["walks:guest-local"] == 0.0


def test_a_by_va_icache_invalidate_removes_one_page(tmp_path: Path) -> None:
    """IC IVAU at 200 per vCPU-second, a VM of two vCPUs on two pCPUs, each vCPU with two
    private code pages: each names one of its own vCPU's code pages (a code page, not a data
    page; the vCPU's own copy), so at most one I-cache miss follows each, on either core; no TLB
    entry goes."""
    res = pair(tmp_path, "none", "ivau", 200.0, lackey=TWO_CODE_PAGES)
    only(res)
    n = res.events["guest-maintenance"]
    assert 20 < n < 70  # Poisson, mean 2 x 20
    misses = res.events["icache-misses:guest-local"] + res.events["icache-misses:guest-broadcast"]
    assert 0 < misses <= n
    assert res.events["walks:guest-local"] == 0.0


@pytest.mark.parametrize("name", ["iciallu", "bpiall"])
def test_an_fb_upgrade_of_an_aarch32_predictor_flush_retrains_the_other_core(
    tmp_path: Path, name: str
) -> None:
    """FB, an AArch32 VM of two vCPUs on two pCPUs, the guest's ICIALLU (or BPIALL) at every
    step on both: each becomes ICIALLUIS (BPIALLIS: ``bpiall_fb_upgrade``), which flushes the
    visible predictor of the other busy core too: bp-retrain = 5,000 per broadcast (the
    issuer's own retraining is the guest's); 2 DVM messages to it: dvm-others = 20 each. The
    issuer waits op + R (1,000 < R <= 2,000) plus, for ICIALLUIS, the whole-I-cache work beyond
    a local TLBI (300 - 100), against the local instruction's 300 (BPIALL: 100): 1,400 to 2,400
    more each. ICIALLUIS removes pCPU 1's line at each of the 100 steps before pCPU 1's own
    does: icache-refill = 100 x 20 = 2,000; BPIALLIS removes no line."""
    res = pair(tmp_path, "fb", name, BUSY, arch="aarch32")
    n = res.events["broadcasts-added"]
    assert 3_000 < n < 5_000
    refill = 2_000.0 if name == "iciallu" else 0.0
    assert res.events["icache-misses:fb-collateral"] == refill / 20.0
    assert res.cycles["icache-refill"] == pytest.approx(refill)
    assert res.cycles["bp-retrain"] == pytest.approx(5_000.0 * n)
    assert res.cycles["dvm-others"] == pytest.approx(20.0 * n)
    assert 1_400.0 * n < res.cycles["broadcast-issue"] < 2_400.0 * n
    for cause in ("collateral-tlb", "tlb-refill", "hyp-flush", "trap"):
        assert res.cycles[cause] == 0.0, cause
    assert res.events["walks:fb-collateral"] == 0.0
    # all but the issue cost is the other core's
    others = refill + 5_000.0 * n + 20.0 * n
    assert res.cost_to_others_pct == pytest.approx(100.0 * others / 2e8)


def test_the_guests_own_icache_broadcast_retrains_nothing_it_is_charged(tmp_path: Path) -> None:
    """No policy, an AArch32 VM of two vCPUs on two pCPUs issuing its own ICIALLUIS at every
    step: the predictor flushes, stalls and refills it causes are the guest's (nothing
    charged); pCPU 1's line goes to pCPU 0's broadcast (icache-misses:guest-broadcast = 100),
    pCPU 0's to its own (guest-local = 100)."""
    res = pair(tmp_path, "none", "icialluis", BUSY, arch="aarch32")
    only(res)
    assert res.events["icache-misses:guest-broadcast"] == 100.0
    assert res.events["icache-misses:guest-local"] == 100.0


def test_a_predictor_flush_on_invisible_predictors_is_a_nop(tmp_path: Path) -> None:
    """BPIALL where the predictors are not architecturally visible executes as a NOP: not even
    counted as maintenance, whatever FB does with it."""
    res = pair(tmp_path, "fb", "bpiall", BUSY, arch="aarch32", plat={"bp_visible": False})
    only(res)
    assert res.events["pte-changes:bpiall"] > 3_000
    assert res.events.get("guest-maintenance", 0.0) == 0.0


def test_a_by_va_tlbi_names_the_vcpus_own_copy_of_a_private_page(tmp_path: Path) -> None:
    """No policy, the guest's TLBI VALE1IS at every step on both pCPUs of a two-vCPU VM: it
    names a page of the issuing vCPU's private data (page 32 of its own copy), so it removes
    that vCPU's entry only: 1 walk a step on each pCPU, the issuer's own (guest-local = 200),
    none on the other core (guest-broadcast = 0)."""
    res = pair(tmp_path, "none", "vale1is", BUSY)
    only(res)
    assert res.events["walks:guest-local"] == 200.0
    assert res.events["walks:guest-broadcast"] == 0.0


GLOBAL_DATA = "I  00010000,4\n L 800000020000,8\n"
"""A fetch of private page 16 and a load of a kernel (global: at or above 1 << 47) page."""
GLOBAL_CODE = "I  800000010000,4\n L 00020000,8\n"
"""A fetch of a kernel (global) page and a load of private page 32."""


@pytest.mark.parametrize(
    ("name", "lackey", "counter", "local", "broadcast"),
    [
        ("vale1is", GLOBAL_DATA, "walks", 100.0, 100.0),
        ("ivau", GLOBAL_CODE, "icache-misses", 100.0, 100.0),
        ("ivau", TRACE, "icache-misses", 200.0, 0.0),
    ],
    ids=["tlbi-global-page", "ic-global-page", "ic-private-page"],
)
def test_a_broadcast_by_va_on_a_shared_page_reaches_the_other_vcpu(
    tmp_path: Path, name: str, lackey: str, counter: str, local: float, broadcast: float
) -> None:
    """As above, on a VM whose only data page (TLBI) or code page (IC IVAU) is global, i.e.
    the same page for both vCPUs: pCPU 0's broadcast removes pCPU 1's entry (or line) at each
    step before pCPU 1's own does (broadcast = 100) and its own (local = 100). IC IVAU names a
    code page; on a private one (the vCPU's own copy) it reaches only the issuer's line
    (local = 200, broadcast = 0). Nothing is charged: the guest wrote the broadcasts."""
    res = pair(tmp_path, "none", name, BUSY, lackey=lackey)
    only(res)
    assert res.events[f"{counter}:guest-local"] == local
    assert res.events[f"{counter}:guest-broadcast"] == broadcast
