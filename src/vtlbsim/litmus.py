"""The litmus file format of SPEC §6: parse a ``.toml`` scenario, with errors that name file:line.

Every failure is a ``LitmusError`` carrying a one-line message; nothing else escapes ``load``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from .arch.ops import Arch, Operand, Structure, lookup_op
from .guest.kinds import KIND_NAMES
from .guest.tables import Pte
from .sim.events import (
    Access,
    AccessKind,
    Barrier,
    Event,
    Maintain,
    PteWrite,
    Run,
    SetAsid,
    SetTable,
    WriteCode,
)
from .sim.scenario import DomainSpec, Scenario

PAGE_SHIFT = 12
TOP_KEYS = {"title", "pcpus", "policy", "expect", "steps", "domains"}
DOMAIN_KEYS = {"vcpus", "arch", "kind", "pinned"}
EXPECTS = ("clean", "violation")
STEP_VERBS = "run, map, unmap, load, store, fetch, write-code, tlbi, ic, bp, dsb, isb, asid, table"
ASID_BITS = {Arch.AARCH64: 16, Arch.AARCH32: 8}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
MAX_PCPUS = 4096


class LitmusError(ValueError):
    """A malformed litmus file: ``str()`` is the one-line message ``FILE[:LINE]: what was expected``."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


