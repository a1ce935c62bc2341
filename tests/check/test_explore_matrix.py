"""The safety matrix and ``safe()``: the contract the cost CLI and the study report build on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vtlbsim.check import matrix
from vtlbsim.check.explore import check
from vtlbsim.check.fingerprint import code_text
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
    """A stored verdict stamped for other sources is ignored (the checker runs instead); one
    stamped with its pair's fingerprint now is used."""
    bogus = tmp_path / "safety.json"
    entry = {"kind": "linux-arm32-up", "policy": "none", "safe": True, "fingerprint": "0" * 64}
    doc = {
        "pcpus": matrix.DEFAULT_PCPUS,
        "vcpus": matrix.DEFAULT_VCPUS,
        "depth": matrix.DEFAULT_DEPTH,
        "vas": 1,
        "verdicts": [entry],
    }
    bogus.write_text(json.dumps(doc))
    monkeypatch.setattr(matrix, "CACHE", bogus)
    matrix._cached_verdicts.cache_clear()
    try:
        assert matrix._cached_verdicts() == {}
        entry["fingerprint"] = matrix.pair_fingerprint("linux-arm32-up", "none")
        bogus.write_text(json.dumps(doc))
        matrix._cached_verdicts.cache_clear()
        assert matrix._cached_verdicts() == {("linux-arm32-up", "none"): True}
    finally:
        matrix._cached_verdicts.cache_clear()


def test_fingerprint_ignores_docstrings_and_comments_not_code() -> None:
    a = code_text('"""doc"""\ndef f():\n    """x"""\n    return 1  # one\n')
    b = code_text('"""other"""\n# comment\n\ndef f():\n    return 1\n')
    c = code_text("def f():\n    return 2\n")
    d = code_text('def f():\n    return "# not a comment"\n')
    assert a == b != c
    assert "# not a comment" in d


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


# Every source file whose code decides every verdict (the engine, the oracle, the architecture,
# the guest model the checker replays, the policy interface and state, the checker itself).
CORE_SOURCES = (
    "arch/ops.py",
    "arch/tlb.py",
    "arch/caches.py",
    "arch/machine.py",
    "guest/domain.py",
    "guest/tables.py",
    "guest/kinds.py",
    "hyp/policy.py",
    "hyp/state.py",
    "sim/engine.py",
    "sim/events.py",
    "check/oracle.py",
    "check/coverage.py",
    "check/findings.py",
    "check/actions.py",
    "check/explore.py",
    "check/key.py",
    "check/keyplan.py",
    "check/blocks.py",
    "check/rename.py",
    "check/snapshot.py",
    "check/probe.py",
    "check/unchanged.py",
)

_FINGERPRINTS = """
import json, sys
from vtlbsim.check import matrix
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import all_policies
print(json.dumps({f"{k}|{p}": matrix.pair_fingerprint(k, p)
                  for k in KIND_NAMES for p in all_policies()}))
"""


def _pair_fingerprints(pkg_parent: Path) -> dict[str, str]:
    """Every built-in pair's fingerprint, computed by a Python that imports the vtlbsim copy
    under ``pkg_parent``."""
    out = subprocess.run(
        [sys.executable, "-c", _FINGERPRINTS],
        env={**os.environ, "PYTHONPATH": str(pkg_parent)},
        capture_output=True,
        text=True,
        check=True,
    )
    got: dict[str, str] = json.loads(out.stdout)
    return got


@pytest.mark.slow
def test_a_change_invalidates_exactly_the_verdicts_that_depend_on_it(tmp_path: Path) -> None:
    """A cached verdict is used only while its pair fingerprint matches. A change to the code
    of a core file changes every pair's; a change to one policy changes its column only (and
    the columns of the policies built on it); a change to one kind's discipline its row only;
    a docstring or a comment nothing."""
    pkg = tmp_path / "vtlbsim"
    shutil.copytree(matrix._PKG, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    base = _pair_fingerprints(tmp_path)
    assert base.keys() == {f"{k}|{p}" for k in KIND_NAMES for p in all_policies()}

    def changed(rel: str, extra: str) -> set[str]:
        f = pkg / rel
        text = f.read_text()
        f.write_text(text + extra)
        try:
            now = _pair_fingerprints(tmp_path)
        finally:
            f.write_text(text)
        return {pair for pair in base if now[pair] != base[pair]}

    code = "\n_FINGERPRINT_PROBE = 1\n"
    for rel in CORE_SOURCES:
        assert changed(rel, code) == set(base), rel
    assert changed("sim/engine.py", "\n# a comment\n") == set()
    assert changed("hyp/policies/xen.py", code) == {p for p in base if p.endswith("|xen")}
    assert changed("hyp/policies/last_vcpu_ran.py", code) == {
        p for p in base if p.split("|")[1] in ("last-vcpu-ran", "fb+last-vcpu-ran", "kvm")
    }
    toml = pkg / "data" / "profiles" / "guests" / "percpu-tables.toml"
    text = toml.read_text()
    toml.write_text(text.replace("smp = { value = true", "smp = { value = false", 1))
    try:
        now = _pair_fingerprints(tmp_path)
    finally:
        toml.write_text(text)
    assert {p for p in base if now[p] != base[p]} == {
        p for p in base if p.startswith("percpu-tables|")
    }


def test_code_text_is_the_same_under_every_python_installed() -> None:
    """The fingerprint must not depend on the Python that computes it: ``code_text`` of every
    source file, computed by each interpreter found (3.11 to 3.13), gives one digest."""
    script = (
        "import hashlib, runpy, sys, pathlib\n"
        "ns = runpy.run_path(sys.argv[1])\n"
        "h = hashlib.sha256()\n"
        "for f in sorted(pathlib.Path(sys.argv[2]).rglob('*.py')):\n"
        "    h.update(ns['code_text'](f.read_text(encoding='utf-8')).encode())\n"
        "print(h.hexdigest())\n"
    )
    fp_module = matrix._PKG / "check" / "fingerprint.py"
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [sys.executable, *(shutil.which(f"python3.{m}") or "" for m in (11, 12, 13))]
    found += [str(p) for m in (11, 12, 13) for p in sorted(pyenv.glob(f"3.{m}.*/bin/python3"))]
    digests = {}
    for exe in dict.fromkeys(e for e in found if e):
        out = subprocess.run(
            [exe, "-c", script, str(fp_module), str(matrix._PKG)],
            capture_output=True,
            text=True,
        )
        if out.returncode == 0:  # a pyenv shim without that version installed fails: skipped
            digests[exe] = out.stdout.strip()
    assert sys.executable in digests
    assert len(set(digests.values())) == 1, digests
