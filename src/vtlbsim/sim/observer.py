"""What the engine reports to an observer (the oracle): what the guest wrote and what each
translation, fetch and prediction used. The engine never asks the observer anything."""

from __future__ import annotations

from ..arch.caches import CodeLine
from ..arch.tlb import TlbEntry
from ..guest.domain import Vcpu
from ..guest.tables import Pte
from .events import Maintain


class Observer:
    """What the engine reports. The default does nothing; the oracle overrides it."""

    def guest_maintenance(
        self, step: int, vcpu: Vcpu, ev: Maintain, asid: int, pa: int | None
    ) -> None:
        """``vcpu`` executed ``ev.op`` as written, with ASID ``asid`` (by-VA IC: the PA it meant)."""

    def pte_write(self, step: int, vcpu: Vcpu, table: str, va: int, pte: Pte | None) -> None:
        """Called before the write is applied."""

    def translation(
        self, step: int, vcpu: Vcpu, pcpu: int, va: int, hits: list[TlbEntry], walked: Pte | None
    ) -> None:
        """A translation of ``va``: the TLB entries it hit, or (no hit) what the walk returned."""

    def code_fetch(
        self, step: int, vcpu: Vcpu, pcpu: int, va: int, line: CodeLine, hit: bool
    ) -> None:
        """The I-cache supplied ``line`` for the fetch (``hit``: it was already cached)."""

    def prediction(self, step: int, vcpu: Vcpu, pcpu: int, va: int, line: CodeLine) -> None:
        """The AArch32 branch predictor supplied a prediction trained on ``line``."""
