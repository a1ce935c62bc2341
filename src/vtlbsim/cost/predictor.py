"""What a branch-predictor or I-cache instruction does to the branch predictor on a platform.

Architectural predicates both cost models apply to the instructions they charge (the analytic
model in ``analytic.py``, exact mode in ``exact.py``): whether an instruction makes a guest retrain
its predictor, and whether it executes as a NOP. They decide *which* instructions touch the
predictor, not what that costs.
"""

from __future__ import annotations

from ..arch.ops import Arch, HypOp, HypTarget, MaintenanceOp, Match, Structure
from .platform import Platform


def flushes_predictor(p: Platform, arch: Arch, o: MaintenanceOp | HypOp) -> bool:
    """Whether ``o`` makes an AArch32 guest retrain its branch predictor on ``p``: BPIALL, and
    the whole-I-cache invalidations (ICIALLU, the hypervisor's IC IALLU), which "also flush
    branch predictors" where they are architecturally visible; nothing where they are not
    (BPIALL then executes as a NOP). AArch64 guests keep no predictor state in the model."""
    if not p.bp_visible or arch is not Arch.AARCH32:
        return False
    if isinstance(o, HypOp):
        return o.target in (HypTarget.BP, HypTarget.ICACHE)
    return o.structure is Structure.BP or (o.structure is Structure.ICACHE and o.match is Match.ALL)


def is_nop(p: Platform, o: MaintenanceOp) -> bool:
    """A guest's branch-predictor instruction on a core whose predictors are invisible executes
    as a NOP (AArch32 BPIALL: "can execute as a NOP"): it costs nothing. (Both models ask it of
    the guest's instructions only; no policy issues a hypervisor BPIALL.)"""
    return o.structure is Structure.BP and not p.bp_visible
