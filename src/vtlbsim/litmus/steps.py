"""One litmus step line (SPEC §6 step table) → one event, validated as it is read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..arch.ops import Arch, Operand, Structure, lookup_op
from ..guest.tables import Pte
from ..sim.events import (
    Access,
    AccessKind,
    Barrier,
    Destroy,
    Event,
    Maintain,
    PteWrite,
    Run,
    SetAsid,
    SetTable,
    WriteCode,
)
from ..sim.scenario import DomainSpec
from .errors import LitmusError

PAGE_SHIFT = 12
STEP_VERBS = (
    "run, destroy, map, unmap, load, store, fetch, write-code, tlbi, ic, bp, dsb, isb, asid, table"
)
ASID_BITS = {Arch.AARCH64: 16, Arch.AARCH32: 8}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


@dataclass(slots=True)
class VmLife:
    """Which VMs ran and which were destroyed so far: a VMID tags one live VM at a time."""

    vmids: dict[str, int]
    ran: set[str] = field(default_factory=set)
    destroyed: set[str] = field(default_factory=set)


class StepLine:
    """One step line → one event, validated against the domains and what is running."""

    def __init__(
        self,
        path: str,
        line: int,
        toks: list[str],
        pcpus: int,
        domains: dict[str, DomainSpec],
        running: dict[str, int],
        pinned_on: dict[str, int],
        life: VmLife | None = None,
    ) -> None:
        self.path, self.line, self.toks = path, line, toks
        self.pcpus, self.domains, self.running, self.pinned_on = pcpus, domains, running, pinned_on
        self.life = life or VmLife({n: d.vmid or i for i, (n, d) in enumerate(domains.items(), 1)})

    def err(self, message: str) -> LitmusError:
        return LitmusError(self.path, self.line, message)

    def number(self, tok: str | None, what: str) -> int:
        if tok is None:
            raise self.err(f"missing {what}")
        t = tok.lower()
        try:
            if t.startswith("0x"):
                return int(t[2:], 16)
            if t.isdigit():
                return int(t)
        except ValueError:
            pass
        raise self.err(f"{what} must be a hex (0x...) or decimal number, got {tok!r}")

    def vcpu(self, tok: str) -> tuple[DomainSpec, int]:
        dom, dot, idx = tok.rpartition(".")
        if not dot or not dom:
            raise self.err(f"expected a vCPU as DOMAIN.INDEX (e.g. g.0), got {tok!r}")
        d = self.domains.get(dom)
        if d is None:
            raise self.err(f"unknown domain {dom!r} (declared: {', '.join(self.domains)})")
        i = self.number(idx, "vCPU index")
        if i >= d.vcpus:
            raise self.err(f"domain {dom!r} has {d.vcpus} vCPU(s): no vCPU {i}")
        if dom in self.life.destroyed:
            raise self.err(f"domain {dom!r} was destroyed at an earlier step")
        return d, i

    def options(self, toks: list[str], allowed: set[str]) -> tuple[list[str], dict[str, str]]:
        pos, opts = [], {}
        for t in toks:
            if "=" in t:
                k, _, v = t.partition("=")
                if k not in allowed:
                    raise self.err(
                        f"unknown option {k!r} (expected: {', '.join(sorted(allowed)) or 'none'})"
                    )
                if not v:
                    raise self.err(f"option {k}= needs a value")
                opts[k] = v
            else:
                pos.append(t)
        return pos, opts

    def page(self, tok: str | None, what: str, aligned: bool) -> int:
        n = self.number(tok, what)
        if aligned and n & ((1 << PAGE_SHIFT) - 1):
            raise self.err(f"{what} {tok} is not 4 KiB aligned")
        if n >= 1 << 52:
            raise self.err(f"{what} {tok} is beyond the 52-bit address space")
        return n >> PAGE_SHIFT

    def extra(self, rest: list[str], n: int, usage: str) -> None:
        if len(rest) > n:
            raise self.err(f"unexpected {' '.join(rest[n:])!r} (usage: {usage})")

    def event(self) -> Event:
        t = self.toks
        if t[0] == "run":
            return self.run()
        if t[0] == "destroy":
            return self.destroy()
        if len(t) < 2:
            raise self.err(
                f"unknown step {t[0]!r} (expected: {STEP_VERBS}, as 'D.V VERB ...' or 'run D.V on P')"
            )
        d, i = self.vcpu(t[0])
        verb, rest = t[1], t[2:]
        name = f"{d.name}.{i}"
        known = {
            "map",
            "unmap",
            "load",
            "store",
            "fetch",
            "write-code",
            "tlbi",
            "ic",
            "bp",
            "dsb",
            "isb",
            "asid",
            "table",
        }
        if verb not in known:
            raise self.err(f"unknown step {verb!r} (expected: {STEP_VERBS})")
        if name not in self.running:
            raise self.err(f"vCPU {name} is not running (add 'run {name} on P' before this step)")
        L = self.line
        if verb == "map":
            pos, opts = self.options(rest, {"table"})
            flags = [x for x in pos[2:]]
            if any(f != "global" for f in flags) or len(flags) > 1:
                raise self.err(
                    f"unexpected {' '.join(flags)!r} (usage: D.V map VA PA [global] [table=T])"
                )
            va = self.page(pos[0] if pos else None, "VA", True)
            pa = self.page(pos[1] if len(pos) > 1 else None, "PA", True)
            return PteWrite(d.name, i, va, Pte(pa, bool(flags)), self.table_opt(opts), L)
        if verb == "unmap":
            pos, opts = self.options(rest, {"table"})
            self.extra(pos, 1, "D.V unmap VA [table=T]")
            return PteWrite(
                d.name,
                i,
                self.page(pos[0] if pos else None, "VA", True),
                None,
                self.table_opt(opts),
                L,
            )
        if verb in ("load", "store", "fetch", "write-code"):
            self.extra(rest, 1, f"D.V {verb} VA")
            va = self.page(rest[0] if rest else None, "VA", False)
            if verb == "write-code":
                return WriteCode(d.name, i, va, L)
            return Access(d.name, i, va, AccessKind(verb), L)
        if verb in ("tlbi", "ic", "bp"):
            return self.maintain(d, i, verb, rest)
        if verb in ("dsb", "isb"):
            allowed = (
                (
                    "ish",
                    "nsh",
                    "osh",
                    "sy",
                    "ishst",
                    "nshst",
                    "oshst",
                    "st",
                    "ld",
                    "ishld",
                    "nshld",
                    "oshld",
                )
                if verb == "dsb"
                else ("sy",)
            )
            self.extra(rest, 1, f"D.V {verb} [{'|'.join(allowed)}]")
            if rest and rest[0] not in allowed:
                raise self.err(
                    f"unknown {verb} option {rest[0]!r} (expected: {', '.join(allowed)})"
                )
            return Barrier(d.name, i, verb, L, rest[0] if rest and rest[0] != "sy" else "")
        if verb == "asid":
            self.extra(rest, 1, "D.V asid N")
            return SetAsid(d.name, i, self.asid(rest[0] if rest else None, d), L)
        self.extra(rest, 1, "D.V table T")
        if not rest or not NAME.match(rest[0]):
            raise self.err("missing or malformed table name (usage: D.V table T)")
        return SetTable(d.name, i, rest[0], L)

    def table_opt(self, opts: dict[str, str]) -> str | None:
        t = opts.get("table")
        if t is not None and not NAME.match(t):
            raise self.err(f"malformed table name {t!r}")
        return t

    def asid(self, tok: str | None, d: DomainSpec) -> int:
        n = self.number(tok, "ASID")
        bits = ASID_BITS[d.arch]
        if n >= 1 << bits:
            raise self.err(f"ASID {n} does not fit the {bits}-bit ASID of an {d.arch.value} guest")
        return n

    def run(self) -> Event:
        t = self.toks
        if len(t) != 4 or t[2] != "on":
            raise self.err("expected 'run DOMAIN.VCPU on PCPU'")
        d, i = self.vcpu(t[1])
        p = self.number(t[3], "pCPU")
        if p >= self.pcpus:
            raise self.err(f"pCPU {p} out of range: the machine has pCPUs 0..{self.pcpus - 1}")
        name = f"{d.name}.{i}"
        if d.pinned:
            first = self.pinned_on.setdefault(name, p)
            if first != p:
                raise self.err(
                    f"vCPU {name} belongs to a pinned domain: it ran on pCPU {first}, not {p}"
                )
        life = self.life
        vmid = life.vmids[d.name]
        for o in sorted(life.ran - life.destroyed - {d.name}):
            if life.vmids[o] == vmid:
                raise self.err(
                    f"VMID {vmid} still tags VM {o!r}: 'destroy {o}' before running {d.name!r}"
                )
        life.ran.add(d.name)
        for other, q in list(self.running.items()):
            if q == p or other == name:
                del self.running[other]
        self.running[name] = p
        return Run(d.name, i, p, self.line)

    def destroy(self) -> Event:
        t = self.toks
        if len(t) != 2:
            raise self.err("expected 'destroy DOMAIN'")
        d = self.domains.get(t[1])
        if d is None:
            raise self.err(f"unknown domain {t[1]!r} (declared: {', '.join(self.domains)})")
        if d.name in self.life.destroyed:
            raise self.err(f"domain {d.name!r} was destroyed at an earlier step")
        self.life.destroyed.add(d.name)
        for other in [n for n in self.running if n.rpartition(".")[0] == d.name]:
            del self.running[other]
        return Destroy(d.name, self.line)

    def maintain(self, d: DomainSpec, i: int, verb: str, rest: list[str]) -> Event:
        structure = {"tlbi": Structure.TLB, "ic": Structure.ICACHE, "bp": Structure.BP}[verb]
        if not rest:
            raise self.err(f"missing instruction after {verb!r}")
        op = lookup_op(d.arch, rest[0])
        if op is None or op.structure is not structure:
            other = Arch.AARCH32 if d.arch is Arch.AARCH64 else Arch.AARCH64
            alt = lookup_op(other, rest[0])
            if alt is not None and alt.structure is structure:
                raise self.err(
                    f"{verb} {rest[0]} does not exist on {d.arch.value} "
                    f"(domain {d.name!r} is {d.arch.value}; it is an {other.value} instruction)"
                )
            raise self.err(f"unknown {verb} instruction {rest[0]!r} for {d.arch.value}")
        allowed = set()
        if op.operand is Operand.VA and op.structure is Structure.TLB:
            allowed = {"asid", "pages"} if op.is_range else {"asid"}
        pos, opts = self.options(rest[1:], allowed)
        L = self.line
        if op.operand is Operand.NONE:
            self.extra(pos, 0, f"D.V {verb} {op.name}")
            return Maintain(d.name, i, op, line=L)
        self.extra(pos, 1, f"D.V {verb} {op.name} {op.operand.value.upper()}")
        if op.operand is Operand.ASID:
            if not pos:
                raise self.err(f"missing ASID operand for {op.name}")
            return Maintain(d.name, i, op, asid=self.asid(pos[0], d), line=L)
        if not pos:
            raise self.err(f"missing VA operand for {op.name}")
        va = self.page(pos[0], "VA", False)
        asid = self.asid(opts["asid"], d) if "asid" in opts else None
        pages = self.number(opts["pages"], "pages") if "pages" in opts else 1
        if pages < 1 or pages > 1 << 20:
            raise self.err(f"pages must be between 1 and {1 << 20}, got {pages}")
        return Maintain(d.name, i, op, va=va, asid=asid, pages=pages, line=L)
