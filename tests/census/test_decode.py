"""The census plugin's decoder against encodings worked out by hand from the Arm ARM (DDI 0487):
each expected word is assembled from the encoding diagram cited beside it, not by the code under
test. The decoder is the plugin's own C (built with the system compiler by the package Makefile)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vtlbsim.census import cond
from vtlbsim.census.fetch import cache_dir
from vtlbsim.census.plugin import build

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None or shutil.which("make") is None, reason="needs a C compiler"
)

A64, A32, T32, T16 = 0, 1, 2, 3


@pytest.fixture(scope="module")
def decoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("census-cache"), lambda s: None)[1]


def sys_a64(op1: int, crn: int, crm: int, op2: int, rt: int = 31) -> int:
    """SYS #op1, Cn, Cm, #op2, Xt: 1101 0101 0000 1 op1 CRn CRm op2 Rt (C6.2.372 "SYS")."""
    return 0xD5080000 | op1 << 16 | crn << 12 | crm << 8 | op2 << 5 | rt


def msr_a64(op1: int, crn: int, crm: int, op2: int, rt: int = 0) -> int:
    """MSR (register) with op0 = 3: 1101 0101 0001 1 op1 CRn CRm op2 Rt (C6.2.249)."""
    return 0xD5180000 | op1 << 16 | crn << 12 | crm << 8 | op2 << 5 | rt


def mcr(opc1: int, crn: int, crm: int, opc2: int, rt: int = 0, cond_: int = 0xE) -> int:
    """MCR p15, opc1, Rt, CRn, CRm, opc2: cond 1110 opc1 0 CRn Rt 1111 opc2 1 CRm (F5.1.101)."""
    return cond_ << 28 | 0x0E000F10 | opc1 << 21 | crn << 16 | rt << 12 | opc2 << 5 | crm


A64_CASES = [
    # TLBI: C5.5 table "TLBI instructions" (op1, CRn=8, CRm, op2).
    (sys_a64(0, 8, 3, 0), "vmalle1is"),
    (sys_a64(0, 8, 3, 1, 0), "vae1is"),
    (sys_a64(0, 8, 3, 2, 0), "aside1is"),
    (sys_a64(0, 8, 3, 3, 0), "vaae1is"),
    (sys_a64(0, 8, 3, 5, 0), "vale1is"),
    (sys_a64(0, 8, 3, 7, 0), "vaale1is"),
    (sys_a64(0, 8, 7, 0), "vmalle1"),
    (sys_a64(0, 8, 7, 5, 3), "vale1"),
    (sys_a64(0, 8, 1, 1, 0), "vae1os"),
    (sys_a64(0, 8, 2, 1, 0), "rvae1is"),
    (sys_a64(0, 8, 6, 5, 0), "rvale1"),
    (0xD50893A0, "vale1isnxs"),  # CRn = 9: the FEAT_XS nXS form
    (sys_a64(4, 8, 7, 6), "vmalls12e1"),
    (0xD50C87DF, "vmalls12e1"),  # the word in Xen 4.17's p2m_restore_state
    (sys_a64(4, 8, 3, 6), "vmalls12e1is"),
    (sys_a64(4, 8, 3, 4), "alle1is"),
    (sys_a64(4, 8, 7, 4), "alle1"),
    (sys_a64(4, 8, 7, 0), "alle2"),
    (sys_a64(4, 8, 3, 1, 0), "vae2is"),
    (sys_a64(4, 8, 0, 1, 0), "ipas2e1is"),
    (sys_a64(4, 8, 4, 5, 0), "ipas2le1"),
    (sys_a64(6, 8, 7, 0), "alle3"),
    # IC / DC: C5.5 "IC", "DC".
    (sys_a64(0, 7, 1, 0), "ialluis"),
    (sys_a64(0, 7, 5, 0), "iallu"),
    (sys_a64(3, 7, 5, 1, 1), "ivau"),
    (sys_a64(3, 7, 11, 1, 1), "dc cvau"),
    (sys_a64(3, 7, 14, 1, 0), "dc civac"),
    (sys_a64(3, 7, 4, 1, 0), "dc zva"),
    (sys_a64(0, 7, 6, 1, 0), "dc ivac"),
    (sys_a64(0, 7, 8, 0, 0), "at s1e1r"),
    # Barriers: C6.2.109 DSB (CRm = option), C6.2.107 DMB, C6.2.139 ISB.
    (0xD5033B9F, "dsb ish"),
    (0xD5033A9F, "dsb ishst"),
    (0xD5033F9F, "dsb sy"),
    (0xD503379F, "dsb nsh"),
    (0xD5033BBF, "dmb ish"),
    (0xD5033FDF, "isb"),
    # MSR (register): D23 encodings.
    (msr_a64(0, 2, 0, 0), "msr ttbr0_el1"),
    (msr_a64(0, 2, 0, 1, 1), "msr ttbr1_el1"),
    (msr_a64(0, 13, 0, 1, 2), "msr contextidr_el1"),
    (msr_a64(4, 2, 1, 0, 2), "msr vttbr_el2"),
    (msr_a64(4, 1, 1, 0, 2), "msr hcr_el2"),
    (msr_a64(0, 12, 0, 0), "msr vbar_el1"),
    # Exceptions: C6.2.365 SVC (11010100 000 imm16 000 01), HVC (...10), SMC (...11), ERET.
    (0xD4000001, "svc"),
    (0xD4000001 | 0x1234 << 5, "svc"),
    (0xD4000002, "hvc"),
    (0xD4000003, "smc"),
    (0xD69F03E0, "eret"),
    # Hints: HINT #imm = 0xD503201F | imm << 5.
    (0xD503201F | 3 << 5, "wfi"),
    (0xD503201F | 2 << 5, "wfe"),
    (0xD503201F | 127 << 5, "hint #127"),
    (0xD503201F | 22 << 5, "clrbhb"),
]
A64_NOT_COUNTED = [
    0xD503201F,  # NOP
    0xD5381001,  # MRS X1, SCTLR_EL1 (L = 1)
    msr_a64(0, 1, 0, 2),  # MSR CPACR_EL1: not a register the census follows
    0x8B020021,  # ADD X1, X1, X2
    0xD65F03C0,  # RET
    sys_a64(0, 8, 3, 4),  # op2 = 4 with CRm = 3, op1 = 0: unallocated TLBI
]

