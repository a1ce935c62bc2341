"""examples/workloads/flagship-arm32-up-96.toml is the flagship study's arm32-up mix at its
96-pCPU point and the report's migration rate, as a workload file (the exact-mode speed point of
issue 13): read field by field against the shipped spec, so the two cannot drift apart."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_workload_is_the_flagships_96_core_arm32_up_point() -> None:
    spec = tomllib.loads((ROOT / "src/vtlbsim/data/studies/seed.toml").read_text())
    work = tomllib.loads((ROOT / "examples/workloads/flagship-arm32-up-96.toml").read_text())
    (mix,) = [m for m in spec["mixes"] if m["name"] == "arm32-up"]
    (entry,) = mix["domains"]
    assert 96 == max(spec["axes"]["pcpus"])
    assert work["platform"] == spec["axes"]["platforms"][0]
    assert work["duration_s"] == spec["fixed"]["duration_s"] == 1
    assert work["scheduler"] == {
        "kind": spec["fixed"]["scheduler"],
        "migrations_per_vcpu_s": spec["report"]["migration_rate"],
        "timeslice_ms": spec["fixed"]["timeslice_ms"],
    }
    assert work["domains"] == [
        {"kind": entry["kind"], "count": entry["per_pcpu"] * 96, "vcpus": entry["vcpus"]}
    ]
