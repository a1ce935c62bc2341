"""`vtlbsim run` with the real safety column (the shipped verdicts, or the checker): every row's
safety is the hand-derived verdict (``tests/check/data/verdicts.toml``), the answer never
recommends a policy the table calls unsafe, and it warns about every cheaper unsafe one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hand_verdicts import hand_verdicts
from vtlbsim.cost import load_workload

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = {
    "cloud-arm64-4vcpu": (8, 80),
    "consolidation-arm32-up": (8, 96),
    "mixed-host": (16, 128),
}
ANSWER = re.compile(r"^\s*(\d+) pCPUs: cheapest safe: (\S+?)(?: \(tied: ([^)]*)\))? at ")
WARNING = re.compile(r"^\s*WARNING: cheaper but not known safe: (.*)$")


def _path(name: str) -> str:
    return str(ROOT / "examples" / "workloads" / f"{name}.toml")


def hand_safe(name: str, *, checker: bool = False) -> dict[str, bool]:
    """A workload is safe under a policy iff the table calls every guest kind in it safe (with
    ``checker``: what the table expects the checker to say, which differs for a recorded
    disagreement)."""
    kinds = {d.kind for d in load_workload(Path(_path(name))).domains}
    policies = {p for (_, p) in hand_verdicts()}
    return {
        p: all(
            (v.expected_from_checker if checker else v.safe)
            for k in kinds
            for v in [hand_verdicts()[(k, p)]]
        )
        for p in policies
    }


@pytest.mark.parametrize("name", WORKLOADS)
def test_the_answer_is_the_cheapest_hand_safe_policy_with_every_cheaper_unsafe_one_named(
    cli,  # type: ignore[no-untyped-def]
    name: str,
) -> None:
    hand = hand_safe(name)
    assert not all(hand.values()), "each example workload has unsafe policies to warn about"
    pcpus = ",".join(map(str, WORKLOADS[name]))
    code, out, err = cli(
        ["run", _path(name), "--all-policies", "--pcpus", pcpus, "--allow-more-cores", "--json"]
    )  # mixed-host prices a 128-core machine of Kunpeng 920 cores (96 in the profile)
    assert code == 0, err
    rows = json.loads(out)
    column = hand_safe(name, checker=True)
    for n in WORKLOADS[name]:
        assert {r["policy"]: r["safe"] for r in rows if r["pcpus"] == n} == column
    cost = {(r["pcpus"], r["policy"]): r["total_cycles"] for r in rows}

    code, text, err = cli(
        ["run", _path(name), "--all-policies", "--pcpus", pcpus, "--allow-more-cores"]
        + ["--no-events"]
    )
    assert code == 0, err
    assert re.search(r"^\| none +\| UNSAFE ", text, re.M), "the table marks unsafe rows"
    lines = text.splitlines()
    warnings = 0
    answers = [(i, m) for i, line in enumerate(lines) if (m := ANSWER.match(line))]
    assert [int(m.group(1)) for _, m in answers] == list(WORKLOADS[name])
    for i, m in answers:
        n = int(m.group(1))
        named = [m.group(2), *(m.group(3).split(", ") if m.group(3) else [])]
        assert all(hand[p] for p in named), f"{name}, {n} pCPUs: recommends {named}"
        best = min(cost[(n, p)] for p, s in hand.items() if s)
        tol = 1e-9 * max(best, 1.0)
        assert {p for p, s in hand.items() if s and abs(cost[(n, p)] - best) <= tol} == set(named)
        cheaper_unsafe = {p for p, s in hand.items() if not s and cost[(n, p)] < best - tol}
        w = WARNING.match(lines[i + 1]) if i + 1 < len(lines) else None
        warned = w.group(1).split(", ") if w else []
        assert {item.split(" (")[0] for item in warned} == cheaper_unsafe, f"{name}, {n} pCPUs"
        assert all(item.endswith("(UNSAFE)") for item in warned)
        warnings += bool(warned)
    assert warnings, "none flushes nothing: cheaper than any safe policy somewhere"