A32_CASES = [
    # CP15 operations: G8.2 (AArch32 System instructions), MCR p15 encodings.
    (mcr(0, 8, 7, 1), "tlbimva", 14),
    (mcr(0, 8, 7, 0), "tlbiall", 14),
    (mcr(0, 8, 7, 2), "tlbiasid", 14),
    (mcr(0, 8, 7, 3), "tlbimvaa", 14),
    (mcr(0, 8, 3, 0), "tlbiallis", 14),
    (mcr(0, 8, 3, 1), "tlbimvais", 14),
    (mcr(0, 8, 3, 2), "tlbiasidis", 14),
    (mcr(0, 8, 3, 3, 3), "tlbimvaais", 14),
    (mcr(0, 8, 6, 0), "dtlbiall", 14),
    (mcr(0, 8, 5, 1), "itlbimva", 14),
    (mcr(4, 8, 7, 0), "tlbiallh", 14),
    (mcr(4, 8, 7, 4), "tlbiallnsnh", 14),
    (mcr(4, 8, 3, 4), "tlbiallnsnhis", 14),
    (mcr(0, 7, 5, 0), "iciallu", 14),
    (mcr(0, 7, 1, 0), "icialluis", 14),
    (mcr(0, 7, 5, 1), "icimvau", 14),
    (mcr(0, 7, 5, 6), "bpiall", 14),
    (mcr(0, 7, 1, 6), "bpiallis", 14),
    (mcr(0, 7, 5, 7), "bpimva", 14),
    (mcr(0, 7, 11, 1), "dccmvau", 14),
    (mcr(0, 2, 0, 0), "mcr ttbr0", 14),
    (mcr(0, 13, 0, 1), "mcr contextidr", 14),
    (mcr(0, 3, 0, 0), "mcr dacr", 14),
    (mcr(4, 1, 1, 0), "mcr hcr", 14),
    # Conditional forms keep their condition field (NE = 0001, as in Linux's tst/mcrne pairs).
    (mcr(0, 8, 7, 1, 2, cond_=1), "tlbimva", 1),
    (0x1E083F73, "tlbimvaais", 1),  # mcrne p15, 0, r3, c8, c3, 3 (armmp flush_tlb_page)
    # MCRR p15, opc1, Rt, Rt2, CRm: cond 1100 0100 Rt2 Rt 1111 opc1 CRm (F5.1.103).
    (0xEC410F02, "mcrr ttbr0", 14),
    (0xEC410F62, "mcrr vttbr", 14),
    # Barriers F5.1.44 DSB (1111 0101 0111 1111 1111 0000 0100 option), DMB, ISB.
    (0xF57FF04B, "dsb ish", 14),
    (0xF57FF05B, "dmb ish", 14),
    (0xF57FF06F, "isb", 14),
    # SVC cond 1111 imm24; HVC cond 0001 0100 imm12 0111 imm4; ERET cond 0001 0110 ... 0110 1110.
    (0xEF000000, "svc", 14),
    (0xE1400070, "hvc", 14),
    (0xE160006E, "eret", 14),
    (0xE320F003, "wfi", 14),
    (0xE320F07F, "hint #127", 14),
]
A32_NOT_COUNTED = [
    0xE320F000,  # NOP
    0xEE120F10,  # MRC p15, 0, r0, c2, c0, 0 (a read: L = 1)
    0xEE080E37,  # coprocessor 14, not 15
    0xE0800001,  # ADD r0, r0, r1
]

