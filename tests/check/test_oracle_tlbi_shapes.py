"""Every TLBI shape against global and non-global entries, through the real engine and oracle.

The table below is written by hand from the Arm ARM (D8.13 "TLB maintenance instructions" for
AArch64, G5.9 for the AArch32 CP15 forms) and SPEC §2/§5, not read from vtlbsim.arch.ops or
check/coverage.py. Each case is a litmus story: g.0 fills an entry for 0x1000 on pCPU 0 (with
ASID 1, global or not); the *issuer* (g.0 itself after moving to pCPU 1, or g.1 running on
pCPU 1) unmaps 0x1000 and issues the TLBI; g.0, back on pCPU 0, loads 0x1000 again.

What the guest may expect (SPEC §5): the old translation is illegal iff the TLBI, *as the guest
wrote it*, covers the entry and affects g.0 -- g.0's own local instructions, or an IS one from
any vCPU of the VM. What happens physically depends on the policy:
- ``swallow`` (TTLB, every trapped TLBI dropped): the entry always survives, so the outcome is
  the oracle's verdict alone: a violation iff covered and affecting g.0;
- ``none``: a local TLBI on pCPU 1 leaves pCPU 0 alone; an IS one removes what it covers there;
- ``fb``: every local TLBI here is upgraded, so whatever is covered is gone from pCPU 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HypOp
from vtlbsim.check.replay import replay
from vtlbsim.hyp.policy import TTLB, HypAction, Policy, TrappedOp, VcpuInfo, VcpuLoad
from vtlbsim.hyp.registry import resolve
from vtlbsim.litmus import parse

# The cases: (entry, the TLBI's operand), in this column order.
COLUMNS = (
    "nG, same ASID",  # non-global entry of ASID 1; the TLBI names ASID 1 and VA 0x1000
    "nG, other ASID",  # ... the TLBI names ASID 2 (by VA: the issuer runs with ASID 2)
    "global",  # a global entry (nG=0); the TLBI names ASID 1
    "global, other ASID",  # a global entry; the TLBI names ASID 2
    "nG, other VA",  # non-global entry of ASID 1; the TLBI names ASID 1 and VA 0x2000
    "global, other VA",  # a global entry; the TLBI names ASID 1 and VA 0x2000
)
#           nG    nG/oA  G      G/oA   nG/oVA G/oVA
BY_VA = (True, False, True, True, False, False)  # VAE1: that VA + ASID, and global entries
BY_ASID = (True, False, False, False, True, False)  # ASIDE1: non-global entries of the ASID
BY_VA_ANY = (True, True, True, True, False, False)  # VAAE1: that VA, any ASID, global too
EVERYTHING = (True, True, True, True, True, True)  # VMALLE1: all stage-1 entries of the VMID

# name -> (architecture, broadcast?, covers per column)
SHAPES: dict[str, tuple[str, bool, tuple[bool, ...]]] = {
    # AArch64: plain, Inner Shareable and Outer Shareable (one shareability domain here)
    "vae1": ("aarch64", False, BY_VA),
    "vae1is": ("aarch64", True, BY_VA),
    "vae1os": ("aarch64", True, BY_VA),
    "vale1": ("aarch64", False, BY_VA),  # last level only: same entries (no walk caches)
    "vale1is": ("aarch64", True, BY_VA),
    "vale1os": ("aarch64", True, BY_VA),
    "aside1": ("aarch64", False, BY_ASID),
    "aside1is": ("aarch64", True, BY_ASID),
    "aside1os": ("aarch64", True, BY_ASID),
    "vaae1": ("aarch64", False, BY_VA_ANY),
    "vaae1is": ("aarch64", True, BY_VA_ANY),
    "vaae1os": ("aarch64", True, BY_VA_ANY),
    "vaale1": ("aarch64", False, BY_VA_ANY),
    "vaale1is": ("aarch64", True, BY_VA_ANY),
    "vaale1os": ("aarch64", True, BY_VA_ANY),
    "vmalle1": ("aarch64", False, EVERYTHING),
    "vmalle1is": ("aarch64", True, EVERYTHING),
    "vmalle1os": ("aarch64", True, EVERYTHING),
    "vae1nxs": ("aarch64", False, BY_VA),  # FEAT_XS: as the base form
    "vae1isnxs": ("aarch64", True, BY_VA),
    # AArch32 CP15 counterparts
    "tlbimva": ("aarch32", False, BY_VA),
    "tlbimvais": ("aarch32", True, BY_VA),
    "tlbimval": ("aarch32", False, BY_VA),
    "tlbimvalis": ("aarch32", True, BY_VA),
    "tlbiasid": ("aarch32", False, BY_ASID),
    "tlbiasidis": ("aarch32", True, BY_ASID),
    "tlbimvaa": ("aarch32", False, BY_VA_ANY),
    "tlbimvaais": ("aarch32", True, BY_VA_ANY),
    "tlbimvaal": ("aarch32", False, BY_VA_ANY),
    "tlbimvaalis": ("aarch32", True, BY_VA_ANY),
    "tlbiall": ("aarch32", False, EVERYTHING),
    "tlbiallis": ("aarch32", True, EVERYTHING),
    # the data/instruction TLB forms: local only, acting on the unified TLB
    "dtlbimva": ("aarch32", False, BY_VA),
    "itlbimva": ("aarch32", False, BY_VA),
    "dtlbiasid": ("aarch32", False, BY_ASID),
    "itlbiasid": ("aarch32", False, BY_ASID),
    "dtlbiall": ("aarch32", False, EVERYTHING),
    "itlbiall": ("aarch32", False, EVERYTHING),
}
OPERAND_ASID = {
    "aside1",
    "aside1is",
    "aside1os",
    "tlbiasid",
    "tlbiasidis",
    "dtlbiasid",
    "itlbiasid",
}
NO_OPERAND = {"vmalle1", "vmalle1is", "vmalle1os", "tlbiall", "tlbiallis", "dtlbiall", "itlbiall"}


class SwallowTlbi(Policy):
    """A broken hypervisor: traps every TLBI and executes nothing, so nothing is removed."""

    name = "swallow-tlbi"
    summary = "test only"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return TTLB

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()

    def on_trap(self, trap: TrappedOp) -> Sequence[HypAction]:
        return ()


def story(name: str, column: str, issuer: str) -> str:
    """The litmus file of one case (see the module docstring)."""
    arch = SHAPES[name][0]
    glob = " global" if column.startswith("global") else ""
    asid = 2 if "other ASID" in column else 1
    va = 0x2000 if "other VA" in column else 0x1000
    if name in OPERAND_ASID:
        operand = f" {asid}"
    elif name in NO_OPERAND:
        operand = ""
    else:
        operand = f" {va:#x}"
    steps = ["run g.0 on 0", "run g.1 on 1", "g.0 asid 1", f"g.0 map 0x1000 0xa000{glob}"]
    steps.append("g.0 load 0x1000")  # fills the entry on pCPU 0
    if issuer == "g.0":
        steps.append("run g.0 on 1")  # g.1 leaves pCPU 1; g.0 leaves pCPU 0
    steps += [f"{issuer} asid {asid}", f"{issuer} unmap 0x1000", f"{issuer} tlbi {name}{operand}"]
    if issuer == "g.0":
        steps += ["g.0 asid 1", "run g.0 on 0"]
    steps.append("g.0 load 0x1000")  # the use the oracle judges
    body = "\n".join(steps)
    return f'pcpus = 2\nsteps = """\n{body}\n"""\n\n[domains.g]\nvcpus = 2\narch = "{arch}"\n'


CASES = [
    (name, column, issuer) for name in SHAPES for column in COLUMNS for issuer in ("g.0", "g.1")
]


@pytest.mark.parametrize(("name", "column", "issuer"), CASES)
def test_tlbi_shape_against_the_entry(name: str, column: str, issuer: str) -> None:
    _, broadcast, covers_row = SHAPES[name]
    covers = covers_row[COLUMNS.index(column)]
    affects_g0 = issuer == "g.0" or broadcast
    sc = parse(story(name, column, issuer), path=f"<{name} {column} by {issuer}>")

    # the oracle alone: nothing is ever removed
    out = replay(sc, SwallowTlbi())
    assert out.guest_errors == []
    assert out.counts["tlb-hit"] == 1
    assert (out.outcome == "violation") is (covers and affects_g0)
    if out.violations:
        v = out.violations[0]
        assert (v.category, v.vcpu, v.filled_by, v.covered_by) == ("stale-tlb", "g.0", "g.0", name)
        assert v.legal == []  # 0x1000 is unmapped: no translation is legal

    # no policy: a local TLBI stays on pCPU 1, an IS one removes what it covers on pCPU 0
    out = replay(sc, resolve("none"))
    removed = broadcast and covers
    assert out.guest_errors == []
    assert out.counts["tlb-hit"] == (0 if removed else 1)
    assert (out.outcome == "violation") is (not broadcast and covers and issuer == "g.0")

    # FB: the local forms are upgraded, so what is covered is gone from pCPU 0 too
    out = replay(sc, resolve("fb"))
    assert out.guest_errors == []
    assert out.counts["tlb-hit"] == (0 if covers else 1)
    assert out.outcome == "clean"


def test_every_tlbi_base_shape_and_both_architectures_are_covered() -> None:
    """The table names each base shape in its local and broadcast form on both architectures."""
    a64 = {n for n, (a, _, _) in SHAPES.items() if a == "aarch64"}
    a32 = {n for n, (a, _, _) in SHAPES.items() if a == "aarch32"}
    for base in ("vae1", "vale1", "aside1", "vaae1", "vaale1", "vmalle1"):
        assert {base, base + "is"} <= a64
    for base in ("tlbimva", "tlbimval", "tlbiasid", "tlbimvaa", "tlbimvaal", "tlbiall"):
        assert {base, base + "is"} <= a32
    assert len(CASES) == len(SHAPES) * len(COLUMNS) * 2
