"""Which A32 conditional instructions executed (QEMU 7.2 calls the plugin before the condition
check, so the plugin counts a conditional site when it is *reached*).

Method (one run, no single-stepping): QEMU ends a translation block after every CP15 write that
is not a no-op for it (translate.c ``do_coproc_insn``: ``gen_lookup_tb`` unless
ARM_CP_SUPPRESS_TB_END), and after WFI/WFE. When such an instruction at address A executed, the
block exits to QEMU's main loop, which logs the CPU state (``-d cpu``, restricted by ``-dfilter``)
before running the block at A+4; when its condition failed, the block jumps to A+4, logged or not
(chained jumps are not). The flags an instruction's condition reads are unchanged by it, so the
logged PSR at A+4 tells whether the condition held. Hence, per site and phase::

    executed = min(reached, logged entries at A+4 whose PSR passes the condition)

exact when that count is 0 or at least ``reached`` (an interrupt taken between a block's entry
check and its first instruction can log one entry twice: observed 0.1-0.5% extra entries).
A conditional site QEMU ever translated as *not* the last instruction of its block (CP15
operations QEMU treats as no-ops: data-cache maintenance by VA) is left unresolved: its count is
an upper bound, reported apart. The candidate sites (every conditional instruction the census
counts in the kernel image) are found by scanning the decompressed image, at the address it is
linked at (``link_address``).
"""

from __future__ import annotations

import ctypes
import gzip
import lzma
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fetch import CensusError
from .pluginlog import PluginLog, Site

ZIMAGE_MAGIC = 0x016F2818
"""At offset 0x24 of an arm zImage (arch/arm/boot/compressed/head.S)."""


def condition_holds(cond: int, psr: int) -> bool:
    """Arm ARM F2.3 / Table F1-1 "Condition codes": does ``cond`` pass with these NZCV flags?"""
    n, z, c, v = (psr >> 31) & 1, (psr >> 30) & 1, (psr >> 29) & 1, (psr >> 28) & 1
    base = cond >> 1
    result = {
        0: z == 1,
        1: c == 1,
        2: n == 1,
        3: v == 1,
        4: c == 1 and z == 0,
        5: n == v,
        6: z == 0 and n == v,
        7: True,
    }[base]
    return (not result) if (cond & 1 and cond != 15) else result


def decompress_zimage(data: bytes) -> bytes:
    """The kernel image inside an arm zImage (xz, gzip or lzma payload), or ``data`` itself if it
    is not a zImage. The payload is found by trying each compressor's magic in turn."""
    if len(data) < 0x28 or int.from_bytes(data[0x24:0x28], "little") != ZIMAGE_MAGIC:
        return data
    for magic, make in (
        (b"\xfd7zXZ\x00", lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ)),
        (b"\x1f\x8b\x08", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)),
        (b"\x5d\x00\x00", lambda: lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)),
    ):
        for m in re.finditer(re.escape(magic), data):
            try:
                out = make().decompress(data[m.start() :])
            except (lzma.LZMAError, zlib.error, EOFError):
                continue
            if len(out) > len(data):
                return out
    raise CensusError("kernel image: a zImage whose payload is not xz, gzip or lzma")


def _decoder(lib: Path) -> ctypes.CDLL:
    dll = ctypes.CDLL(str(lib))
    dll.census_decode.restype = ctypes.c_char_p
    dll.census_decode.argtypes = [
        ctypes.c_int,
        ctypes.c_uint32,
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_int),
    ]
    return dll


def decode(lib: Path, isa: int, word: int) -> tuple[str | None, int]:
    """The census name and condition of one instruction, by the plugin's own decoder."""
    dll = _decoder(lib)
    cond, klass = ctypes.c_int(), ctypes.c_int()
    name = dll.census_decode(isa, word, ctypes.byref(cond), ctypes.byref(klass))
    return (name.decode() if name else None), cond.value


