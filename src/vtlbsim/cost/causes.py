"""The causes both cost models charge a policy's cycles to (keys of ``CostResult.cycles``).

A definition shared by the analytic model (``analytic.py``) and exact mode (``exact.py``), so that
the two report the same causes and ``validate`` can compare them cause by cause; neither model's
formulas live here.
"""

from __future__ import annotations

CAUSES: dict[str, str] = {
    "broadcast-issue": "extra wait of the issuing core: IS maintenance + DSB ISH instead of local, "
    "and the longer DVM queue the added broadcasts make every broadcast wait in",
    "dvm-others": "stalls of every other busy core a DVM operation or Sync reaches",
    "collateral-tlb": "2-stage refills on other cores of entries a broadcast removed (siblings, or all)",
    "hyp-flush": "the hypervisor's flush instructions on vCPU load (issue + completion)",
    "tlb-refill": "2-stage walks refilling the loaded vCPU's entries a hypervisor flush removed",
    "icache-refill": "I-cache lines refilled after an I-cache invalidation (this core and others)",
    "bp-retrain": "branch mispredictions retraining a predictor after BPIALL (this core and others)",
    "trap": "EL1 -> EL2 -> EL1 round trips for trapped maintenance",
}
"""Every cause the model charges, with what it is."""
