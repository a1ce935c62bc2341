"""The safety matrix against the hand-derived verdict table (``data/verdicts.toml``).

The table is the expectation; the shipped verdict cache (``check/safety.json``, read by
``vtlbsim.check.matrix.safe``) and the live checker are held to it. No test here fails because
a source file changed: only a verdict that differs from the reasoning does.
"""

from __future__ import annotations

import json

import pytest

from hand_verdicts import disagreements, hand_verdicts
from vtlbsim.check import matrix
from vtlbsim.check.actions import DEFAULT_VAS
from vtlbsim.check.replay import replay
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import all_policies, resolve
from vtlbsim.litmus import parse

REGENERATE = "python -m vtlbsim.check.matrix src/vtlbsim/check/safety.json 2"


def _expected() -> dict[tuple[str, str], bool]:
    return {pair: v.expected_from_checker for pair, v in hand_verdicts().items()}


def _diff(got: dict[tuple[str, str], bool]) -> list[str]:
    table = hand_verdicts()
    return [
        f"{k} under {p}: got {'safe' if got.get((k, p)) else 'unsafe'}, the table says "
        f"{'safe' if want else 'unsafe'} ({table[(k, p)].why})"
        for (k, p), want in sorted(_expected().items())
        if got.get((k, p)) is not want
    ]


def test_table_covers_every_pair_with_a_reason() -> None:
    table = hand_verdicts()
    assert set(table) == {(k, p) for k in KIND_NAMES for p in all_policies()}
    for v in table.values():
        assert isinstance(v.safe, bool), (v.kind, v.policy)
        assert len(v.why.split()) >= 4, (v.kind, v.policy)
        if v.checker is not None:  # a recorded disagreement says why, and is one
            assert v.checker is not v.safe and len(v.checker_why.split()) >= 4
    # the table is not vacuous: each answer occurs, and for more than one kind
    assert {k for (k, _), v in table.items() if v.safe} == set(KIND_NAMES)
    assert len({k for (k, _), v in table.items() if not v.safe}) == len(KIND_NAMES) - 1


def test_shipped_verdict_cache_equals_the_table() -> None:
    """Every verdict ``vtlbsim run`` and the study report read from ``safety.json`` is the hand
    verdict. On a failure: if the reasoning in the table is right, the checker (or the cache)
    is wrong; if a kind or policy really changed, fix the row and its reason, then regenerate
    the cache (``python -m vtlbsim.check.matrix src/vtlbsim/check/safety.json 2``)."""
    data = json.loads(matrix.CACHE.read_text())
    size = (data["pcpus"], data["vcpus"], data["depth"], data["vas"])
    assert size == (matrix.DEFAULT_PCPUS, matrix.DEFAULT_VCPUS, matrix.DEFAULT_DEPTH, DEFAULT_VAS)
    stored = {(r["kind"], r["policy"]): r["safe"] for r in data["verdicts"]}
    assert len(stored) == len(data["verdicts"]), "one verdict per pair"
    assert set(stored) == set(_expected()), f"pairs differ from the table; {REGENERATE}"
    assert _diff(stored) == []


@pytest.mark.slow
def test_live_checker_matrix_equals_the_table() -> None:
    """The checker run now (no cache) gives the table's verdict for every pair, and each
    counterexample, written as litmus and parsed back, replays to a violation with no guest
    error."""
    results = matrix.matrix_results(jobs=2)
    assert _diff({(r.kind, r.policy): r.safe for r in results}) == []
    for r in results:
        if r.safe:
            continue
        assert r.counterexample is not None
        sc = parse(r.counterexample.to_litmus(), path=f"<{r.kind} {r.policy}>")
        out = replay(sc, resolve(sc.policy))
        assert out.outcome == "violation" and out.guest_errors == [], (r.kind, r.policy)


# linux-arm64-local under flush-on-migrate, as a litmus story: the pair that made the rule
# count only the instants at which the table was the vCPU's current one (``Vcpu.windows``).
LATE_JOIN = """
title = "v1 joins the mm after v0's local VALE1: it hits v0's entry for a freed page"
pcpus = 2
policy = "flush-on-migrate"
steps = '''
run g.0 on 0
g.0 map 0x1000 0xa000
g.0 fetch 0x1000
run g.0 on 1
g.0 unmap 0x1000
g.0 tlbi vale1 0x1000
run g.1 on 0
g.1 fetch 0x1000
'''

[domains.g]
vcpus = 2
arch = "aarch64"
"""


def test_the_checker_agrees_with_every_row() -> None:
    """No row records a checker verdict that differs from the hand verdict."""
    assert [(v.kind, v.policy) for v in disagreements()] == []


def test_a_vcpu_joining_an_mm_never_sees_a_page_freed_before_it_joined() -> None:
    """linux-arm64-local (the 2025 RFC): v0 is the only CPU the mm ran on, so its unmap uses a
    local VALE1 -- correct on bare metal, where no other CPU can hold the mm's entries. Under
    flush-on-migrate v0 unmaps on pCPU 1 after filling the entry on pCPU 0; v1's first load on
    pCPU 0 is no migration, and v1 then translates through the mm and hits 0xa000, a page the
    guest freed before v1 ever ran it. Bare metal could not show v1 that: a violation. Under
    fb the VALE1 is broadcast and removes it; under kvm the flush when another vCPU ran on A
    last does."""
    out = replay(parse(LATE_JOIN, path="<late-join>"), resolve("flush-on-migrate"))
    assert out.guest_errors == []
    assert len(out.violations) == 1
    assert out.violations[0].category in ("stale-tlb", "cross-vcpu-tlb")
    assert out.violations[0].step == 8
    for clean in ("fb", "kvm"):
        assert replay(parse(LATE_JOIN, path="<late-join>"), resolve(clean)).outcome == "clean"
