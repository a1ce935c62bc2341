"""Real kernels under QEMU (run by .ci/census, which installs QEMU and sets VTLBSIM_CENSUS=1):
one boot per architecture through `vtlbsim census`, with counts the kernel's source predicts.

Predictions (Linux 6.1 as Debian 12 ships it):
- arm64: every user TLB flush is Inner Shareable (arch/arm64/include/asm/tlbflush.h: flush_tlb_mm,
  flush_tlb_page, __flush_tlb_range use the IS forms); local forms only at boot and at ASID
  rollover (16-bit ASIDs: none in a few hundred processes). KPTI (forced on by KASLR on a
  Cortex-A57) issues each user flush twice (__tlbi_user), so the user-ASID counts are even.
- armhf (armmp, SMP_ON_UP, one vCPU with MPIDR.U = 0): the SMP (IS) variants of its conditional
  tlbflush.h pairs execute and the UP ones never do; flush_tlb_mm issues TLBIALLIS
  (ARM_ERRATA_720789); __sync_icache_dcache invalidates the whole I-cache (ICIALLUIS) on each
  executable mapping, so at least once per exec; on a Cortex-A15 every address-space switch is
  preceded by the Spectre-v2 ICIALLU (cpu_v7_iciallu_switch_mm), one per CONTEXTIDR write.
- both: `exec` creates one process per iteration plus the closing marker's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("VTLBSIM_CENSUS") != "1", reason="boots real kernels: run by .ci/census"
    ),
]
N = 40


def _census(kernel: str, out: Path) -> dict[str, Any]:
    res = subprocess.run(
        [sys.executable, "-m", "vtlbsim", "census", "--kernel", kernel, "--workload", "exec",
         "-n", str(N), "--no-symbols", "--json", "--out", str(out)],
        capture_output=True, text=True, timeout=3600, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    result: dict[str, Any] = json.loads(res.stdout)
    assert json.loads((out / f"{kernel}.{result['cpu']}.exec.1vcpu.json").read_text()) == result
    return result


@pytest.fixture(scope="module")
def arm64(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _census("debian-arm64", tmp_path_factory.mktemp("arm64"))


@pytest.fixture(scope="module")
def armmp(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _census("debian-armmp", tmp_path_factory.mktemp("armmp"))


def test_arm64_issues_no_local_tlbi_after_boot(arm64: dict[str, Any]) -> None:
    w = arm64["phases"]["workload"]["counts"]
    local = ("vmalle1", "vae1", "vale1", "aside1", "vaae1", "vaale1")
    assert {k: w.get(k, 0) for k in local} == dict.fromkeys(local, 0)
    assert w["vale1is"] > 0 and w["aside1is"] > 0
    assert w["aside1is"] % 2 == 0 and w["vale1is"] % 2 == 0  # KPTI: twice each


def test_arm64_phases(arm64: dict[str, Any]) -> None:
    b, w = arm64["phases"]["boot"], arm64["phases"]["workload"]
    assert w["processes"] == N + 1
    assert w["counts"]["hint #127"] == 1 and b["counts"]["hint #127"] == 1
    assert b["instructions"] > w["instructions"] > 0
    assert b["counts"].get("vmalle1", 0) > 0  # the boot-time local flushes


def test_armmp_keeps_its_smp_maintenance_on_one_vcpu(armmp: dict[str, Any]) -> None:
    w = armmp["phases"]["workload"]["counts"]
    assert w.get("tlbimva", 0) == 0 and w.get("tlbiasid", 0) == 0  # the UP variants never ran
    assert w["tlbimvaais"] > 0 and w["tlbiallis"] > 0
    sites = [c for c in armmp["conditional_sites"] if c["phase"] == "workload"]
    tlb = [c for c in sites if c["name"].startswith("tlbi")]
    assert tlb and all(c["method"] == "exact" for c in tlb)
    assert {c["name"]: c["executed"] > 0 for c in tlb} == {
        "tlbimva": False,
        "tlbiasid": False,
        "tlbimvaais": True,
        "tlbiallis": True,
    }


def test_armmp_invalidates_the_icache_per_exec_mapping(armmp: dict[str, Any]) -> None:
    w = armmp["phases"]["workload"]
    assert w["processes"] == N + 1
    assert w["counts"]["icialluis"] >= N
    assert w["counts"]["iciallu"] == w["counts"]["mcr contextidr"] > 0
