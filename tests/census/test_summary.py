"""The census summary (census/summary.py): under a hypervisor the guest's counts are the phase's
counts less the hypervisor's EL2 sites; the local ones are those arch/ops.py scopes as local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vtlbsim.census import summary


def _xen_result() -> dict[str, Any]:
    counts = {"vmalls12e1": 30, "vale1is": 100, "vmalle1": 2, "hvc": 7}
    el2 = {"vmalls12e1": 30, "hvc": 0}
    return {
        "kernel": "debian-arm64",
        "phases": {"workload": {"counts": counts}},
        "hypervisor": {"phases": {"workload": {"el2_counts": el2}}},
    }


def test_guest_counts_leave_out_the_hypervisors_own() -> None:
    # 30 VMALLS12E1 all at Xen's EL2 sites: none is the guest's; the rest is the guest's
    assert summary.guest_counts(_xen_result()) == {"vale1is": 100, "vmalle1": 2, "hvc": 7}


def test_local_ops_of_a_guest_under_xen() -> None:
    # VALE1IS is broadcast, VMALLE1 local; Xen's VMALLS12E1 is not the guest's
    assert summary.local_ops(_xen_result()) == {"vmalle1": 2}


def test_without_a_hypervisor_every_count_is_the_guests() -> None:
    r = _xen_result()
    del r["hypervisor"]
    assert summary.guest_counts(r)["vmalls12e1"] == 30


def test_docs_census_holds_the_tables_of_the_shipped_results() -> None:
    """docs/census.md quotes `python -m vtlbsim.census.summary` whole (rerun it and paste the
    tables when the shipped results change)."""
    doc = (Path(__file__).parents[2] / "docs" / "census.md").read_text(encoding="utf-8")
    printed = summary.tables(summary.load(summary.RESULTS))
    missing = [line for line in printed.splitlines() if line and line not in doc]
    assert missing == []
