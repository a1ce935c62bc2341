"""The census's own guest programs, as static ELF executables assembled here (no cross compiler):

- ``mark``: executes HINT #127 (an unallocated hint, architecturally a NOP: Arm ARM C6.2.132
  "HINT", F5.1 "hints") and exits; the plugin starts a new phase when it executes it.
- ``mmap``: N times: map 16 anonymous pages, write one word in each, unmap them.
- ``jit``: map one read/write/execute page; N times: write a two-instruction function into it
  (``return i``), make it visible to instruction fetch the way the platform's JITs do, call it.
  AArch64: ``DC CVAU``, ``DSB ISH``, ``IC IVAU``, ``DSB ISH``, ``ISB`` from EL0 (Linux sets
  SCTLR_EL1.UCI; libgcc's ``__clear_cache``). AArch32: the ``cacheflush`` system call
  (0x0f0002, arch/arm/kernel/traps.c ``__do_cache_op``), since EL0 cannot maintain caches.

Encodings follow the Arm ARM (DDI 0487): A64 C6.2 (MOVZ, MOVN, MOVK, ADD/SUBS immediate, ORR
register, STR immediate unsigned offset, B.cond, B, BLR, RET, SVC, DC/IC as SYS, DSB, ISB, HINT),
A32 F5/F6 (MOVW, MOVT, MVN immediate, MOV register, ADD/SUBS immediate, STR immediate, B,
BLX register, SVC, DSB, ISB, HINT). System call numbers: Linux include/uapi/asm-generic/unistd.h
(arm64) and arch/arm/tools/syscall.tbl (EABI).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

LOAD_ADDRESS = 0x400000
"""Where every program is linked (one PT_LOAD segment, read + execute)."""

PAGE = 4096
MAX_ITERATIONS = 65535
"""The programs count iterations in 16 bits (the A64 jit writes the count into a MOVZ)."""
MMAP_PAGES = 16
"""Pages the ``mmap`` program maps, touches and unmaps per iteration."""


# ---- A64 ---------------------------------------------------------------------------------


def a64_movz(rd: int, imm16: int, shift: int = 0) -> int:
    """MOVZ Xd, #imm16, LSL #shift."""
    return 0xD2800000 | (shift // 16) << 21 | (imm16 & 0xFFFF) << 5 | rd


def a64_movk(rd: int, imm16: int, shift: int) -> int:
    """MOVK Xd, #imm16, LSL #shift."""
    return 0xF2800000 | (shift // 16) << 21 | (imm16 & 0xFFFF) << 5 | rd


def a64_movn(rd: int, imm16: int) -> int:
    """MOVN Xd, #imm16 (Xd = ~imm16)."""
    return 0x92800000 | (imm16 & 0xFFFF) << 5 | rd


def a64_mov(rd: int, rm: int) -> int:
    """MOV Xd, Xm (ORR Xd, XZR, Xm)."""
    return 0xAA0003E0 | rm << 16 | rd


def a64_add_imm(rd: int, rn: int, imm12: int, shift12: bool = False) -> int:
    """ADD Xd, Xn, #imm12{, LSL #12}."""
    return 0x91000000 | int(shift12) << 22 | (imm12 & 0xFFF) << 10 | rn << 5 | rd


def a64_subs_imm(rd: int, rn: int, imm12: int) -> int:
    """SUBS Xd, Xn, #imm12."""
    return 0xF1000000 | (imm12 & 0xFFF) << 10 | rn << 5 | rd


def a64_str(rt: int, rn: int, offset: int = 0) -> int:
    """STR Xt, [Xn, #offset] (unsigned offset, a multiple of 8)."""
    return 0xF9000000 | (offset // 8) << 10 | rn << 5 | rt


def a64_str_w(rt: int, rn: int, offset: int = 0) -> int:
    """STR Wt, [Xn, #offset] (unsigned offset, a multiple of 4)."""
    return 0xB9000000 | (offset // 4) << 10 | rn << 5 | rt


def a64_b_ne(offset: int) -> int:
    """B.NE to ``offset`` bytes from this instruction."""
    return 0x54000001 | ((offset // 4) & 0x7FFFF) << 5


def a64_blr(rn: int) -> int:
    return 0xD63F0000 | rn << 5


A64_RET = 0xD65F03C0
A64_SVC0 = 0xD4000001
A64_DSB_ISH = 0xD5033B9F
A64_ISB = 0xD5033FDF
A64_MARK = 0xD5032FFF
"""HINT #127: 1101 0101 0000 0011 0010 CRm=1111 op2=111 11111."""


def a64_dc_cvau(rt: int) -> int:
    """DC CVAU, Xt = SYS #3, C7, C11, #1, Xt."""
    return 0xD50B7B20 | rt


def a64_ic_ivau(rt: int) -> int:
    """IC IVAU, Xt = SYS #3, C7, C5, #1, Xt."""
    return 0xD50B7520 | rt


def a64_mov32(rd: int, value: int) -> list[int]:
    """Xd = a 32-bit constant (MOVZ + MOVK)."""
    return [a64_movz(rd, value & 0xFFFF), a64_movk(rd, value >> 16, 16)]


# ---- A32 ---------------------------------------------------------------------------------

AL = 0xE0000000


def a32_movw(rd: int, imm16: int) -> int:
    """MOVW Rd, #imm16 (A2 encoding)."""
    return AL | 0x03000000 | (imm16 >> 12 & 0xF) << 16 | rd << 12 | (imm16 & 0xFFF)


def a32_movt(rd: int, imm16: int) -> int:
    """MOVT Rd, #imm16."""
    return AL | 0x03400000 | (imm16 >> 12 & 0xF) << 16 | rd << 12 | (imm16 & 0xFFF)


def a32_mov32(rd: int, value: int) -> list[int]:
    out = [a32_movw(rd, value & 0xFFFF)]
    if value >> 16:
        out.append(a32_movt(rd, value >> 16))
    return out


def a32_mvn_zero(rd: int) -> int:
    """MVN Rd, #0 (Rd = 0xffffffff)."""
    return AL | 0x03E00000 | rd << 12


def a32_mov(rd: int, rm: int) -> int:
    return AL | 0x01A00000 | rd << 12 | rm


def a32_add_imm(rd: int, rn: int, imm12: int) -> int:
    """ADD Rd, Rn, #<modified immediate imm12>."""
    return AL | 0x02800000 | rn << 16 | rd << 12 | imm12


A32_IMM_4096 = 0xA01
"""4096 as an A32 modified immediate: 0x01 rotated right by 2 * 10."""


def a32_subs_imm(rd: int, rn: int, imm8: int) -> int:
    return AL | 0x02500000 | rn << 16 | rd << 12 | imm8


def a32_str(rt: int, rn: int, offset: int = 0) -> int:
    """STR Rt, [Rn, #offset]."""
    return AL | 0x05800000 | rn << 16 | rt << 12 | offset


def a32_bne(offset: int) -> int:
    """BNE to ``offset`` bytes from this instruction (the PC reads 8 ahead)."""
    return 0x1A000000 | ((offset - 8) // 4) & 0xFFFFFF


def a32_blx(rm: int) -> int:
    return AL | 0x012FFF30 | rm


A32_BX_LR = 0xE12FFF1E
A32_SVC0 = 0xEF000000
A32_DSB_ISH = 0xF57FF04B
A32_ISB = 0xF57FF06F
A32_MARK = 0xE320F07F
"""HINT #127: cond 0011 0010 0000 1111 0000 imm8=0x7f."""


# ---- system calls ------------------------------------------------------------------------


@dataclass(frozen=True)
class Abi:
    """How one architecture's Linux ABI is spoken here."""

    name: str
    machine: int
    elf64: bool
    exit_group: int
    mmap: int
    munmap: int
    syscall_reg: int
    word: Callable[[int, int], list[int]]


A64_ABI = Abi("aarch64", 183, True, 94, 222, 215, 8, a64_mov32)
A32_ABI = Abi("arm", 40, False, 248, 192, 91, 7, a32_mov32)
ARM_CACHEFLUSH = 0x0F0002
PROT_RW, PROT_RWX = 3, 7
MAP_PRIVATE_ANON = 0x22


def _a64_exit() -> list[int]:
    return [a64_movz(0, 0), a64_movz(8, A64_ABI.exit_group), A64_SVC0]


def _a32_exit() -> list[int]:
    return [a32_movw(0, 0), *a32_mov32(7, A32_ABI.exit_group), A32_SVC0]


def _a64_mmap(length: int, prot: int) -> list[int]:
    """x0 = mmap(NULL, length, prot, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)."""
    return [
        a64_movz(0, 0),
        *a64_mov32(1, length),
        a64_movz(2, prot),
        a64_movz(3, MAP_PRIVATE_ANON),
        a64_movn(4, 0),
        a64_movz(5, 0),
        a64_movz(8, A64_ABI.mmap),
        A64_SVC0,
    ]


def _a32_mmap(length: int, prot: int) -> list[int]:
    """r0 = mmap2(NULL, length, prot, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)."""
    return [
        a32_movw(0, 0),
        *a32_mov32(1, length),
        a32_movw(2, prot),
        a32_movw(3, MAP_PRIVATE_ANON),
        a32_mvn_zero(4),
        a32_movw(5, 0),
        *a32_mov32(7, A32_ABI.mmap),
        A32_SVC0,
    ]


def mark(arch: str) -> list[int]:
    """HINT #127, then exit_group(0)."""
    return [A64_MARK, *_a64_exit()] if arch == "aarch64" else [A32_MARK, *_a32_exit()]


def mmap_loop(arch: str, iterations: int) -> list[int]:
    """``iterations`` × (mmap 16 pages, store to each, munmap)."""
    length = MMAP_PAGES * PAGE
    if arch == "aarch64":
        body = [
            *_a64_mmap(length, PROT_RW),
            a64_mov(19, 0),  # x19 = the mapping
            a64_mov(9, 0),
            a64_movz(10, MMAP_PAGES),
            # touch: str x10, [x9]; add x9, x9, #4096; subs x10, x10, #1; b.ne touch
            a64_str(10, 9),
            a64_add_imm(9, 9, 1, shift12=True),
            a64_subs_imm(10, 10, 1),
            a64_b_ne(-12),
            a64_mov(0, 19),
            *a64_mov32(1, length),
            a64_movz(8, A64_ABI.munmap),
            A64_SVC0,
            a64_subs_imm(20, 20, 1),
        ]
        prologue = a64_mov32(20, iterations)
        loop = [*body, a64_b_ne(-4 * len(body))]
        return [*prologue, *loop, *_a64_exit()]
    body = [
        *_a32_mmap(length, PROT_RW),
        a32_mov(8, 0),  # r8 = the mapping
        a32_mov(9, 0),
        a32_movw(10, MMAP_PAGES),
        a32_str(10, 9),
        a32_add_imm(9, 9, A32_IMM_4096),
        a32_subs_imm(10, 10, 1),
        a32_bne(-12),
        a32_mov(0, 8),
        *a32_mov32(1, length),
        *a32_mov32(7, A32_ABI.munmap),
        A32_SVC0,
        a32_subs_imm(6, 6, 1),
    ]
    return [*a32_mov32(6, iterations), *body, a32_bne(-4 * len(body)), *_a32_exit()]


def jit_loop(arch: str, iterations: int) -> list[int]:
    """Map one RWX page; ``iterations`` × (write ``return i``, make it fetchable, call it)."""
    if not 0 < iterations <= MAX_ITERATIONS:
        raise ValueError(f"jit: iterations must be 1..{MAX_ITERATIONS}")
    if arch == "aarch64":
        movz_x0 = a64_movz(0, 0)
        body = [
            # w11 = MOVZ X0, #(i & 0xffff): movz_x0 | (i & 0xffff) << 5
            a64_mov(11, 20),
            *a64_mov32(12, movz_x0),
            # orr w11, w12, w11, lsl #5  (ORR shifted register, 32-bit)
            0x2A000000 | 11 << 16 | 5 << 10 | 12 << 5 | 11,
            a64_str_w(11, 19, 0),
            a64_str_w(13, 19, 4),  # RET
            a64_dc_cvau(19),
            A64_DSB_ISH,
            a64_ic_ivau(19),
            A64_DSB_ISH,
            A64_ISB,
            a64_blr(19),
            a64_subs_imm(20, 20, 1),
        ]
        return [
            *_a64_mmap(PAGE, PROT_RWX),
            a64_mov(19, 0),
            *a64_mov32(13, A64_RET),
            *a64_mov32(20, iterations),
            *body,
            a64_b_ne(-4 * len(body)),
            *_a64_exit(),
        ]
    body = [
        # r11 = MOVW r0, #(i & 0xff) = 0xe3000000 | (i & 0xff)  (r6 counts the iterations down)
        *a32_mov32(12, 0xE3000000),
        AL | 0x02000000 | 6 << 16 | 11 << 12 | 0xFF,  # and r11, r6, #0xff
        AL | 0x01800000 | 12 << 16 | 11 << 12 | 11,  # orr r11, r12, r11
        a32_str(11, 8, 0),
        a32_str(10, 8, 4),  # BX LR
        a32_mov(0, 8),
        a32_add_imm(1, 8, 8),
        a32_movw(2, 0),
        *a32_mov32(7, ARM_CACHEFLUSH),
        A32_SVC0,
        a32_blx(8),
        a32_subs_imm(6, 6, 1),
    ]
    return [
        *_a32_mmap(PAGE, PROT_RWX),
        a32_mov(8, 0),
        *a32_mov32(10, A32_BX_LR),
        *a32_mov32(6, iterations),
        *body,
        a32_bne(-4 * len(body)),
        *_a32_exit(),
    ]


def elf(arch: str, code: list[int]) -> bytes:
    """A static ELF executable whose one PT_LOAD segment (R+X) holds ``code`` at its entry."""
    text = b"".join(struct.pack("<I", w) for w in code)
    if arch == "aarch64":
        ehsize, phsize = 64, 56
        entry = LOAD_ADDRESS + ehsize + phsize
        size = ehsize + phsize + len(text)
        ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
        header = ident + struct.pack(
            "<HHIQQQIHHHHHH", 2, 183, 1, entry, ehsize, 0, 0, ehsize, phsize, 1, 0, 0, 0
        )
        phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, LOAD_ADDRESS, LOAD_ADDRESS, size, size, PAGE)
    else:
        ehsize, phsize = 52, 32
        entry = LOAD_ADDRESS + ehsize + phsize
        size = ehsize + phsize + len(text)
        ident = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)
        # e_flags 0x05000000: EABI version 5 (no float ABI needed: no FP instructions)
        header = ident + struct.pack(
            "<HHIIIIIHHHHHH", 2, 40, 1, entry, ehsize, 0, 0x05000000, ehsize, phsize, 1, 0, 0, 0
        )
        phdr = struct.pack("<IIIIIIII", 1, 0, LOAD_ADDRESS, LOAD_ADDRESS, size, size, 5, PAGE)
    return header + phdr + text