def load(path: str | Path) -> Scenario:
    """Read and validate a litmus file."""
    p = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise LitmusError(p, None, "no such file") from None
    except IsADirectoryError:
        raise LitmusError(p, None, "is a directory, expected a litmus .toml file") from None
    except OSError as exc:
        raise LitmusError(p, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LitmusError(p, None, "not a text file (expected UTF-8 TOML)") from None
    return parse(text, p)


def parse(text: str, path: str = "<string>") -> Scenario:
    """Parse litmus TOML ``text``; ``path`` names it in errors."""
    if "\x00" in text:
        raise LitmusError(path, None, "not a text file (NUL byte)")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        line = int(m.group(1)) if m else None
        if line is None and "end of document" in str(exc):
            line = max(1, len(text.splitlines()))
        msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise LitmusError(path, line, f"not valid TOML: {msg}") from None
    return _Parser(text, path).scenario(doc)


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.lines = text.splitlines()

    # ---- helpers ---------------------------------------------------------------------------
    def err(self, line: int | None, message: str) -> LitmusError:
        return LitmusError(self.path, line, message)

    def key_line(self, key: str, section: str | None = None) -> int | None:
        """The line where ``key =`` is written (inside ``[section]`` if given)."""
        in_section = section is None
        pat = re.compile(rf"\s*{re.escape(key)}\s*=")
        for i, ln in enumerate(self.lines, start=1):
            s = ln.strip()
            if s.startswith("["):
                in_section = section is not None and s.strip("[] ").replace('"', "") == section
                if section is None:
                    in_section = False
                continue
            if in_section and pat.match(ln):
                return i
        return None

    def section_line(self, section: str) -> int | None:
        for i, ln in enumerate(self.lines, start=1):
            if ln.strip().strip("[] ").replace('"', "") == section and ln.strip().startswith("["):
                return i
        return None

    def typed(self, value: Any, typ: type, field: str, line: int | None, expected: str) -> Any:
        if typ is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.err(line, f"{field} must be {expected}, got {value!r}")
        if not isinstance(value, typ):
            raise self.err(line, f"{field} must be {expected}, got {value!r}")
        return value

    # ---- the document ------------------------------------------------------------------------
    def scenario(self, doc: dict[str, Any]) -> Scenario:
        for key in doc:
            if key not in TOP_KEYS:
                raise self.err(
                    self.key_line(key) or self.section_line(key),
                    f"unknown key {key!r} (expected: {', '.join(sorted(TOP_KEYS))})",
                )
        for key in ("pcpus", "steps", "domains"):
            if key not in doc:
                raise self.err(None, f"missing required key {key!r}")
        pcpus = self.typed(doc["pcpus"], int, "pcpus", self.key_line("pcpus"), "a positive integer")
        if not 1 <= pcpus <= MAX_PCPUS:
            raise self.err(
                self.key_line("pcpus"), f"pcpus must be between 1 and {MAX_PCPUS}, got {pcpus}"
            )
        title = self.typed(doc.get("title", ""), str, "title", self.key_line("title"), "a string")
        policy = self.typed(
            doc.get("policy", "none"), str, "policy", self.key_line("policy"), "a string"
        )
        expect = doc.get("expect")
        if expect is not None and expect not in EXPECTS:
            raise self.err(
                self.key_line("expect"), f'expect must be "clean" or "violation", got {expect!r}'
            )
        domains = self.domains(doc["domains"])
        steps = self.typed(doc["steps"], str, "steps", self.key_line("steps"), "a string of steps")
        events, lines = self.steps(steps, pcpus, {d.name: d for d in domains})
        return Scenario(pcpus, domains, events, title, policy, expect, self.path, lines)

    def domains(self, table: Any) -> list[DomainSpec]:
        if not isinstance(table, dict) or not table:
            raise self.err(
                self.key_line("domains") or self.section_line("domains"),
                "domains must be a table with at least one [domains.NAME]",
            )
        out = []
        for name, body in table.items():
            sec = f"domains.{name}"
            line = self.section_line(sec)
            if not NAME.match(name):
                raise self.err(line, f"domain name {name!r} must be letters, digits, '_' or '-'")
            if not isinstance(body, dict):
                raise self.err(line or self.key_line(name, "domains"), f"{sec} must be a table")
            for key in body:
                if key not in DOMAIN_KEYS:
                    raise self.err(
                        self.key_line(key, sec) or line,
                        f"unknown key {key!r} in [{sec}] (expected: {', '.join(sorted(DOMAIN_KEYS))})",
                    )
            vcpus = self.typed(
                body.get("vcpus", 1),
                int,
                f"{sec}.vcpus",
                self.key_line("vcpus", sec),
                "a positive integer",
            )
            if not 1 <= vcpus <= 1024:
                raise self.err(
                    self.key_line("vcpus", sec),
                    f"{sec}.vcpus must be between 1 and 1024, got {vcpus}",
                )
            arch_s = self.typed(
                body.get("arch", "aarch64"),
                str,
                f"{sec}.arch",
                self.key_line("arch", sec),
                '"aarch64" or "aarch32"',
            )
            try:
                arch = Arch(arch_s)
            except ValueError:
                raise self.err(
                    self.key_line("arch", sec),
                    f'{sec}.arch must be "aarch64" or "aarch32", got {arch_s!r}',
                ) from None
            kind = body.get("kind")
            if kind is not None:
                self.typed(
                    kind, str, f"{sec}.kind", self.key_line("kind", sec), "a guest kind name"
                )
                if kind not in KIND_NAMES:
                    raise self.err(
                        self.key_line("kind", sec),
                        f"unknown guest kind {kind!r} (expected one of: {', '.join(KIND_NAMES)})",
                    )
            pinned = self.typed(
                body.get("pinned", False),
                bool,
                f"{sec}.pinned",
                self.key_line("pinned", sec),
                "true or false",
            )
            out.append(DomainSpec(name, vcpus, arch, kind, pinned))
        return out

    # ---- the steps -----------------------------------------------------------------------------
    def first_step_line(self) -> int:
        kl = self.key_line("steps") or 1
        after = self.lines[kl - 1].split("=", 1)[1].strip() if kl <= len(self.lines) else ""
        for q in ('"""', "'''"):
            if after.startswith(q) and after[3:].strip() == "":
                return kl + 1  # TOML trims the newline right after the opening delimiter
        return kl

    def steps(
        self, text: str, pcpus: int, domains: dict[str, DomainSpec]
    ) -> tuple[list[Event], list[int]]:
        first = self.first_step_line()
        running: dict[str, int] = {}
        pinned_on: dict[str, int] = {}
        events: list[Event] = []
        lines: list[int] = []
        for offset, raw in enumerate(text.split("\n")):
            line = first + offset
            toks = raw.split("#", 1)[0].split()
            if not toks:
                continue
            ev = _Step(self, line, toks, pcpus, domains, running, pinned_on).event()
            events.append(ev)
            lines.append(line)
        if not events:
            raise self.err(self.key_line("steps"), "steps holds no step")
        return events, lines


class _Step:
    """One step line → one event, validated against the domains and what is running."""

    def __init__(
        self,
        parser: _Parser,
        line: int,
        toks: list[str],
        pcpus: int,
        domains: dict[str, DomainSpec],
        running: dict[str, int],
        pinned_on: dict[str, int],
    ) -> None:
        self.p, self.line, self.toks = parser, line, toks
        self.pcpus, self.domains, self.running, self.pinned_on = pcpus, domains, running, pinned_on

    def err(self, message: str) -> LitmusError:
        return self.p.err(self.line, message)

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
            return Barrier(d.name, i, verb, L)
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
        for other, q in list(self.running.items()):
            if q == p or other == name:
                del self.running[other]
        self.running[name] = p
        return Run(d.name, i, p, self.line)

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