T32_CASES = [
    # MCR T1: 1110 1110 opc1 0 CRn | Rt 1111 opc2 1 CRm (hw1 << 16 | hw2).
    (T32, 0xEE080F37, "tlbimva"),
    (T32, 0xEE070F15, "iciallu"),
    (T32, 0xF3BF8F5B, "dmb ish"),
    (T32, 0xF3BF8F4B, "dsb ish"),
    (T32, 0xF3BF8F6F, "isb"),
    (T32, 0xF7E08000, "hvc"),
    (T32, 0xF3DE8F00, "eret"),  # SUBS PC, LR, #0
    (T16, 0xDF00, "svc"),
    (T16, 0xBF30, "wfi"),
    (T16, 0xBF20, "wfe"),
]


@pytest.mark.parametrize(("word", "name"), A64_CASES)
def test_a64(decoder: Path, word: int, name: str) -> None:
    assert cond.decode(decoder, A64, word) == (name, 14)


@pytest.mark.parametrize("word", A64_NOT_COUNTED)
def test_a64_not_counted(decoder: Path, word: int) -> None:
    assert cond.decode(decoder, A64, word)[0] is None


@pytest.mark.parametrize(("word", "name", "condition"), A32_CASES)
def test_a32(decoder: Path, word: int, name: str, condition: int) -> None:
    assert cond.decode(decoder, A32, word) == (name, condition)


@pytest.mark.parametrize("word", A32_NOT_COUNTED)
def test_a32_not_counted(decoder: Path, word: int) -> None:
    assert cond.decode(decoder, A32, word)[0] is None


@pytest.mark.parametrize(("isa", "word", "name"), T32_CASES)
def test_t32(decoder: Path, isa: int, word: int, name: str) -> None:
    assert cond.decode(decoder, isa, word)[0] == name


def test_it_instruction_is_not_a_hint(decoder: Path) -> None:
    """0xBF08 is IT EQ (low nibble non-zero), not a hint."""
    assert cond.decode(decoder, T16, 0xBF08)[0] is None


def test_the_default_cache_is_under_the_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VTLBSIM_CENSUS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/x")
    assert cache_dir() == Path("/x/vtlbsim/census")


def test_conditional_candidates_in_an_image(decoder: Path) -> None:
    """Only conditional words the census counts are candidates, at base + 4 * index."""
    words = [
        mcr(0, 8, 7, 1, cond_=1),  # tlbimva, NE: a candidate
        mcr(0, 8, 7, 1),  # always: not a candidate
        0x1320F002,  # WFE NE: a candidate
        0x10800001,  # ADDNE r0, r0, r1: conditional but not counted
        mcr(0, 8, 3, 3, 3, cond_=0),  # tlbimvaais, EQ
    ]
    image = b"".join(w.to_bytes(4, "little") for w in words)
    found = cond.conditional_candidates(image, 0xC0008000, decoder)
    assert found == [
        (0xC0008000, "tlbimva", 1),
        (0xC0008008, "wfe", 1),
        (0xC0008010, "tlbimvaais", 0),
    ]
