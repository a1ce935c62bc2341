"""The litmus file format of SPEC §6: parse a ``.toml`` scenario, with errors that name file:line.

Every failure is a ``LitmusError`` carrying a one-line message; nothing else escapes ``load``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from .. import tomlfile
from ..arch.ops import Arch, BpReading
from ..guest.kinds import KindError, load_kind
from ..sim.events import Event
from ..sim.scenario import DomainSpec, Scenario
from .errors import LitmusError
from .steps import NAME, StepLine, VmLife

__all__ = ["LitmusError", "load", "parse"]

TOP_KEYS = {
    "title",
    "pcpus",
    "policy",
    "expect",
    "steps",
    "domains",
    "incomplete",
    "bp_visible",
    "bpiall_fb_upgrade",
}
DOMAIN_KEYS = {"vcpus", "arch", "kind", "pinned", "vmid"}
EXPECTS = ("clean", "violation")
MAX_PCPUS = 4096


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
        raise LitmusError(path, *tomlfile.syntax_error(exc, text)) from None
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
        flags = {
            key: self.typed(doc.get(key, dflt), bool, key, self.key_line(key), "true or false")
            for key, dflt in (("bp_visible", True), ("bpiall_fb_upgrade", False))
        }
        bp = BpReading(flags["bp_visible"], flags["bpiall_fb_upgrade"])
        domains = self.domains(doc["domains"])
        steps = self.typed(doc["steps"], str, "steps", self.key_line("steps"), "a string of steps")
        events, lines = self.steps(steps, pcpus, {d.name: d for d in domains})
        incomplete = self.typed(
            doc.get("incomplete", False),
            bool,
            "incomplete",
            self.key_line("incomplete"),
            "true or false",
        )
        return Scenario(
            pcpus, domains, events, title, policy, expect, self.path, lines, bp, incomplete
        )

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
                try:
                    load_kind(kind, str(Path(self.path).parent))
                except KindError as exc:
                    raise self.err(self.key_line("kind", sec), str(exc)) from None
            pinned = self.typed(
                body.get("pinned", False),
                bool,
                f"{sec}.pinned",
                self.key_line("pinned", sec),
                "true or false",
            )
            vmid = body.get("vmid")
            if vmid is not None:
                self.typed(vmid, int, f"{sec}.vmid", self.key_line("vmid", sec), "a VMID >= 1")
                if not 1 <= vmid <= 0xFFFF:
                    raise self.err(
                        self.key_line("vmid", sec),
                        f"{sec}.vmid must be between 1 and 65535 (0 is the host's), got {vmid}",
                    )
            out.append(DomainSpec(name, vcpus, arch, kind, pinned, vmid))
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
        life = VmLife({d.name: d.vmid or n for n, d in enumerate(domains.values(), start=1)})
        events: list[Event] = []
        lines: list[int] = []
        for offset, raw in enumerate(text.split("\n")):
            line = first + offset
            toks = raw.split("#", 1)[0].split()
            if not toks:
                continue
            ev = StepLine(self.path, line, toks, pcpus, domains, running, pinned_on, life).event()
            events.append(ev)
            lines.append(line)
        if not events:
            raise self.err(self.key_line("steps"), "steps holds no step")
        return events, lines
