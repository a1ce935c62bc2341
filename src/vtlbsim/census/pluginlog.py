"""Reading QEMU's log of a census run: the plugin's lines and, for A32 guests, the CPU state
QEMU logs (``-d cpu -dfilter``) at the instruction after each conditional site.

Plugin lines (tab-separated; see data/census/plugin/census.c):

- ``census 1 TARGET VCPUS ISA``: the plugin loaded;
- ``mark PHASE VCPU``: a marker executed, PHASE begins;
- ``event SEQ PHASE VCPU NAME``: an instruction given with ``event=ADDR:NAME`` executed;
- ``phases N``; ``count PHASE VCPU NAME N``; ``insns PHASE VCPU RANGE N``;
- ``site INDEX VADDR INSN NAME COND ISA LAST``; ``sitecount INDEX PHASE VCPU N``;
- ``dropped SITES AMBIGUOUS``; ``end``.

QEMU's CPU dump (target/arm/cpu.c ``arm_cpu_dump_state``): A32 prints ``R15=%08x`` (the PC) on
the fourth register line and ``PSR=%08x`` after it; A64 prints `` PC=%016x X00=%016x ...`` and
the other X registers on the lines after it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Site:
    """One instruction address the plugin counted per site."""

    index: int
    vaddr: int
    insn: int
    name: str
    cond: int
    """The A32 condition field (14: always)."""
    isa: str
    last_in_tb: int
    """Bit 0: translated as the last instruction of its block; bit 1: translated before it."""

    @property
    def conditional(self) -> bool:
        return self.cond != 14


@dataclass(frozen=True)
class Event:
    """An ``event=ADDR:NAME`` instruction executed (``seq``: execution order)."""

    seq: int
    phase: int
    vcpu: int
    name: str
    position: int
    """Line number in the log (orders events against CPU dumps)."""


@dataclass(frozen=True)
class A64State:
    """An A64 CPU dump QEMU logged before running the block at ``pc``."""

    position: int
    phase: int
    pc: int
    x: tuple[int, ...]
    """X0..X3."""


@dataclass
class PluginLog:
    """Everything one run's log holds."""

    loaded: bool = False
    ended: bool = False
    vcpus: int = 0
    marks: list[tuple[int, int]] = field(default_factory=list)
    phases: int = 0
    counts: dict[tuple[int, int], dict[str, int]] = field(default_factory=dict)
    """(phase, vCPU) -> instruction name -> executions (conditional sites excluded)."""
    insns: dict[tuple[int, int], dict[str, int]] = field(default_factory=dict)
    """(phase, vCPU) -> range name -> instructions."""
    sites: dict[int, Site] = field(default_factory=dict)
    site_counts: dict[int, dict[tuple[int, int], int]] = field(default_factory=dict)
    """site index -> (phase, vCPU) -> times reached."""
    events: list[Event] = field(default_factory=list)
    a64_states: list[A64State] = field(default_factory=list)
    sites_dropped: int = 0
    ambiguous: int = 0
    cpu_states: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    """(PC, phase) -> the PSR of every logged entry at that PC."""


_R15 = re.compile(r"R15=([0-9a-f]{8})")
_PC = re.compile(r"^ ?PC=([0-9a-f]{16}) X00=([0-9a-f]{16}) X01=([0-9a-f]{16})")
_X23 = re.compile(r"^X02=([0-9a-f]{16}) X03=([0-9a-f]{16})")
_PSR = re.compile(r"^PSR=([0-9a-f]{8})")


def parse(path: Path) -> PluginLog:
    """Parse a QEMU log written with ``-d plugin[,cpu] -D path``."""
    log = PluginLog()
    counts: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    insns: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    site_counts: dict[int, dict[tuple[int, int], int]] = defaultdict(dict)
    states: dict[tuple[int, int], list[int]] = defaultdict(list)
    phase = 0
    pc: int | None = None
    a64: tuple[int, int, int] | None = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for position, line in enumerate(fh):
            if a64 is not None:
                m = _X23.match(line)
                if m:
                    x = (a64[1], a64[2], int(m.group(1), 16), int(m.group(2), 16))
                    log.a64_states.append(A64State(position, phase, a64[0], x))
                a64 = None
                continue
            if "PC=" in line[:4]:
                m = _PC.match(line)
                if m:
                    a64 = (int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16))
                continue
            if line.startswith("R") and "R15=" in line:
                m = _R15.search(line)
                pc = int(m.group(1), 16) if m else None
                continue
            if line.startswith("PSR="):
                m = _PSR.match(line)
                if m and pc is not None:
                    states[(pc, phase)].append(int(m.group(1), 16))
                pc = None
                continue
            f = line.rstrip("\n").split("\t")
            tag = f[0]
            try:
                if tag == "census" and len(f) == 5:
                    log.loaded, log.vcpus = True, int(f[3])
                elif tag == "mark" and len(f) == 3:
                    phase = int(f[1])
                    log.marks.append((phase, int(f[2])))
                elif tag == "count" and len(f) == 5:
                    counts[(int(f[1]), int(f[2]))][f[3]] = int(f[4])
                elif tag == "insns" and len(f) == 5:
                    insns[(int(f[1]), int(f[2]))][f[3]] = int(f[4])
                elif tag == "site" and len(f) == 8:
                    s = Site(
                        int(f[1]), int(f[2], 16), int(f[3], 16), f[4], int(f[5]), f[6], int(f[7])
                    )
                    log.sites[s.index] = s
                elif tag == "sitecount" and len(f) == 5:
                    site_counts[int(f[1])][(int(f[2]), int(f[3]))] = int(f[4])
                elif tag == "event" and len(f) == 5:
                    log.events.append(Event(int(f[1]), int(f[2]), int(f[3]), f[4], position))
                elif tag == "phases" and len(f) == 2:
                    log.phases = int(f[1])
                elif tag == "dropped" and len(f) == 3:
                    log.sites_dropped, log.ambiguous = int(f[1]), int(f[2])
                elif tag == "end":
                    log.ended = True
            except ValueError:
                continue  # a line of QEMU's own interleaved with ours: not a plugin line
    log.counts, log.insns, log.site_counts = dict(counts), dict(insns), dict(site_counts)
    log.cpu_states = dict(states)
    log.events.sort(key=lambda e: e.seq)
    return log
