"""A fixed scenario: a machine size, domains and a list of events (what a litmus file holds)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..arch.ops import DEFAULT_BP, Arch, BpReading
from .events import Event, render


@dataclass(frozen=True, slots=True)
class DomainSpec:
    """A domain as a scenario declares it; VMIDs are handed out in declaration order from 1,
    unless the domain names its ``vmid`` (a VM that reuses a destroyed VM's VMID)."""

    name: str
    vcpus: int = 1
    arch: Arch = Arch.AARCH64
    kind: str | None = None
    pinned: bool = False
    vmid: int | None = None


@dataclass(slots=True)
class Scenario:
    pcpus: int
    domains: list[DomainSpec]
    events: list[Event]
    title: str = ""
    policy: str = "none"
    expect: str | None = None
    source: str = "<scenario>"
    lines: list[int] = field(default_factory=list)
    bp: BpReading = DEFAULT_BP
    """The branch predictors' reading (litmus keys ``bp_visible``, ``bpiall_fb_upgrade``)."""
    incomplete: bool = False
    """Maintenance completes on other PEs at the issuer's DSB (``sim/pending.py``)."""

    def to_litmus(self) -> str:
        """The scenario as a litmus file (SPEC §6) that ``vtlbsim litmus`` reads back."""
        out = []
        if self.title:
            out.append(f"title = {_toml_str(self.title)}")
        out.append(f"pcpus = {self.pcpus}")
        out.append(f"policy = {_toml_str(self.policy)}")
        if self.expect:
            out.append(f"expect = {_toml_str(self.expect)}")
        if self.bp != DEFAULT_BP:
            out.append(f"bp_visible = {str(self.bp.visible).lower()}")
            out.append(f"bpiall_fb_upgrade = {str(self.bp.bpiall_fb_upgrade).lower()}")
        if self.incomplete:
            out.append("incomplete = true")
        out.append('steps = """')
        out.extend(render(ev) for ev in self.events)
        out.append('"""')
        for d in self.domains:
            out.append("")
            out.append(f"[domains.{d.name}]")
            out.append(f"vcpus = {d.vcpus}")
            out.append(f'arch = "{d.arch.value}"')
            if d.kind:
                out.append(f"kind = {_toml_str(d.kind)}")
            if d.pinned:
                out.append("pinned = true")
            if d.vmid is not None:
                out.append(f"vmid = {d.vmid}")
        return "\n".join(out) + "\n"


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
