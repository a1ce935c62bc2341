"""Every maintenance instruction a guest at EL1 can issue, and the hypervisor's flushes, as data.

Sources (see REFERENCES.md §FB):
- Arm ARM (DDI 0487), D8 "TLB maintenance instructions" (AArch64) and G5 (AArch32 CP15 TLB
  maintenance), HCR_EL2.FB and HCR_EL2.TTLB field descriptions.
- QEMU target/arm: ``tlb_force_broadcast()`` returns true at EL1 with HCR_EL2.FB set, and every
  local TLBI handler (and IC IALLU, BPIALL) consults it.
- gem5 PR 1175 "Implement HCR_EL2 force broadcast for EL1&0 TLBIs".

The model keeps one TLB of combined (stage 1 + stage 2) leaf entries per pCPU, so the
"last level only" forms (VALE1, TLBIMVAL, ...) remove the same entries as their plain forms:
they differ only for walk caches, which the model does not hold. The Outer Shareable forms
(FEAT_TLBIOS) act as the IS forms: the machine has one shareability domain. nXS forms
(FEAT_XS) behave as their base form.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Arch(StrEnum):
    """Execution state of a guest's EL1."""

    AARCH64 = "aarch64"
    AARCH32 = "aarch32"


class Structure(StrEnum):
    """Which per-PE structure an instruction maintains."""

    TLB = "tlb"
    ICACHE = "ic"
    BP = "bp"


class Scope(StrEnum):
    """Where an instruction takes effect: this PE, or every PE of the Inner Shareable domain."""

    LOCAL = "local"
    IS = "is"


class Match(StrEnum):
    """Which entries of the issuing VMID an instruction removes.

    ``ALL``: every entry (VMALLE1, TLBIALL; IC IALLU: the whole I-cache; BPIALL).
    ``VA_ASID``: entries for the VA with the given ASID, and global entries for the VA (VAE1).
    ``VA_ANY_ASID``: entries for the VA whatever their ASID, global ones included (VAAE1).
    ``ASID``: the non-global entries of one ASID (ASIDE1).
    ``VA``: the I-cache lines of the PA the VA translates to (IC IVAU), or the branch
    predictor entries for the VA (BPIMVA).
    """

    ALL = "all"
    VA_ASID = "va+asid"
    VA_ANY_ASID = "va"
    ASID = "asid"
    VA = "va-only"


class Operand(StrEnum):
    """What the instruction's register operand carries in a litmus step."""

    NONE = "none"
    VA = "va"
    ASID = "asid"


@dataclass(frozen=True, slots=True)
class MaintenanceOp:
    """One maintenance instruction as a guest at EL1 writes it."""

    name: str
    arch: Arch
    structure: Structure
    scope: Scope
    match: Match
    operand: Operand
    last_level: bool = False
    is_range: bool = False
    fb_upgrades: bool = False
    """HCR_EL2.FB=1 makes this local instruction, executed at EL1, act as ``is_form``."""
    is_form: str | None = None
    """The Inner Shareable instruction with the same match (self for IS instructions)."""
    ttlb_traps: bool = False
    """HCR_EL2.TTLB traps it to EL2 (every EL1 TLB maintenance instruction, IS forms too)."""

    @property
    def broadcast(self) -> bool:
        return self.scope is Scope.IS


def _tlbi(
    name: str,
    arch: Arch,
    match: Match,
    operand: Operand,
    is_form: str,
    *,
    local: bool,
    last_level: bool = False,
    is_range: bool = False,
    fb: bool = True,
) -> MaintenanceOp:
    return MaintenanceOp(
        name=name,
        arch=arch,
        structure=Structure.TLB,
        scope=Scope.LOCAL if local else Scope.IS,
        match=match,
        operand=operand,
        last_level=last_level,
        is_range=is_range,
        fb_upgrades=local and fb,
        is_form=is_form,
        ttlb_traps=True,
    )


def _aarch64_tlbis() -> list[MaintenanceOp]:
    a64 = Arch.AARCH64
    # (base name, match, operand, last level, range)
    bases = [
        ("vmalle1", Match.ALL, Operand.NONE, False, False),
        ("vae1", Match.VA_ASID, Operand.VA, False, False),
        ("vale1", Match.VA_ASID, Operand.VA, True, False),
        ("aside1", Match.ASID, Operand.ASID, False, False),
        ("vaae1", Match.VA_ANY_ASID, Operand.VA, False, False),
        ("vaale1", Match.VA_ANY_ASID, Operand.VA, True, False),
        ("rvae1", Match.VA_ASID, Operand.VA, False, True),
        ("rvale1", Match.VA_ASID, Operand.VA, True, True),
        ("rvaae1", Match.VA_ANY_ASID, Operand.VA, False, True),
        ("rvaale1", Match.VA_ANY_ASID, Operand.VA, True, True),
    ]
    out: list[MaintenanceOp] = []
    for base, match, operand, last, rng in bases:
        for suffix, local in (("", True), ("is", False), ("os", False)):
            for nxs in ("", "nxs"):
                out.append(
                    _tlbi(
                        base + suffix + nxs,
                        a64,
                        match,
                        operand,
                        base + "is" + nxs,
                        local=local,
                        last_level=last,
                        is_range=rng,
                    )
                )
    return out


