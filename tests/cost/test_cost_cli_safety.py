"""`vtlbsim run` with the real safety column (the shipped verdicts, or the checker): it never
recommends a policy the hand-derived table calls unsafe, and it warns about every cheaper one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hand_verdicts import hand_verdicts

ROOT = Path(__file__).resolve().parents[2]
CLOUD = str(ROOT / "examples/workloads/cloud-arm64-4vcpu.toml")
KIND = "linux-arm64-smp"  # the cloud workload's only guest kind
PCPUS = (8, 80)
ANSWER = re.compile(r"^\s*(\d+) pCPUs: cheapest safe: (\S+?)(?: \(tied: ([^)]*)\))? at ")
WARNING = re.compile(r"^\s*WARNING: cheaper but not known safe: (.*)$")


@pytest.fixture(scope="module")
def hand() -> dict[str, bool]:
    return {p: v.safe for (k, p), v in hand_verdicts().items() if k == KIND}


def test_the_safety_column_is_the_hand_verdict(cli, hand: dict[str, bool]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(["run", CLOUD, "--all-policies", "--pcpus", "8", "--json"])
    assert code == 0, err
    rows = json.loads(out)
    assert {r["policy"]: r["safe"] for r in rows} == hand
    assert not all(hand.values()), "the workload has unsafe policies to warn about"


def test_cheapest_safe_is_the_cheapest_hand_safe_policy_and_cheaper_unsafe_ones_are_named(
    cli,
    hand: dict[str, bool],  # type: ignore[no-untyped-def]
) -> None:
    pcpus = ",".join(map(str, PCPUS))
    code, out, err = cli(["run", CLOUD, "--all-policies", "--pcpus", pcpus, "--json"])
    assert code == 0, err
    cost = {(r["pcpus"], r["policy"]): r["total_cycles"] for r in json.loads(out)}
    code, text, err = cli(["run", CLOUD, "--all-policies", "--pcpus", pcpus, "--no-events"])
    assert code == 0, err
    lines = text.splitlines()
    answers = [(i, ANSWER.match(line)) for i, line in enumerate(lines)]
    answers = [(i, m) for i, m in answers if m]
    assert [int(m.group(1)) for _, m in answers] == list(PCPUS)
    for i, m in answers:
        n = int(m.group(1))
        named = [m.group(2), *(m.group(3).split(", ") if m.group(3) else [])]
        assert all(hand[p] for p in named), f"{n} pCPUs: recommends {named}, unsafe by hand"
        best = min(cost[(n, p)] for p, s in hand.items() if s)
        tol = 1e-9 * max(best, 1.0)
        assert {p for p, s in hand.items() if s and abs(cost[(n, p)] - best) <= tol} == set(named)
        cheaper_unsafe = {p for p, s in hand.items() if not s and cost[(n, p)] < best - tol}
        assert cheaper_unsafe, "none and flush-1vcpu-only flush nothing: cheaper than any safe one"
        w = WARNING.match(lines[i + 1]) if i + 1 < len(lines) else None
        assert w is not None, f"{n} pCPUs: no warning about {sorted(cheaper_unsafe)}"
        warned = {item.split(" (")[0] for item in w.group(1).split(", ")}
        assert warned == cheaper_unsafe
