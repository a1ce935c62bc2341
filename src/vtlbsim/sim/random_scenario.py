"""Random scenarios whose guests follow their own rules, for property tests and benchmarks.

A generated guest never breaks its contract (SPEC §5): it changes a PTE only by
break-before-make (unmap, a TLBI that covers the VA, map), follows new code with the I-cache
(and, on AArch32, branch-predictor) maintenance its discipline uses, binds each ASID to one
table for good, and uses global mappings only when it has a single table. The discipline says
which scope it uses: ``broadcast`` (IS forms, SMP kernels), ``local`` (local forms, UP kernels)
or ``percpu`` (local forms with per-vCPU tables, AArch64: the H2 guest).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..arch.ops import Arch, op
from ..guest.tables import Pte
from .events import (
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
from .scenario import DomainSpec, Scenario

DISCIPLINES = ("broadcast", "local", "percpu")
VAS = (1, 2, 3, 4)
PAS = tuple(range(0x10, 0x18))

_TLBI = {
    # (arch, broadcast?) -> (by VA + ASID, by VA any ASID, by ASID, all)
    (Arch.AARCH64, True): ("vale1is", "vaae1is", "aside1is", "vmalle1is"),
    (Arch.AARCH64, False): ("vale1", "vaae1", "aside1", "vmalle1"),
    (Arch.AARCH32, True): ("tlbimvais", "tlbimvaais", "tlbiasidis", "tlbiallis"),
    (Arch.AARCH32, False): ("tlbimva", "tlbimvaa", "tlbiasid", "tlbiall"),
}
_IC = {True: ("ialluis", "ivau"), False: ("iallu",)}
_BP = {True: "bpiallis", False: "bpiall"}


@dataclass(frozen=True, slots=True)
class GuestShape:
    """One domain of a random scenario."""

    name: str
    vcpus: int
    arch: Arch
    discipline: str


class _Guest:
    def __init__(self, shape: GuestShape, rng: random.Random) -> None:
        self.shape = shape
        self.rng = rng
        self.broadcast = shape.discipline == "broadcast"
        percpu = shape.discipline == "percpu"
        # per-vCPU tables for percpu guests; else "main" (ASID 0) and process "p1" (ASID 1)
        self.tables = [f"t{i}" for i in range(shape.vcpus)] if percpu else ["main", "p1"]
        self.asid_of = {t: (0 if percpu else i) for i, t in enumerate(self.tables)}
        self.table_of = [self.tables[i] if percpu else "main" for i in range(shape.vcpus)]
        self.ptes: dict[tuple[str, int], Pte] = {}
        self.percpu = percpu
        # a guest with global (kernel) mappings keeps one table: globals match every ASID
        self.use_global = not percpu and rng.random() < 0.5

    def tlbi(self, kind: int) -> str:
        return _TLBI[(self.shape.arch, self.broadcast)][kind]


def random_scenario(
    seed: int,
    steps: int,
    pcpus: int,
    guests: list[GuestShape],
    *,
    pinned: bool = False,
    policy: str = "none",
) -> Scenario:
    """A reproducible scenario of about ``steps`` steps (compound actions finish past it).

    ``pinned``: vCPU *k* (counting over all guests) only ever runs on pCPU *k*, alone: bare metal.
    """
    rng = random.Random(seed)
    gs = [_Guest(g, rng) for g in guests]
    vcpus = [(g, i) for g in gs for i in range(g.shape.vcpus)]
    if pinned and len(vcpus) > pcpus:
        raise ValueError("pinned needs one pCPU per vCPU")
    home = {(g.shape.name, i): k for k, (g, i) in enumerate(vcpus)}
    running: dict[tuple[str, int], int] = {}
    on_pcpu: dict[int, tuple[str, int]] = {}
    events: list[Event] = []

    def run(g: _Guest, i: int, p: int) -> None:
        key = (g.shape.name, i)
        old = on_pcpu.pop(p, None)
        if old is not None:
            running.pop(old, None)
        q = running.pop(key, None)
        if q is not None:
            on_pcpu.pop(q, None)
        running[key] = p
        on_pcpu[p] = key
        events.append(Run(g.shape.name, i, p))

    for g, i in vcpus:  # every vCPU starts somewhere, its table populated
        run(g, i, home[(g.shape.name, i)] if pinned else rng.randrange(pcpus))
        t = g.table_of[i]
        if t != "main":
            events.append(SetTable(g.shape.name, i, t))
        for va in VAS:
            if (t, va) not in g.ptes:
                pte = Pte(rng.choice(PAS), g.use_global and rng.random() < 0.3)
                g.ptes[(t, va)] = pte
                events.append(PteWrite(g.shape.name, i, va, pte, t))

    while len(events) < steps:
        r = rng.random()
        if r < 0.12:
            g, i = rng.choice(vcpus)
            run(g, i, home[(g.shape.name, i)] if pinned else rng.randrange(pcpus))
            continue
        live = [(g, i) for g, i in vcpus if (g.shape.name, i) in running]
        if not live:
            continue
        g, i = rng.choice(live)
        d, t = g.shape.name, g.table_of[i]
        va = rng.choice(VAS)
        if r < 0.55:
            kind = rng.choice((AccessKind.LOAD, AccessKind.STORE, AccessKind.FETCH))
            events.append(Access(d, i, va, kind))
        elif r < 0.72:
            _remap(g, i, d, t, va, events)
        elif r < 0.80 and (t, va) in g.ptes:
            events.append(WriteCode(d, i, va))
            ic = rng.choice(_IC[g.broadcast])
            arch = g.shape.arch
            events.append(Maintain(d, i, op(arch, ic), va=va))
            if arch is Arch.AARCH32:
                events.append(Maintain(d, i, op(arch, _BP[g.broadcast])))
            events.append(Barrier(d, i, "isb"))
        elif r < 0.86 and not g.percpu and not g.use_global:
            nt = rng.choice(g.tables)
            g.table_of[i] = nt
            events.append(SetTable(d, i, nt))
            events.append(SetAsid(d, i, g.asid_of[nt]))
        elif r < 0.88:
            arch = g.shape.arch
            if rng.random() < 0.5:
                events.append(Maintain(d, i, op(arch, g.tlbi(3))))
            else:
                events.append(Maintain(d, i, op(arch, g.tlbi(2)), asid=g.asid_of[t]))
        else:
            events.append(Barrier(d, i, rng.choice(("dsb", "isb"))))
    domains = [DomainSpec(g.shape.name, g.shape.vcpus, g.shape.arch) for g in gs]
    return Scenario(pcpus, domains, events, f"random seed {seed}", policy, None, f"<random {seed}>")


def _remap(g: _Guest, i: int, d: str, t: str, va: int, events: list[Event]) -> None:
    """Break-before-make: unmap, a TLBI covering the VA, then the new mapping."""
    rng, arch = g.rng, g.shape.arch
    old = g.ptes.get((t, va))
    if old is not None:
        events.append(PteWrite(d, i, va, None, t))
        kind = rng.choices((0, 1, 2, 3), weights=(60, 25, 10, 5))[0]
        name = g.tlbi(kind)
        if kind == 2:
            events.append(Maintain(d, i, op(arch, name), asid=g.asid_of[t]))
        elif kind == 3:
            events.append(Maintain(d, i, op(arch, name)))
        else:
            events.append(Maintain(d, i, op(arch, name), va=va))
        events.append(Barrier(d, i, "dsb"))
        if old.is_global and kind == 2:  # ASIDE1 does not cover global entries
            events.append(Maintain(d, i, op(arch, g.tlbi(1)), va=va))
    if rng.random() < 0.15:
        g.ptes.pop((t, va), None)
        return  # left unmapped
    choices = [pa for pa in PAS if old is None or pa != old.pa]
    pte = Pte(rng.choice(choices), g.use_global and rng.random() < 0.3)
    g.ptes[(t, va)] = pte
    events.append(PteWrite(d, i, va, pte, t))