def _aarch32_tlbis() -> list[MaintenanceOp]:
    a32 = Arch.AARCH32
    out: list[MaintenanceOp] = []
    # Unified TLB instructions with IS forms (Arm ARM G5.9, "TLB maintenance instructions").
    for base, match, operand, last in (
        ("tlbiall", Match.ALL, Operand.NONE, False),
        ("tlbimva", Match.VA_ASID, Operand.VA, False),
        ("tlbiasid", Match.ASID, Operand.ASID, False),
        ("tlbimvaa", Match.VA_ANY_ASID, Operand.VA, False),
        ("tlbimval", Match.VA_ASID, Operand.VA, True),
        ("tlbimvaal", Match.VA_ANY_ASID, Operand.VA, True),
    ):
        out.append(_tlbi(base, a32, match, operand, base + "is", local=True, last_level=last))
        out.append(
            _tlbi(base + "is", a32, match, operand, base + "is", local=False, last_level=last)
        )
    # Instruction/data TLB forms: local only, no IS form of their own. Armv8 implements a
    # unified TLB model for them; HCR_EL2.FB upgrades them (REFERENCES.md §FB list).
    for prefix in ("d", "i"):
        for base, match, operand in (
            ("tlbiall", Match.ALL, Operand.NONE),
            ("tlbimva", Match.VA_ASID, Operand.VA),
            ("tlbiasid", Match.ASID, Operand.ASID),
        ):
            out.append(_tlbi(prefix + base, a32, match, operand, base + "is", local=True))
    return out


def _cache_ops() -> list[MaintenanceOp]:
    ic, bp = Structure.ICACHE, Structure.BP
    out: list[MaintenanceOp] = []
    for arch, iallu, ialluis, ivau in (
        (Arch.AARCH64, "iallu", "ialluis", "ivau"),
        (Arch.AARCH32, "iciallu", "icialluis", "icimvau"),
    ):
        out.append(
            MaintenanceOp(
                iallu,
                arch,
                ic,
                Scope.LOCAL,
                Match.ALL,
                Operand.NONE,
                fb_upgrades=True,
                is_form=ialluis,
            )
        )
        out.append(
            MaintenanceOp(ialluis, arch, ic, Scope.IS, Match.ALL, Operand.NONE, is_form=ialluis)
        )
        # IC IVAU / ICIMVAU to the PoU: broadcast to the Inner Shareable domain whatever FB says.
        out.append(MaintenanceOp(ivau, arch, ic, Scope.IS, Match.VA, Operand.VA, is_form=ivau))
    # AArch32 branch predictor (Arm ARM G4.4.1 "Branch predictors"); AArch64 has none to maintain.
    a32 = Arch.AARCH32
    out.append(
        MaintenanceOp(
            "bpiall",
            a32,
            bp,
            Scope.LOCAL,
            Match.ALL,
            Operand.NONE,
            fb_upgrades=True,
            is_form="bpiallis",
        )
    )
    out.append(
        MaintenanceOp("bpiallis", a32, bp, Scope.IS, Match.ALL, Operand.NONE, is_form="bpiallis")
    )
    # BPIMVA is not in HCR_EL2.FB's list: it stays local.
    out.append(MaintenanceOp("bpimva", a32, bp, Scope.LOCAL, Match.VA, Operand.VA))
    return out


ALL_OPS: tuple[MaintenanceOp, ...] = tuple(_aarch64_tlbis() + _aarch32_tlbis() + _cache_ops())
"""Every guest maintenance instruction the model knows."""

_BY_ARCH: dict[tuple[Arch, str], MaintenanceOp] = {(op.arch, op.name): op for op in ALL_OPS}

# The litmus format names the IC instructions as SPEC §6 does (iallu, ialluis, ivau) on both
# architectures; on AArch32 they are the CP15 ICIALLU, ICIALLUIS and ICIMVAU.
_ALIASES: dict[tuple[Arch, str], str] = {
    (Arch.AARCH32, "iallu"): "iciallu",
    (Arch.AARCH32, "ialluis"): "icialluis",
    (Arch.AARCH32, "ivau"): "icimvau",
}


def lookup_op(arch: Arch, name: str) -> MaintenanceOp | None:
    """The instruction called ``name`` (lower case, Arm ARM spelling) on ``arch``, if any."""
    key = (arch, name.lower())
    return _BY_ARCH.get((arch, _ALIASES.get(key, key[1])))


