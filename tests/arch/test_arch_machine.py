"""The machine's construction, its errors and the small lookups of arch/ops.py, each expectation
worked out by hand (the second arch/ mutation run's survivors, docs/testing.md).

- Sockets are contiguous blocks of ceil(P / S) pCPUs (machine.py's docstring).
- Bad sizes are refused with a message naming what was expected (DEVELOPERS.md rule 4).
- A branch-predictor reading where predictions are invisible has one spelling: whether FB
  upgrades BPIALL is moot there (``BpReading.normalised``).
"""

from __future__ import annotations

import pytest

from vtlbsim.arch.machine import Machine
from vtlbsim.arch.ops import Arch, BpReading, Structure, op, ops_for
from vtlbsim.arch.tlb import GLOBAL, TlbEntry


def test_sockets_are_blocks_of_the_rounded_up_share() -> None:
    """7 pCPUs in 3 sockets: blocks of ceil(7/3) = 3 -> 0,0,0,1,1,1,2 (pCPU 5 is in socket 1:
    5 // 3 = 1). 4 in 4: one each. The machine keeps the socket count it was given."""
    m = Machine(7, 3)
    assert [p.socket for p in m.pcpus] == [0, 0, 0, 1, 1, 1, 2]
    assert all(type(p.socket) is int for p in m.pcpus)
    assert m.sockets == 3 and len(m) == 7
    assert [p.index for p in m.pcpus] == list(range(7))
    assert [p.socket for p in Machine(4, 4).pcpus] == [0, 1, 2, 3]
    assert Machine(4).sockets == 1 and {p.socket for p in Machine(4).pcpus} == {0}


def test_bad_sizes_say_what_was_expected() -> None:
    with pytest.raises(ValueError) as e:
        Machine(0)
    assert str(e.value) == "a machine needs at least one pCPU"
    with pytest.raises(ValueError) as e:
        Machine(2, 3)
    assert str(e.value) == "sockets must be between 1 and the pCPU count"


def test_an_unknown_instruction_names_itself_and_the_architecture() -> None:
    """BPIALL is AArch32-only; VAE1 has no AArch32 spelling."""
    with pytest.raises(KeyError) as e:
        op(Arch.AARCH64, "bpiall")
    assert e.value.args == ("bpiall does not exist on aarch64",)
    with pytest.raises(KeyError) as e:
        op(Arch.AARCH32, "vae1")
    assert e.value.args == ("vae1 does not exist on aarch32",)


def test_invisible_predictors_have_one_reading() -> None:
    """Invisible: the FB reading is dropped (False, False); visible readings are kept as given;
    the machine stores the normalised reading."""
    assert BpReading(False, True).normalised() == BpReading(False, False)
    assert BpReading(False, False).normalised() == BpReading(False, False)
    assert BpReading(True, True).normalised() == BpReading(True, True)
    assert BpReading(True, False).normalised() == BpReading(True, False)
    assert Machine(2, bp=BpReading(False, True)).bp == BpReading(False, False)
    assert Machine(2, bp=BpReading(False, True)).bp.name == "invisible"


def test_ops_for_lists_one_structure_of_one_architecture() -> None:
    """Branch-predictor maintenance exists on AArch32 only (Arm ARM G4.4.1): BPIALL, BPIALLIS,
    BPIMVA; the I-cache instructions: IC IALLU, IALLUIS, IVAU (AArch32: ICIALLU, ICIALLUIS,
    ICIMVAU)."""
    assert ops_for(Arch.AARCH64, Structure.BP) == []
    assert [o.name for o in ops_for(Arch.AARCH32, Structure.BP)] == [
        "bpiall",
        "bpiallis",
        "bpimva",
    ]
    assert [o.name for o in ops_for(Arch.AARCH64, Structure.ICACHE)] == [
        "iallu",
        "ialluis",
        "ivau",
    ]
    assert [o.name for o in ops_for(Arch.AARCH32, Structure.ICACHE)] == [
        "iciallu",
        "icialluis",
        "icimvau",
    ]
    tlb64 = ops_for(Arch.AARCH64, Structure.TLB)
    assert "vale1is" in [o.name for o in tlb64]
    assert all(o.arch is Arch.AARCH64 and o.structure is Structure.TLB for o in tlb64)


def test_tlb_entry_repr() -> None:
    assert repr(TlbEntry(1, GLOBAL, 0x1000, 0xA000, "g.0", "main", 3, 0)) == (
        "TlbEntry(vmid 1, global, 0x1000->0xa000, by g.0)"
    )
    assert repr(TlbEntry(2, 5, 0x20, 0xB0, "h.1", "main", 3, 1)) == (
        "TlbEntry(vmid 2, asid 5, 0x20->0xb0, by h.1)"
    )
