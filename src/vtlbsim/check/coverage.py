"""The last maintenance instruction of each shape, as the guest wrote it (SPEC §5).

One ``Coverage`` holds one vCPU's local instructions, another one VM's Inner Shareable ones; a
use is judged against the later of the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..arch.ops import Match, Structure
from ..arch.tlb import GLOBAL
from ..sim.events import Maintain
from .findings import NEVER, Mark


@dataclass(slots=True)
class Coverage:
    """The last maintenance of each shape, for one vCPU's local instructions or one VM's IS ones."""

    tlb_all: Mark = NEVER
    tlb_asid: dict[int, Mark] = field(default_factory=dict)
    tlb_va_any: dict[int, Mark] = field(default_factory=dict)
    tlb_va_asid: dict[tuple[int, int], Mark] = field(default_factory=dict)
    tlb_va_global: dict[int, Mark] = field(default_factory=dict)
    ic_all: Mark = NEVER
    ic_pa: dict[int, Mark] = field(default_factory=dict)
    bp_all: Mark = NEVER
    bp_va: dict[int, Mark] = field(default_factory=dict)
    tlb_key: object = field(default_factory=object, compare=False, repr=False)
    """Stands for the TLB marks (what ``tlb`` and ``asid`` read): a copy keeps it, a TLB
    instruction recorded replaces it, so records with the same ``tlb_key`` give the same
    answers there (the key's memos, ``keyplan.py``, are keyed by it)."""
    bp_key: object = field(default_factory=object, compare=False, repr=False)
    """The same for the predictor marks (what ``bp`` reads)."""

    def copy(self) -> Coverage:
        """An independent copy (the oracle copies a record before it changes it: checker
        snapshots share them)."""
        return Coverage(
            self.tlb_all,
            self.tlb_asid.copy(),
            self.tlb_va_any.copy(),
            self.tlb_va_asid.copy(),
            self.tlb_va_global.copy(),
            self.ic_all,
            self.ic_pa.copy(),
            self.bp_all,
            self.bp_va.copy(),
            self.tlb_key,
            self.bp_key,
        )

    def record(self, ev: Maintain, asid: int, pa: int | None, mark: Mark) -> None:
        op = ev.op
        if op.structure is Structure.TLB:
            self.tlb_key = object()
            m = op.match
            if m is Match.ALL:
                self.tlb_all = mark
            elif m is Match.ASID:
                self.tlb_asid[asid] = mark
            else:
                for va in range(ev.va, ev.va + ev.pages):
                    if m is Match.VA_ANY_ASID:
                        self.tlb_va_any[va] = mark
                    else:  # VAE1 removes that ASID's entry and the global one
                        self.tlb_va_asid[(va, asid)] = mark
                        self.tlb_va_global[va] = mark
        elif op.structure is Structure.ICACHE:
            if op.match is Match.ALL:
                # ICIALLU / IC IALLU "also flush branch predictors" where they are visible, the
                # only case in which predictions are judged
                self.ic_all = self.bp_all = mark
                self.bp_key = object()
            elif pa is not None:
                self.ic_pa[pa] = mark
        elif op.match is Match.ALL:
            self.bp_all = mark
            self.bp_key = object()
        else:
            self.bp_va[ev.va] = mark
            self.bp_key = object()

    def tlb(self, tag: int, va: int) -> Mark:
        best = max(self.tlb_all, self.tlb_va_any.get(va, NEVER))
        if tag == GLOBAL:
            return max(best, self.tlb_va_global.get(va, NEVER))
        return max(best, self.tlb_asid.get(tag, NEVER), self.tlb_va_asid.get((va, tag), NEVER))

    def asid(self, asid: int) -> Mark:
        return max(self.tlb_all, self.tlb_asid.get(asid, NEVER))

    def icache(self, pa: int) -> Mark:
        return max(self.ic_all, self.ic_pa.get(pa, NEVER))

    def bp(self, va: int) -> Mark:
        return max(self.bp_all, self.bp_va.get(va, NEVER))


def tlb_steps(
    loc: Coverage, shared: Coverage, tags: Iterable[int], vas: Iterable[int]
) -> dict[tuple[int, int], int]:
    """Per ``(tag, va)``, the step of the later of ``loc``'s and ``shared``'s last instructions
    that cover it: ``max(loc.tlb(tag, va), shared.tlb(tag, va))[0]``, with what the tags of a
    VA share (every ASID, a VA whatever its ASID) read once."""
    out: dict[tuple[int, int], int] = {}
    tags = tuple(tags)
    for va in vas:
        base = max(
            loc.tlb_all,
            shared.tlb_all,
            loc.tlb_va_any.get(va, NEVER),
            shared.tlb_va_any.get(va, NEVER),
        )
        for tag in tags:
            if tag == GLOBAL:
                m = max(base, loc.tlb_va_global.get(va, NEVER), shared.tlb_va_global.get(va, NEVER))
            else:
                m = max(
                    base,
                    loc.tlb_asid.get(tag, NEVER),
                    shared.tlb_asid.get(tag, NEVER),
                    loc.tlb_va_asid.get((va, tag), NEVER),
                    shared.tlb_va_asid.get((va, tag), NEVER),
                )
            out[(tag, va)] = m[0]
    return out