def conditional_candidates(image: bytes, base: int, lib: Path) -> list[tuple[int, str, int]]:
    """(address, name, condition) of every conditional A32 word of ``image`` (linked at
    ``base``) that the census counts: MCR/MCRR p15 and hints (WFE/WFI) with cond != AL."""
    words = np.frombuffer(image[: len(image) // 4 * 4], dtype="<u4")
    cond = words >> 28
    shape = (
        ((words & 0x0F100F10) == 0x0E000F10)
        | ((words & 0x0FF00F00) == 0x0C400F00)
        | ((words & 0x0FFFFF00) == 0x0320F000)
    )
    idx = np.nonzero((cond != 14) & (cond != 15) & shape)[0]
    dll = _decoder(lib)
    out = []
    for i in idx:
        c, k = ctypes.c_int(), ctypes.c_int()
        name = dll.census_decode(1, int(words[i]), ctypes.byref(c), ctypes.byref(k))
        if name:
            out.append((base + 4 * int(i), name.decode(), c.value))
    return out


def link_address(image: bytes, sites: list[tuple[int, int]]) -> int | None:
    """The address ``image`` runs at, from (address, instruction word) pairs seen executing:
    the base most pairs agree on (each pair votes for every position its word occurs at); None
    unless at least 5 pairs and 80% of them agree. ALT_SMP/ALT_UP patching changes a few words
    at boot, hence a vote rather than a proof."""
    words = np.frombuffer(image[: len(image) // 4 * 4], dtype="<u4")
    bases = [addr - 4 * np.nonzero(words == word)[0].astype(np.int64) for addr, word in sites]
    if not bases:
        return None
    values, votes = np.unique(np.concatenate(bases), return_counts=True)
    best = int(np.argmax(votes))
    n = int(votes[best])
    return int(values[best]) if n >= 5 and n >= 0.8 * len(sites) else None


def dfilter(candidates: list[tuple[int, str, int]]) -> str:
    """QEMU's ``-dfilter`` ranges: the instruction after each candidate."""
    return ",".join(f"0x{addr + 4:x}+4" for addr, _, _ in candidates)


@dataclass(frozen=True)
class Resolution:
    """What one conditional site did in one phase."""

    site: Site
    phase: int
    reached: dict[int, int]
    """vCPU -> times reached."""
    passed_entries: int
    failed_entries: int
    executed: dict[int, int]
    """vCPU -> times executed (for unresolved sites: the upper bound, = reached)."""
    method: str
    """"exact", "estimate" or "unresolved: ..."."""

    @property
    def resolved(self) -> bool:
        return not self.method.startswith("unresolved")


def resolve(log: PluginLog, candidates: set[int]) -> list[Resolution]:
    """Every conditional site's executions per phase (see the module docstring)."""
    out = []
    for index, site in sorted(log.sites.items()):
        if not site.conditional:
            continue
        by_phase: dict[int, dict[int, int]] = {}
        for (phase, vcpu), n in log.site_counts.get(index, {}).items():
            by_phase.setdefault(phase, {})[vcpu] = n
        for phase, reached in sorted(by_phase.items()):
            total = sum(reached.values())
            psrs = log.cpu_states.get((site.vaddr + 4, phase), [])
            passed = sum(1 for p in psrs if condition_holds(site.cond, p))
            failed = len(psrs) - passed
            if site.isa != "a32":
                method = "unresolved: a T32 instruction in an IT block"
            elif site.vaddr not in candidates:
                method = "unresolved: not in the scanned kernel image"
            elif site.last_in_tb != 1:
                method = "unresolved: QEMU does not end its block after it"
            else:
                method = "exact" if passed == 0 or passed >= total else "estimate"
            if method.startswith("unresolved"):
                executed = dict(reached)
            else:
                done = min(total, passed)
                executed = {v: round(n * done / total) for v, n in reached.items()}
            out.append(Resolution(site, phase, reached, passed, failed, executed, method))
    return out


def read_image(path: Path) -> bytes:
    """A kernel image file, decompressed (zImage payload; a gzip-compressed Image)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return decompress_zimage(data)
