"""A tiny real study through the whole pipeline: the default evaluator (the analytic cost model)
and the default safety verdicts (the checker's), not the fakes the machinery's tests use.

Expectations: each point's safety is the verdict the table expects from the checker for its
mix (safe iff it is for every guest kind in it, tests/check/data/verdicts.toml: the eMAG profile
reads AArch32 predictors as visible with FB leaving BPIALL local, the table's reading), and each point's cost is what `vtlbsim run`
prints for a workload file written by hand with the same platform, guests and scheduler.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hand_verdicts import hand_verdicts
from vtlbsim.study.store import Store

SPEC = """
name = "tiny-real"
title = "a tiny real study"

[axes]
platforms = ["ampere-emag-32"]
pcpus = [4]
policies = ["fb", "flush-on-migrate", "trap-ttlb", "last-vcpu-ran"]
migration_rates = [100]

[fixed]
duration_s = 1.0
scheduler = "random-migrate"
timeslice_ms = 10

[[mixes]]
name = "up"
domains = [{ kind = "linux-arm32-up", per_pcpu = 2, vcpus = 1 }]

[[mixes]]
name = "smp+local"
domains = [
  { kind = "linux-arm64-smp", count = 1, vcpus = 4 },
  { kind = "linux-arm64-local", count = 2, vcpus = 2 },
]
"""
# The same points as workload files for `vtlbsim run` (per_pcpu = 2 on 4 pCPUs: 8 guests).
RUN = """
platform = "ampere-emag-32"
duration_s = 1.0
pcpus = 4
[scheduler]
kind = "random-migrate"
migrations_per_vcpu_s = 100
timeslice_ms = 10
"""
MIXES = {
    "up": [("linux-arm32-up", 8, 1)],
    "smp+local": [("linux-arm64-smp", 1, 4), ("linux-arm64-local", 2, 2)],
}


def _workload(mix: str) -> str:
    doms = "".join(
        f"\n[[domains]]\nkind = {k!r}\ncount = {c}\nvcpus = {v}\n".replace("'", '"')
        for k, c, v in MIXES[mix]
    )
    return RUN + doms


def test_tiny_real_study_stores_hand_safety_and_the_costs_vtlbsim_run_prints(
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    code, _, err = cli(["study", str(spec), "--out", str(out), "-j", "1"])
    assert code == 0, err
    with Store(out, read_only=True) as s:
        cols, rows = s.query(
            "SELECT mix, policy, safe, unsafe_kinds, total_cycles, overhead_pct FROM results"
        )
    got = {(r[0], r[1]): r[2:] for r in rows}
    assert len(rows) == len(got) == 2 * 4

    table = hand_verdicts()
    for (mix, policy), (safe, unsafe_kinds, _, _) in got.items():
        # the checker's verdict (table.expected_from_checker: the hand one but for a recorded
        # disagreement, linux-arm64-local under flush-on-migrate)
        unsafe = sorted(k for k, _, _ in MIXES[mix] if not table[(k, policy)].expected_from_checker)
        assert safe is (not unsafe), (mix, policy)
        assert sorted(filter(None, (unsafe_kinds or "").split(","))) == unsafe, (mix, policy)
    # the hand table makes the mixes differ: trap-ttlb fails the UP guest only
    assert got[("up", "trap-ttlb")][0] is False and got[("smp+local", "trap-ttlb")][0] is True
    assert set(got[("smp+local", "last-vcpu-ran")][1].split(",")) == {
        "linux-arm64-smp",
        "linux-arm64-local",
    }

    for mix in MIXES:
        wl = tmp_path / f"{mix}.toml"
        wl.write_text(_workload(mix))
        code, text, err = cli(["run", str(wl), "--all-policies", "--json"])
        assert code == 0, err
        by_policy = {r["policy"]: r for r in json.loads(text)}
        for policy in ("fb", "flush-on-migrate", "trap-ttlb", "last-vcpu-ran"):
            r = by_policy[policy]
            _, _, total, pct = got[(mix, policy)]
            assert total == pytest.approx(r["total_cycles"], rel=1e-12), (mix, policy)
            assert pct == pytest.approx(r["overhead_pct"], rel=1e-12), (mix, policy)
            assert r["safe"] is got[(mix, policy)][0]
        assert by_policy["fb"]["total_cycles"] > 0

    code, _, err = cli(["report", str(out)])
    assert code == 0, err
    assert (out / "report.md").stat().st_size > 0
