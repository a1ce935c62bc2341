"""The guest's maintenance stream: which instructions a guest kind executes, and how often.

The input both cost models price (the analytic model in ``analytic.py`` multiplies each rate by
the running vCPU-seconds; exact mode in ``exact.py`` draws Poisson counts from it): derived from
the guest kind's rates and discipline (``guest/rates.py``), not from any cost formula.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..guest.rates import GuestRates


def guest_ops(rates: GuestRates, vcpus: int) -> Iterable[tuple[str, str, float]]:
    """(event, instruction, executions per running vCPU-second) for the discipline of guest kind
    ``rates`` in a VM of ``vcpus`` vCPUs: every key of it at the rate that prices it (``pte_user`` at the PTE changes that are neither
    local nor relaxations, ``pte_user_local`` and ``pte_relax`` at their shares)."""
    r, d = rates, rates.discipline
    local_share = r.pte_local_fraction if d.pte_user_local is not None else 0.0
    relax_share = r.pte_relax_fraction if d.pte_relax is not None else 0.0
    plain = max(0.0, 1.0 - local_share - relax_share)
    for name in d.pte_user:
        yield "pte-changes", name, r.pte_changes_per_s * plain
    for name in d.pte_user_local or ():
        yield "pte-changes", name, r.pte_changes_per_s * local_share
    for name in d.pte_relax or ():
        yield "pte-changes", name, r.pte_changes_per_s * relax_share
    for name in d.map_exec:
        yield "exec-maps", name, r.exec_maps_per_s
    for name in d.asid_flush:
        yield "asid-flushes", name, r.asid_flushes_per_s
    per_vcpu = 1.0 / vcpus if d.rollover_broadcast else 1.0
    for name in d.rollover:
        yield "asid-rollovers", name, r.asid_rollovers_per_s * per_vcpu
    for name in d.code_change:
        yield "code-changes", name, r.code_changes_per_s
    for name in d.ttbr_switch:
        yield "guest-context-switches", name, r.context_switches_per_s
