"""From census counts to guest rates: which counts measure which rate (census/rates.py), on
hand-made results whose expected figures are worked out here."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from vtlbsim import datafiles
from vtlbsim.census import rates
from vtlbsim.guest.kinds import discipline_from_dict
from vtlbsim.guest.rates import RATE_FIELDS, rates_from_dict


def _result(kernel: str, counts: dict[str, int], sites: list[dict[str, Any]]) -> dict[str, Any]:
    workload = {
        "counts": counts,
        "sites": sites,
        "processes": 100,
        "running_seconds": 0.5,
        "instructions": 500_000_000,
    }
    return {
        "kernel": kernel,
        "cpu": "cortex-a15",
        "workload": "exec",
        "command": f"vtlbsim census --kernel {kernel} --workload exec",
        "kernel_package": "pkg",
        "qemu": "qemu",
        "clock": "icount",
        "phases": {"workload": workload},
    }


ARMMP = _result(
    "debian-armmp",
    {
        "tlbimvaais": 14600,
        "tlbiallis": 260,
        "icialluis": 28300,
        "iciallu": 260,
        "bpiall": 1,
        "bpiallis": 7,
        "icimvau": 7,
        "tlbiall": 1,
        "mcr contextidr": 260,
        "dsb ish": 999,
    },
    [
        {
            "name": "iciallu",
            "symbol": "cpu_v7_iciallu_switch_mm+0x4",
            "count": 260,
            "address": "0x1",
        },
        {
            "name": "tlbiall",
            "symbol": "check_and_switch_context+0x1c4",
            "count": 1,
            "address": "0x2",
        },
        {
            "name": "bpiall",
            "symbol": "check_and_switch_context+0x1c0",
            "count": 1,
            "address": "0x5",
        },
        {"name": "bpiallis", "symbol": "v7_coherent_user_range+0x60", "count": 7, "address": "0x4"},
        {
            "name": "icialluis",
            "symbol": "v7_flush_icache_all+0x4",
            "count": 28300,
            "address": "0x3",
        },
    ],
)


def test_arm32_events() -> None:
    ev, how = rates.measured_events(ARMMP)
    assert ev["pte_changes_per_s"] == 14600
    assert ev["asid_flushes_per_s"] == 260  # TLBIALLIS from flush_tlb_mm (erratum 720789)
    assert ev["asid_rollovers_per_s"] == 1
    # one I-cache sync of written code per BPIALLIS of v7_coherent_user_range; the rollover's
    # BPIALL is not one
    assert ev["code_changes_per_s"] == 7
    # ICIALLUIS per executable mapping counts; the per-switch Spectre-v2 ICIALLU does not
    assert ev["exec_maps_per_s"] == 28300
    assert ev["context_switches_per_s"] == 260
    assert "switch_mm" in how["switch_hardening"]


def test_rates_per_running_second_and_per_process() -> None:
    m = rates.measured_rates(ARMMP)["pte_changes_per_s"]
    assert m["per_running_s"] == pytest.approx(14600 / 0.5)
    assert m["per_process"] == pytest.approx(146.0)


def test_arm64_code_changes_are_el0_ivau_and_exec_maps_kernel_lines() -> None:
    r = _result(
        "debian-arm64",
        {"ivau": 2128, "msr ttbr0_el1": 4},
        [
            {"name": "ivau", "symbol": "0x400134", "count": 2000, "address": "0x400134"},
            {"name": "ivau", "symbol": "caches_clean_inval_pou+0x68", "count": 128,
             "address": "0xffffc0f95d0392c8"},
            {"name": "msr ttbr0_el1", "symbol": "cpu_do_switch_mm+0x34", "count": 2,
             "address": "0xffffc0f95d03c424"},
        ],
    )  # fmt: skip
    ev, _ = rates.measured_events(r)
    assert ev["code_changes_per_s"] == 2000
    assert ev["exec_maps_per_s"] == 128 / 64
    assert ev["context_switches_per_s"] == 2


def test_arm64_with_kpti_counts_both_tlbis_and_halves_ttbr0_without_symbols() -> None:
    r = _result(
        "debian-arm64",
        {"vale1is": 48040, "vae1is": 2404, "aside1is": 5206, "msr ttbr0_el1": 5206, "ivau": 0},
        [],
    )
    ev, _ = rates.measured_events(r)
    assert ev["pte_changes_per_s"] == 48040 + 2404
    assert ev["asid_flushes_per_s"] == 5206
    assert ev["context_switches_per_s"] == 2603
    assert "asid_rollovers_per_s" not in ev  # needs the sites' symbols


def test_the_generated_profile_is_a_loadable_kind() -> None:
    text = rates.profile_toml(ARMMP)
    data = tomllib.loads(text)
    kind = rates_from_dict(data, "generated.toml", discipline_from_dict(data, "generated.toml"))
    assert kind.kind == "measured-debian-armmp-cortex-a15-exec"
    assert kind.pte_changes_per_s == pytest.approx(29200.0)
    how, src = kind.provenance["pte_changes_per_s"]
    assert how == "source" and src.startswith("measured: vtlbsim census --kernel debian-armmp")
    assert kind.provenance["tlb_working_set_pages"][0] == "assumption"  # not measured
    # linux-arm32-smp prices map_exec: the per-mapping ICIALLUIS is measured (28300 / 0.5 s)
    assert kind.exec_maps_per_s == pytest.approx(56600.0)
    assert kind.provenance["exec_maps_per_s"][0] == "source"
    assert set(kind.provenance) == {*RATE_FIELDS, "exec_maps_per_s"}


@pytest.mark.parametrize(
    ("name", "maintenance"),
    [("vale1is", True), ("tlbimva", True), ("iciallu", True), ("ivau", True), ("bpiall", True),
     ("dc cvau", True), ("vmalls12e1", True), ("dsb ish", False), ("msr ttbr0_el1", False),
     ("mcr contextidr", False), ("svc", False)],
)  # fmt: skip
def test_is_maintenance(name: str, maintenance: bool) -> None:
    assert rates.is_maintenance(name) is maintenance


@pytest.mark.parametrize(
    "path",
    sorted((datafiles.package_dir("census") / "results").glob("*.toml")),
    ids=lambda p: p.name,
)
def test_every_shipped_result_profile_is_a_loadable_kind(path: Path) -> None:
    data = tomllib.loads(path.read_text())
    kind = rates_from_dict(data, str(path), discipline_from_dict(data, str(path)))
    assert any(how == "source" for how, _ in kind.provenance.values())
