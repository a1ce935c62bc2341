"""The census's hand-assembled guest programs and initramfs: encodings worked out by hand from
the Arm ARM's encoding diagrams (bit strings in the comments), and the cpio layout from the
kernel's Documentation/driver-api/early-userspace/buffer-format.rst."""

from __future__ import annotations

import gzip
import struct

import pytest

from vtlbsim.census import initramfs, programs


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        # MOVZ X8, #94: sf=1 opc=10 100101 hw=00 imm16=0000000001011110 Rd=01000
        (programs.a64_movz(8, 94), 0b1_10_100101_00_0000000001011110_01000),
        # MOVK X13, #0xd65f, LSL #16: sf=1 opc=11 100101 hw=01 imm16 Rd=01101
        (programs.a64_movk(13, 0xD65F, 16), 0b1_11_100101_01_1101011001011111_01101),
        # MOVN X4, #0 (X4 = -1): sf=1 opc=00 100101 hw=00 imm16=0 Rd=00100
        (programs.a64_movn(4, 0), 0b1_00_100101_00_0000000000000000_00100),
        # ADD X9, X9, #1, LSL #12: sf=1 op=0 S=0 100010 sh=1 imm12=1 Rn=01001 Rd=01001
        (programs.a64_add_imm(9, 9, 1, shift12=True), 0b1_0_0_100010_1_000000000001_01001_01001),
        # SUBS X20, X20, #1: sf=1 op=1 S=1 100010 sh=0 imm12=1 Rn=10100 Rd=10100
        (programs.a64_subs_imm(20, 20, 1), 0b1_1_1_100010_0_000000000001_10100_10100),
        # STR X10, [X9]: size=11 111 0 01 opc=00 imm12=0 Rn=01001 Rt=01010
        (programs.a64_str(10, 9), 0b11_111_0_01_00_000000000000_01001_01010),
        # B.NE -12: 0101010 0 imm19=-3 0 cond=0001
        (programs.a64_b_ne(-12), 0b0101010_0 << 24 | (0x7FFFD << 5) | 1),
        # IC IVAU, X19 = SYS #3, C7, C5, #1: 1101010100 0 01 011 0111 0101 001 10011
        (programs.a64_ic_ivau(19), 0b1101010100_0_01_011_0111_0101_001_10011),
        # DC CVAU, X19 = SYS #3, C7, C11, #1
        (programs.a64_dc_cvau(19), 0b1101010100_0_01_011_0111_1011_001_10011),
        # HINT #127: 1101010100 0 00 011 0010 CRm=1111 op2=111 11111
        (programs.A64_MARK, 0b1101010100_0_00_011_0010_1111_111_11111),
        # SVC #0: 11010100 000 imm16=0 000 01
        (programs.A64_SVC0, 0b11010100_000_0000000000000000_000_01),
        # MOVW r7, #248: cond=1110 0011 0000 imm4=0000 Rd=0111 imm12=0000 1111 1000
        (programs.a32_movw(7, 248), 0b1110_0011_0000_0000_0111_000011111000),
        # MOVT r7, #15: cond=1110 0011 0100 imm4=0000 Rd=0111 imm12=15
        (programs.a32_movt(7, 15), 0b1110_0011_0100_0000_0111_000000001111),
        # ADD r9, r9, #4096: cond 001 0100 S=0 Rn=1001 Rd=1001 rotate=1010 imm8=00000001
        (
            programs.a32_add_imm(9, 9, programs.A32_IMM_4096),
            0b1110_001_0100_0_1001_1001_1010_00000001,
        ),
        # SUBS r6, r6, #1: cond 001 0010 S=1 Rn=0110 Rd=0110 imm12=1
        (programs.a32_subs_imm(6, 6, 1), 0b1110_001_0010_1_0110_0110_000000000001),
        # BNE to 12 bytes back: cond=0001 1010 imm24 = (-12 - 8) / 4 = -5
        (programs.a32_bne(-12), 0b0001_1010 << 24 | (0xFFFFFB)),
        # SVC #0: cond 1111 imm24=0
        (programs.A32_SVC0, 0b1110_1111 << 24),
        # HINT #127 (A32): cond 0011 0010 0000 1111 0000 imm8=0111 1111
        (programs.A32_MARK, 0b1110_0011_0010_0000_1111_0000_01111111),
    ],
)
def test_encodings(word: int, expected: int) -> None:
    assert word == expected


@pytest.mark.parametrize("arch", ["aarch64", "arm"])
def test_marker_program_executes_the_hint_first_and_exits(arch: str) -> None:
    code = programs.mark(arch)
    assert code[0] == (programs.A64_MARK if arch == "aarch64" else programs.A32_MARK)
    assert code[-1] == (programs.A64_SVC0 if arch == "aarch64" else programs.A32_SVC0)


@pytest.mark.parametrize("arch", ["aarch64", "arm"])
def test_elf_header_and_entry(arch: str) -> None:
    code = programs.mark(arch)
    image = programs.elf(arch, code)
    assert image[:4] == b"\x7fELF"
    if arch == "aarch64":
        assert image[4] == 2  # ELFCLASS64
        (machine,) = struct.unpack_from("<H", image, 18)
        (entry,) = struct.unpack_from("<Q", image, 24)
        assert machine == 183  # EM_AARCH64
        assert entry == programs.LOAD_ADDRESS + 64 + 56
    else:
        assert image[4] == 1  # ELFCLASS32
        (machine,) = struct.unpack_from("<H", image, 18)
        (entry,) = struct.unpack_from("<I", image, 24)
        assert machine == 40  # EM_ARM
        assert entry == programs.LOAD_ADDRESS + 52 + 32
    # the code sits at the entry point's file offset
    offset = entry - programs.LOAD_ADDRESS
    assert struct.unpack_from("<I", image, offset)[0] == code[0]


def test_jit_iterations_are_bounded() -> None:
    with pytest.raises(ValueError):
        programs.jit_loop("aarch64", programs.MAX_ITERATIONS + 1)


def _cpio_members(blob: bytes) -> dict[str, tuple[int, bytes]]:
    out, pos = {}, 0
    while True:
        assert blob[pos : pos + 6] == b"070701"
        fields = [int(blob[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_at = pos + 110
        name = blob[name_at : name_at + namesize - 1].decode()
        data_at = (name_at + namesize + 3) // 4 * 4
        data = blob[data_at : data_at + size]
        pos = (data_at + size + 3) // 4 * 4
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data)


def test_initramfs_holds_init_busybox_and_the_workload_program() -> None:
    blob = gzip.decompress(initramfs.build("aarch64", b"BUSYBOX", "jit", 7))
    members = _cpio_members(blob)
    assert members["bin/busybox"] == (0o100755, b"BUSYBOX")
    assert members["bin/sh"] == (0o120777, b"busybox")  # a symbolic link
    assert members["dev/console"][0] == 0o020600
    init = members["init"][1].decode()
    assert init.startswith("#!/bin/sh")
    assert init.count("/mark") == 2
    assert "/census-jit" in init
    assert members["census-jit"][1] == programs.elf("aarch64", programs.jit_loop("aarch64", 7))


def test_initramfs_is_deterministic() -> None:
    a = initramfs.build("arm", b"x", "exec", 3)
    assert a == initramfs.build("arm", b"x", "exec", 3)


def test_every_workload_has_a_script() -> None:
    for name in initramfs.WORKLOADS:
        assert initramfs.workload_script(name)
    with pytest.raises(KeyError):
        initramfs.workload_script("nope")
