"""The legality rule of SPEC §5, one clause at a time, on small scenarios."""

from __future__ import annotations

from collections.abc import Sequence

from vtlbsim.arch.machine import Hcr
from vtlbsim.arch.ops import HypOp
from vtlbsim.check.replay import replay
from vtlbsim.hyp.policy import TTLB, HypAction, Policy, TrappedOp, VcpuInfo, VcpuLoad
from vtlbsim.hyp.registry import resolve
from vtlbsim.litmus import parse


class DropTrappedTlbi(Policy):
    """A broken hypervisor: traps every TLBI and executes nothing."""

    name = "drop-tlbi"
    summary = "test only"

    def hcr(self, vcpu: VcpuInfo) -> Hcr:
        return TTLB

    def on_load(self, load: VcpuLoad) -> Sequence[HypOp]:
        return ()

    def on_trap(self, trap: TrappedOp) -> Sequence[HypAction]:
        return ()


def scenario(steps: str, vcpus: int = 2, arch: str = "aarch64", pcpus: int = 2) -> str:
    return (
        f'pcpus = {pcpus}\nsteps = """\n{steps}\n"""\n\n[domains.g]\nvcpus = {vcpus}\n'
        f'arch = "{arch}"\n'
    )


SIBLING_FLUSH = """
run g.0 on 0
run g.1 on 1
g.0 map 0x1000 0xa000
g.0 load 0x1000
g.1 unmap 0x1000
g.1 tlbi {op} 0x1000
g.1 map 0x1000 0xb000
g.0 load 0x1000
"""


def test_another_vcpus_local_tlbi_does_not_cover_me() -> None:
    """g.1's local VALE1 does not affect g.0 as the guest wrote it: g.0's old entry stays legal."""
    sc = parse(scenario(SIBLING_FLUSH.format(op="vale1")))
    for policy in ("none", "drop-tlbi"):
        out = replay(sc, DropTrappedTlbi() if policy == "drop-tlbi" else resolve(policy))
        assert out.violations == [] and out.guest_errors == []


def test_an_is_tlbi_from_any_vcpu_of_the_vm_covers_me() -> None:
    """g.1's VALE1IS covers g.0: if the hypervisor drops it, g.0's hit is a violation."""
    sc = parse(scenario(SIBLING_FLUSH.format(op="vale1is")))
    assert replay(sc, resolve("none")).violations == []  # the broadcast really removed it
    out = replay(sc, DropTrappedTlbi())
    assert [v.category for v in out.violations] == ["stale-tlb"]
    v = out.violations[0]
    assert (v.vcpu, v.filled_by, v.covered_by, v.covered_at_step) == ("g.0", "g.0", "vale1is", 6)


def test_fb_changes_what_happens_not_what_is_legal() -> None:
    """FB upgrades g.1's local VALE1 physically; g.0's expectation is unchanged (legal either way)."""
    sc = parse(scenario(SIBLING_FLUSH.format(op="vale1")))
    out = replay(sc, resolve("fb"))
    assert out.violations == []
    assert out.counts["fb-upgrade.tlb"] == 1 and out.counts["tlb-miss"] == 2


def test_vmid_isolation_between_domains() -> None:
    text = (
        'pcpus = 1\nsteps = """\nrun a.0 on 0\na.0 map 0x1000 0xa000\na.0 load 0x1000\n'
        'run b.0 on 0\nb.0 map 0x1000 0xb000\nb.0 load 0x1000\n"""\n\n[domains.a]\n\n[domains.b]\n'
    )
    out = replay(parse(text), resolve("none"))
    assert out.violations == [] and out.counts["tlb-miss"] == 2


def test_ic_ivau_covers_the_pa_it_translates_to() -> None:
    """IC IVAU is broadcast and by VA: it removes that PA's lines everywhere, other PAs stay."""
    steps = """
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 map 0x2000 0xc000
g.0 fetch 0x1000
g.0 fetch 0x2000
run g.0 on 1
g.0 write-code 0x1000
g.0 write-code 0x2000
g.0 ic ivau 0x1000
run g.0 on 0
g.0 fetch 0x1000
g.0 fetch 0x2000
"""
    out = replay(parse(scenario(steps, vcpus=1)), resolve("none"))
    # 0x2000's new code had no I-cache maintenance: the old line is legal; 0x1000's was removed.
    assert out.violations == [] and out.guest_errors == []
    assert out.counts["icache-miss"] == 3


def test_local_ic_iallu_covers_only_its_own_vcpu() -> None:
    """g.1's local IC IALLU on pCPU 1 leaves pCPU 0's line: stale for g.1 if it moves there."""
    steps = """
run g.0 on 0
run g.1 on 1
g.0 map 0x1000 0xa000
g.0 fetch 0x1000
g.1 write-code 0x1000
g.1 ic iallu
run g.1 on 0
g.1 fetch 0x1000
"""
    out = replay(parse(scenario(steps)), resolve("none"))
    assert [v.category for v in out.violations] == ["stale-icache"]
    v = out.violations[0]
    assert (v.vcpu, v.filled_by, v.used, v.legal) == ("g.1", "g.0", "0xa000:v0", ["0xa000:v1"])
    assert replay(parse(scenario(steps)), resolve("flush-on-arrival")).violations == []


def test_violation_names_no_translation_when_the_page_is_gone() -> None:
    steps = """
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 load 0x1000
run g.0 on 1
g.0 unmap 0x1000
g.0 tlbi vae1 0x1000
run g.0 on 0
g.0 load 0x1000
"""
    out = replay(parse(scenario(steps, vcpus=1)), resolve("none"))
    assert len(out.violations) == 1 and out.violations[0].legal == []
    assert "legal: no translation" in out.violations[0].explain()
