"""The safety matrix: for each guest kind and policy, does the model checker find no
violation within ``DEFAULT_DEPTH`` actions on ``DEFAULT_PCPUS`` x ``DEFAULT_VCPUS``?

``safe(kind, policy)`` is the answer the cost CLI and the study report show as the safe/unsafe
column. A full check takes seconds per pair, so verdicts at the default size are also kept in
``safety.json`` beside this file, stamped with a fingerprint of every source file the verdict
depends on (the engine, the oracle, the architecture, the guest kinds, the policies and the
checker). A stale or missing entry is computed by the checker on the spot; regenerate the
file with ``python -m vtlbsim.check.matrix``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from functools import cache, lru_cache
from pathlib import Path

from ..guest.kinds import KIND_NAMES, KindError, behaviour_digest, builtin, load_kind
from ..hyp.registry import all_policies
from .actions import DEFAULT_VAS
from .explore import CheckResult, check

DEFAULT_PCPUS = 2
DEFAULT_VCPUS = 2
DEFAULT_DEPTH = 10
"""Actions explored; every hand-derived counterexample (tests/check) has at most 9."""

CACHE = Path(__file__).with_name("safety.json")
_PKG = Path(__file__).resolve().parent.parent
_INPUTS = (
    "arch/*.py",
    # the guest model the checker replays; not rates.py / workload.py (cost and exact mode)
    "guest/domain.py",
    "guest/kinds.py",
    "guest/tables.py",
    "hyp/policy.py",
    "hyp/policies/*.py",
    "sim/engine.py",
    "sim/events.py",
    "check/oracle.py",
    "check/coverage.py",
    "check/findings.py",
    "check/actions.py",
    "check/key.py",
    "check/explore.py",
    "check/snapshot.py",
)


def _code_only(source: str) -> str:
    """The syntax tree without docstrings: comments, layout and prose do not change verdicts."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """SHA-256 over the code (docstrings and comments stripped) of everything a verdict
    depends on, in a fixed order."""
    h = hashlib.sha256()
    for pattern in _INPUTS:
        for path in sorted(_PKG.glob(pattern)):
            h.update(path.relative_to(_PKG).as_posix().encode())
            h.update(_code_only(path.read_text()).encode())
    h.update(behaviour_digest().encode())  # the built-in disciplines (data files)
    return h.hexdigest()


@lru_cache(maxsize=1)
def _cached_verdicts() -> dict[tuple[str, str], bool]:
    """The verdicts in ``safety.json`` if its fingerprint matches the sources, else none."""
    try:
        data = json.loads(CACHE.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint():
        return {}
    size = (data.get("pcpus"), data.get("vcpus"), data.get("depth"), data.get("vas"))
    if size != (DEFAULT_PCPUS, DEFAULT_VCPUS, DEFAULT_DEPTH, DEFAULT_VAS):
        return {}
    return {(r["kind"], r["policy"]): bool(r["safe"]) for r in data.get("verdicts", [])}


@cache
def safe(kind: str, policy: str) -> bool | None:
    """True when the checker finds no violation for ``kind`` (a built-in name, or a kind file's
    path: checked like a built-in) under ``policy`` within ``DEFAULT_DEPTH`` actions at the
    default size; None when the kind or policy is unknown."""
    if policy not in all_policies():
        return None
    try:
        found = load_kind(kind)
    except KindError:
        return None
    if kind in KIND_NAMES and found == builtin(kind):  # the stored verdicts are the shipped kinds'
        hit = _cached_verdicts().get((kind, policy))
        if hit is not None:
            return hit
    return check(kind, policy, DEFAULT_PCPUS, DEFAULT_VCPUS, DEFAULT_DEPTH).safe


def matrix_results(
    kinds: Iterable[str] | None = None,
    policies: Iterable[str] | None = None,
    pcpus: int = DEFAULT_PCPUS,
    vcpus: int = DEFAULT_VCPUS,
    depth: int = DEFAULT_DEPTH,
    vas: int = DEFAULT_VAS,
    jobs: int = 1,
) -> list[CheckResult]:
    """A full check of every (kind, policy) pair, kinds in SPEC §3 order, policies in
    registry order (built-ins, shipping profiles, plug-ins); ``jobs`` > 1 spreads the pairs
    over that many processes (same results, same order)."""
    ks = list(KIND_NAMES if kinds is None else kinds)
    ps = list(all_policies() if policies is None else policies)
    pairs = [(k, p, pcpus, vcpus, depth, vas) for k in ks for p in ps]
    if jobs <= 1 or len(pairs) <= 1:
        return [_check_pair(*pair) for pair in pairs]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_check_pair, *zip(*pairs, strict=True)))


def _check_pair(
    kind: str, policy: str, pcpus: int, vcpus: int, depth: int, vas: int
) -> CheckResult:
    return check(kind, policy, pcpus, vcpus, depth, vas=vas)


def safety_matrix(
    kinds: Iterable[str] | None = None,
    policies: Iterable[str] | None = None,
    pcpus: int = DEFAULT_PCPUS,
    vcpus: int = DEFAULT_VCPUS,
    depth: int = DEFAULT_DEPTH,
) -> dict[tuple[str, str], bool]:
    """Every (kind, policy) pair's verdict: True = no violation within ``depth`` actions."""
    ks = list(KIND_NAMES if kinds is None else kinds)
    ps = list(all_policies() if policies is None else policies)
    if (pcpus, vcpus, depth) == (DEFAULT_PCPUS, DEFAULT_VCPUS, DEFAULT_DEPTH):
        return {(k, p): bool(safe(k, p)) for k in ks for p in ps}
    return {(r.kind, r.policy): r.safe for r in matrix_results(ks, ps, pcpus, vcpus, depth)}


def write_cache(path: Path = CACHE, jobs: int = 1) -> None:
    """Run the checker on every built-in kind x registered policy and store the verdicts."""
    results = matrix_results(jobs=jobs)
    data = {
        "fingerprint": fingerprint(),
        "pcpus": DEFAULT_PCPUS,
        "vcpus": DEFAULT_VCPUS,
        "depth": DEFAULT_DEPTH,
        "vas": DEFAULT_VAS,
        "verdicts": [
            {"kind": r.kind, "policy": r.policy, "safe": r.safe, "states": r.states}
            for r in results
        ],
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    # python -m vtlbsim.check.matrix [FILE [JOBS]]
    write_cache(
        Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE,
        int(sys.argv[2]) if len(sys.argv) > 2 else 1,
    )
