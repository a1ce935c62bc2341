"""Guest kinds (SPEC §3): a *discipline* — which instructions the guest uses after each kind of
change — per built-in kind. Rate profiles (how often each change happens) live beside it.

Sources: REFERENCES.md §Guests (Linux arch/arm64/mm/context.c and tlbflush.h; Linux arm32
v7wbi_tlb_flags_smp/_up; FreeBSD pmap for arm64 and armv7; the 2025 arm64 "don't broadcast
TLBI if mm was only active on local CPU" RFC).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..arch.ops import Arch


@dataclass(frozen=True, slots=True)
class Discipline:
    """What a guest kind issues. Names are the litmus spellings of the instructions."""

    name: str
    arch: Arch
    pte_user: tuple[str, ...]
    """After changing a user (non-global) PTE: TLB instruction(s), by VA."""
    pte_user_local: tuple[str, ...] | None
    """The same when the mm was active on this CPU only (None: the kind always uses pte_user)."""
    asid_flush: tuple[str, ...]
    """Invalidating one ASID (e.g. on freeing it)."""
    rollover: tuple[str, ...]
    """What each CPU runs at ASID rollover (Linux: lazily, at its next switch)."""
    rollover_broadcast: bool
    """True when one CPU's broadcast covers every CPU (FreeBSD arm64 VMALLE1IS)."""
    code_change: tuple[str, ...]
    """After writing code: I-cache (and AArch32 BP) maintenance."""
    ttbr_switch: tuple[str, ...] = ()
    """Issued on every translation-table switch (FreeBSD armv7: local BPIALL + TLBIASID)."""
    percpu_tables: bool = False
    smp: bool = True


DISCIPLINES: dict[str, Discipline] = {
    d.name: d
    for d in (
        Discipline(
            "linux-arm64-smp",
            Arch.AARCH64,
            ("vale1is",),
            None,
            ("aside1is",),
            ("vmalle1",),
            False,
            ("ivau",),
        ),
        Discipline(
            "linux-arm64-local",
            Arch.AARCH64,
            ("vale1is",),
            ("vale1",),
            ("aside1is",),
            ("vmalle1",),
            False,
            ("ivau",),
        ),
        Discipline(
            "linux-arm32-smp",
            Arch.AARCH32,
            ("tlbimvais", "bpiallis"),
            None,
            ("tlbiasidis",),
            ("bpiall", "tlbiall"),
            False,
            ("icialluis", "bpiallis"),
        ),
        Discipline(
            "linux-arm32-up",
            Arch.AARCH32,
            ("tlbimva", "bpiall"),
            None,
            ("tlbiasid",),
            ("bpiall", "tlbiall"),
            False,
            ("iciallu", "bpiall"),
            smp=False,
        ),
        Discipline(
            "freebsd-arm64-smp",
            Arch.AARCH64,
            ("vale1is",),
            None,
            ("aside1is",),
            ("vmalle1is",),
            True,
            ("ivau",),
        ),
        Discipline(
            "freebsd-armv7-up",
            Arch.AARCH32,
            ("tlbimva",),
            None,
            ("tlbiasid",),
            ("tlbiall",),
            False,
            ("iciallu",),
            ttbr_switch=("bpiall", "tlbiasid"),
            smp=False,
        ),
        Discipline(
            "percpu-tables",
            Arch.AARCH64,
            ("vale1",),
            None,
            ("aside1",),
            ("vmalle1",),
            False,
            ("iallu",),
            percpu_tables=True,
        ),
    )
}

KIND_NAMES: tuple[str, ...] = tuple(DISCIPLINES)
"""The built-in guest kinds, in SPEC §3 order."""
