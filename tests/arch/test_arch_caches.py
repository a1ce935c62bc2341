"""I-cache and branch-predictor maintenance: what each instruction removes, and where."""

from __future__ import annotations

from vtlbsim.arch.caches import BranchPredictor, CodeLine, ICache
from vtlbsim.arch.machine import Machine
from vtlbsim.arch.ops import HYP_OPS, Arch, BpReading, op
from vtlbsim.guest.domain import Domain
from vtlbsim.guest.tables import Pte
from vtlbsim.hyp.registry import resolve
from vtlbsim.sim.engine import Engine
from vtlbsim.sim.events import Access, AccessKind, Maintain, PteWrite, Run


def line(pa: int) -> CodeLine:
    return CodeLine(pa, 0, "g.0", 1, 0)


def test_icache_is_pa_tagged_per_vm() -> None:
    ic = ICache()
    ic.fill(1, line(0x10))
    ic.fill(2, line(0x10))
    assert ic.invalidate_pa(1, 0x10) == 1
    assert ic.lookup(1, 0x10) is None and ic.lookup(2, 0x10) is not None
    assert ic.invalidate_all() == 1


def test_bp_bpiall_is_per_vmid_and_bpimva_per_va() -> None:
    bp = BranchPredictor()
    for vmid in (1, 2):
        for asid in (0, 1):
            for va in (5, 6):
                bp.train(vmid, asid, va, line(va))
    assert bp.invalidate_va(1, 5) == 2  # both ASIDs of VMID 1 at VA 5
    assert bp.invalidate_vmid(1) == 2  # the rest of VMID 1
    assert len(bp.entries) == 4 and all(k[0] == 2 for k in bp.entries)


def _two_pcpus_with_code(
    arch: Arch, policy: str = "none", bp: BpReading = BpReading()
) -> tuple[Engine, Domain]:
    d = Domain("g", 1, arch, 2)
    e = Engine(Machine(2, bp=bp), [d], resolve(policy))
    e.apply(
        [
            Run("g", 0, 0),
            Run("g", 1, 1),
            PteWrite("g", 0, 3, Pte(0x30, False)),
            Access("g", 0, 3, AccessKind.FETCH),
            Access("g", 1, 3, AccessKind.FETCH),
        ]
    )
    return e, d


def test_local_ic_iallu_empties_only_this_pcpu() -> None:
    e, _ = _two_pcpus_with_code(Arch.AARCH64)
    e.apply([Maintain("g", 1, op(Arch.AARCH64, "iallu"))])
    assert e.machine.pcpus[0].icache.lookup(1, 0x30) is not None
    assert e.machine.pcpus[1].icache.lookup(1, 0x30) is None


def test_ic_ialluis_and_ivau_reach_every_pcpu() -> None:
    for name, va in (("ialluis", 0), ("ivau", 3)):
        e, _ = _two_pcpus_with_code(Arch.AARCH64)
        e.apply([Maintain("g", 1, op(Arch.AARCH64, name), va=va)])
        assert all(p.icache.lookup(1, 0x30) is None for p in e.machine.pcpus), name


def test_bpiall_local_bpiallis_everywhere() -> None:
    e, _ = _two_pcpus_with_code(Arch.AARCH32)
    assert all(p.bp.entries for p in e.machine.pcpus)
    e.apply([Maintain("g", 0, op(Arch.AARCH32, "bpiall"))])
    assert not e.machine.pcpus[0].bp.entries and e.machine.pcpus[1].bp.entries
    e.apply([Maintain("g", 0, op(Arch.AARCH32, "bpiallis"))])
    assert not any(p.bp.entries for p in e.machine.pcpus)


def test_fb_broadcasts_bpiall_and_ic_iallu() -> None:
    """Under the reading where HCR_EL2.FB upgrades BPIALL (the field text)."""
    d = Domain("g", 1, Arch.AARCH32, 2)
    e = Engine(Machine(2, bp=BpReading(True, bpiall_fb_upgrade=True)), [d], resolve("fb"))
    e.apply(
        [
            Run("g", 0, 0),
            Run("g", 1, 1),
            PteWrite("g", 0, 3, Pte(0x30, False)),
            Access("g", 0, 3, AccessKind.FETCH),
            Access("g", 1, 3, AccessKind.FETCH),
            Maintain("g", 1, op(Arch.AARCH32, "iciallu")),
            Maintain("g", 1, op(Arch.AARCH32, "bpiall")),
        ]
    )
    assert not any(p.bp.entries or p.icache.lines for p in e.machine.pcpus)
    assert e.counts["fb-upgrade.ic"] == 1 and e.counts["fb-upgrade.bp"] == 1


def _fb_machine_with_predictions(bp: BpReading) -> Engine:
    return _two_pcpus_with_code(Arch.AARCH32, "fb", bp)[0]


def test_fb_leaves_bpiall_local_by_default_but_iciallu_reaches_every_predictor() -> None:
    """Default reading: HCR_EL2.FB does not upgrade BPIALL (its pseudocode), so vCPU 1's BPIALL
    clears pCPU 1's predictor only; ICIALLU is upgraded and, as ICIALLUIS, also flushes every
    PE's visible predictor (Arm ARM: "also flush branch predictors")."""
    e = _fb_machine_with_predictions(BpReading())
    e.apply([Maintain("g", 1, op(Arch.AARCH32, "bpiall"))])
    assert e.machine.pcpus[0].bp.entries and not e.machine.pcpus[1].bp.entries
    assert e.counts["fb-upgrade.bp"] == 0
    e.apply([Maintain("g", 1, op(Arch.AARCH32, "iciallu"))])
    assert not any(p.bp.entries or p.icache.lines for p in e.machine.pcpus)


def test_invisible_predictors_learn_nothing() -> None:
    """bp_visible = false: BPIALL executes as a NOP and no prediction can be observed, so the
    engine keeps no predictor state at all."""
    e = _fb_machine_with_predictions(BpReading(visible=False))
    assert not any(p.bp.entries for p in e.machine.pcpus)


def test_hypervisor_ic_iallu_flushes_every_vmids_predictions() -> None:
    """The hypervisor's IC IALLU at EL2 flushes the PE's visible predictors (any VMID): an
    AArch64 EL2's predictor flush, it has no BPIALL."""
    e = _fb_machine_with_predictions(BpReading())
    e._hyp(HYP_OPS["iallu"], e.machine.pcpus[0], 99, "load")
    assert not e.machine.pcpus[0].bp.entries and e.machine.pcpus[1].bp.entries
