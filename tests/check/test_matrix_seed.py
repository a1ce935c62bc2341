"""A fresh install does not recompute what the package ships: ``check --matrix`` with an empty
verdict cache reads the default-size results from ``safety.json`` (when their fingerprints
match the sources) and keeps them in the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vtlbsim.check import matrix
from vtlbsim.check.matrix import Options, VerdictCache, matrix_results, pair_fingerprint
from vtlbsim.check.replay import replay
from vtlbsim.hyp.registry import resolve

KINDS = ["linux-arm32-up", "percpu-tables"]
POLICIES = ["none", "flush-on-arrival"]


def _no_check(kind: str, policy: str, opts: Options) -> matrix.CheckResult:
    raise AssertionError(f"{kind} under {policy} was checked, not read from safety.json")


def test_an_empty_cache_is_seeded_from_the_shipped_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hand-derived: with no maintenance at all (``none``) the UP kernel shows H1 in 7 actions
    and per-CPU tables H2 in 5; flush-on-arrival is safe for both. Nothing is checked, every
    result comes back whole (its counterexample replays), and the cache holds all four."""
    monkeypatch.setattr(matrix, "_check_pair", _no_check)
    rs = matrix_results(KINDS, POLICIES, cache=VerdictCache(tmp_path))
    assert all(r.from_cache for r in rs)
    assert [(r.safe, len(r.actions)) for r in rs] == [(False, 7), (True, 0), (False, 5), (True, 0)]
    for r in rs:
        if r.counterexample is not None:
            out = replay(r.counterexample, resolve(r.counterexample.policy))
            assert out.outcome == "violation" and out.guest_errors == []
    assert len(list(tmp_path.glob("*.json"))) == 4


def test_a_stale_shipped_result_is_recomputed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shipped row whose fingerprint no longer matches the sources is not used."""
    data = json.loads(matrix.CACHE.read_text())
    fp = pair_fingerprint("percpu-tables", "none", Options())
    rows = [r for r in data["verdicts"] if r["fingerprint"] == fp]
    assert len(rows) == 1
    rows[0]["fingerprint"] = "0" * 64  # as if the sources had changed since it was computed
    stale = tmp_path / "safety.json"
    stale.write_text(json.dumps(data))
    monkeypatch.setattr(matrix, "CACHE", stale)
    matrix._shipped_results.cache_clear()
    try:
        r = matrix_results(["percpu-tables"], ["none"], cache=VerdictCache(tmp_path / "c"))[0]
    finally:
        matrix._shipped_results.cache_clear()
    assert not r.from_cache and not r.safe and len(r.actions) == 5


def test_other_options_are_not_read_from_the_shipped_results(tmp_path: Path) -> None:
    """``safety.json`` holds the default size only: depth 5 is checked."""
    r = matrix_results(["percpu-tables"], ["none"], depth=5, cache=VerdictCache(tmp_path))[0]
    assert not r.from_cache and not r.safe and len(r.actions) == 5