def op(arch: Arch, name: str) -> MaintenanceOp:
    """The instruction called ``name`` on ``arch``; KeyError if the architecture has none."""
    found = lookup_op(arch, name)
    if found is None:
        raise KeyError(f"{name} does not exist on {arch}")
    return found


def ops_for(arch: Arch, structure: Structure) -> list[MaintenanceOp]:
    """The instructions of one structure on one architecture, in table order."""
    return [o for o in ALL_OPS if o.arch is arch and o.structure is structure]


@dataclass(frozen=True, slots=True)
class BpReading:
    """How a platform's branch predictors behave: a platform property (``bp_visible``,
    ``bpiall_fb_upgrade`` in its profile), because the Arm ARM leaves both open.

    ``visible``: predictions are architecturally visible, so stale ones must be maintained
    away. Where they are invisible, BPIALL/BPIMVA "can execute as a NOP" (AArch32 BPIALL,
    DDI0595 "Configuration") and no stale prediction can be observed. Where they are visible,
    ICIALLU/ICIALLUIS and IC IALLU also flush them ("If branch predictors are architecturally
    visible, also flush branch predictors").

    ``bpiall_fb_upgrade``: HCR_EL2.FB makes an EL1 BPIALL act as BPIALLIS. The HCR_EL2.FB
    field text lists BPIALL; the BPIALL pseudocode (DDI0595 /b, /c, /i) upgrades it only when
    ``EL2Enabled() && ELUsingAArch32(EL2) && HCR.FB == '1'``, i.e. never under an AArch64 EL2.
    The default reading, ``visible`` without the upgrade, is the one most exposed to hazards.
    """

    visible: bool = True
    bpiall_fb_upgrade: bool = False

    @property
    def name(self) -> str:
        """``visible`` (the default), ``visible-fb`` (FB upgrades BPIALL) or ``invisible``."""
        if not self.visible:
            return "invisible"
        return "visible-fb" if self.bpiall_fb_upgrade else "visible"

    def normalised(self) -> BpReading:
        """The same behaviour with one spelling (the FB reading is moot when invisible)."""
        return self if self.visible else BpReading(False, False)


BP_READINGS: dict[str, BpReading] = {
    r.name: r for r in (BpReading(), BpReading(True, True), BpReading(False, False))
}
"""The three distinct readings by name; ``visible`` is the default."""

DEFAULT_BP = BpReading()


def effective(o: MaintenanceOp, fb: bool, bp: BpReading = DEFAULT_BP) -> MaintenanceOp:
    """What a guest instruction does physically: with HCR_EL2.FB=1, its IS form if FB upgrades
    it (BPIALL only under the ``bpiall_fb_upgrade`` reading)."""
    if o.structure is Structure.BP and not (bp.visible and bp.bpiall_fb_upgrade):
        return o
    if fb and o.fb_upgrades and o.is_form is not None:
        return _BY_ARCH[(o.arch, o.is_form)]
    return o


def is_equivalent(o: MaintenanceOp) -> MaintenanceOp:
    """The Inner Shareable instruction with the same match (what trap-and-emulate executes)."""
    if o.is_form is None:
        return o
    return _BY_ARCH[(o.arch, o.is_form)]


class HypTarget(StrEnum):
    """What a hypervisor flush removes."""

    TLB_VMID = "tlb-vmid"
    TLB_ALL = "tlb-all"
    ICACHE = "icache"
    BP = "bp"


@dataclass(frozen=True, slots=True)
class HypOp:
    """A flush the hypervisor executes at EL2 for the VMID of the vCPU being loaded."""

    name: str
    target: HypTarget
    scope: Scope


# TLBI VMALLS12E1(IS): all stage 1 and stage 2 entries of the current VMID (Arm ARM D8.13);
# with combined entries it removes the same entries as a VMALLE1 issued with that VMID, which
# is what KVM's __kvm_flush_cpu_context and Hafnium execute. TLBI ALLE1IS: every EL1&0 entry,
# every VMID (Xvisor). IC IALLU/IALLUIS and BPIALL executed by the hypervisor.
HYP_OPS: dict[str, HypOp] = {
    h.name: h
    for h in (
        HypOp("vmalls12e1", HypTarget.TLB_VMID, Scope.LOCAL),
        HypOp("vmalls12e1is", HypTarget.TLB_VMID, Scope.IS),
        HypOp("vmalle1", HypTarget.TLB_VMID, Scope.LOCAL),
        HypOp("alle1is", HypTarget.TLB_ALL, Scope.IS),
        HypOp("alle1", HypTarget.TLB_ALL, Scope.LOCAL),
        HypOp("iallu", HypTarget.ICACHE, Scope.LOCAL),
        HypOp("ialluis", HypTarget.ICACHE, Scope.IS),
        HypOp("bpiall", HypTarget.BP, Scope.LOCAL),
    )
}
