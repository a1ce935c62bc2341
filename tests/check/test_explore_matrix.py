"""The safety matrix and ``safe()``: the contract the cost CLI and the study report build on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vtlbsim.check import matrix
from vtlbsim.check.explore import check
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import all_policies


def test_safe_unknown_is_none() -> None:
    assert matrix.safe("no-such-kind", "fb") is None
    assert matrix.safe("linux-arm32-up", "no-such-policy") is None


def test_safe_is_cached_and_deterministic() -> None:
    first = matrix.safe("linux-arm32-up", "none")
    assert (
        first is False
    )  # H1: the UP kernel's local maintenance, hand-derived in test_explore_expectations
    assert matrix.safe("linux-arm32-up", "none") is first
    assert matrix.safe.cache_info().hits >= 1


def test_stored_verdicts_are_used_only_with_a_matching_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verdict file stamped for other sources is ignored (the checker runs instead)."""
    bogus = tmp_path / "safety.json"
    bogus.write_text(
        json.dumps(
            {
                "fingerprint": "0" * 64,
                "pcpus": matrix.DEFAULT_PCPUS,
                "vcpus": matrix.DEFAULT_VCPUS,
                "depth": matrix.DEFAULT_DEPTH,
                "vas": 1,
                "verdicts": [{"kind": "linux-arm32-up", "policy": "none", "safe": True}],
            }
        )
    )
    monkeypatch.setattr(matrix, "CACHE", bogus)
    matrix._cached_verdicts.cache_clear()
    try:
        assert matrix._cached_verdicts() == {}
        good = dict(json.loads(bogus.read_text()), fingerprint=matrix.fingerprint())
        bogus.write_text(json.dumps(good))
        matrix._cached_verdicts.cache_clear()
        assert matrix._cached_verdicts() == {("linux-arm32-up", "none"): True}
    finally:
        matrix._cached_verdicts.cache_clear()


def test_fingerprint_ignores_docstrings_not_code() -> None:
    a = matrix._code_only('"""doc"""\ndef f():\n    """x"""\n    return 1\n')
    b = matrix._code_only('"""other"""\n# comment\ndef f():\n    return 1\n')
    c = matrix._code_only("def f():\n    return 2\n")
    assert a == b != c


def test_shipped_verdicts_cover_every_pair() -> None:
    """``safety.json`` holds a verdict for every built-in pair (a missing one is checked live,
    seconds per pair). Regenerate with ``python -m vtlbsim.check.matrix``."""
    data = json.loads(matrix.CACHE.read_text())
    pairs = {(r["kind"], r["policy"]) for r in data["verdicts"]}
    assert pairs == {(k, p) for k in KIND_NAMES for p in all_policies()}


def test_shipped_verdicts_agree_with_the_checker_on_quick_pairs() -> None:
    """Spot-check the stored table against live checks that finish fast (the unsafe ones)."""
    data = json.loads(matrix.CACHE.read_text())
    stored = {(r["kind"], r["policy"]): r["safe"] for r in data["verdicts"]}
    for pair in [
        ("linux-arm32-up", "none"),
        ("percpu-tables", "fb"),
        ("linux-arm64-local", "none"),
    ]:
        assert stored[pair] is False
        assert check(*pair, depth=matrix.DEFAULT_DEPTH).safe is False


@pytest.mark.slow
def test_one_va_finds_what_two_vas_find() -> None:
    """The one-VA reduction (docs/check.md): at depth 7, two VAs give the same verdicts and
    counterexample lengths on every pair."""
    for k in KIND_NAMES:
        for p in all_policies():
            one = check(k, p, depth=7, vas=1)
            two = check(k, p, depth=7, vas=2)
            assert (one.safe, len(one.actions)) == (two.safe, len(two.actions)), (k, p)


def test_jobs_give_the_same_results_in_the_same_order() -> None:
    kinds = ["linux-arm32-up", "percpu-tables"]
    policies = ["none", "fb", "last-vcpu-ran"]
    one = matrix.matrix_results(kinds, policies, depth=7)
    two = matrix.matrix_results(kinds, policies, depth=7, jobs=2)
    assert [(r.kind, r.policy, r.safe, r.actions, r.states) for r in one] == [
        (r.kind, r.policy, r.safe, r.actions, r.states) for r in two
    ]
    assert not all(r.safe for r in one)  # the comparison covers counterexamples too


# Every source file whose code decides a verdict (the engine, the oracle, the architecture, the
# guest model the checker replays, the policy interface and every policy, the checker itself).
VERDICT_SOURCES = (
    "arch/ops.py",
    "arch/tlb.py",
    "arch/caches.py",
    "arch/machine.py",
    "guest/domain.py",
    "guest/tables.py",
    "guest/kinds.py",
    "hyp/policy.py",
    *(f"hyp/policies/{p.name}" for p in sorted(matrix._PKG.glob("hyp/policies/*.py"))),
    "sim/engine.py",
    "sim/events.py",
    "check/oracle.py",
    "check/coverage.py",
    "check/findings.py",
    "check/actions.py",
    "check/explore.py",
    "check/key.py",
    "check/snapshot.py",
)


def test_fingerprint_covers_every_source_a_verdict_depends_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached verdict is used only while the fingerprint matches, so the fingerprint must
    change when the code of any of those files changes (a policy file included)."""
    import shutil

    pkg = tmp_path / "vtlbsim"
    shutil.copytree(matrix._PKG, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(matrix, "_PKG", pkg)
    assert any(
        s.startswith("hyp/policies/") and s != "hyp/policies/__init__.py" for s in VERDICT_SOURCES
    )
    try:
        matrix.fingerprint.cache_clear()
        base = matrix.fingerprint()
        missed = []
        for rel in VERDICT_SOURCES:
            f = pkg / rel
            text = f.read_text()
            f.write_text(text + "\n_FINGERPRINT_PROBE = 1\n")
            matrix.fingerprint.cache_clear()
            if matrix.fingerprint() == base:
                missed.append(rel)
            f.write_text(text)
        assert missed == []
    finally:
        matrix.fingerprint.cache_clear()
