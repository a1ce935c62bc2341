"""The safety matrix: for each guest kind and policy, does the model checker find no
violation within ``DEFAULT_DEPTH`` actions on ``DEFAULT_PCPUS`` x ``DEFAULT_VCPUS``?

``safe(kind, policy)`` is the answer the cost CLI and the study report show as the safe/unsafe
column. A verdict is kept under the fingerprint of what it depends on (``pair_fingerprint``):
the checker's core, the kind's discipline, the policy's own code and the options, each hashed
apart (``fingerprint.py``, the same under every Python), so a change to one policy invalidates
its column only. The verdicts at the default size ship in ``safety.json`` beside this file
(regenerate with ``python -m vtlbsim.check.matrix``); ``vtlbsim check --matrix`` also keeps
every result it computes in a user cache folder (``VerdictCache``), one file per fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from ..guest.kinds import KIND_NAMES, KindError, builtin, load_kind
from ..hyp.policy import Policy
from ..hyp.registry import all_policies, resolve
from .actions import DEFAULT_VAS
from .explore import CheckResult, check
from .fingerprint import digest_modules, module_closure

DEFAULT_PCPUS = 2
DEFAULT_VCPUS = 2
DEFAULT_DEPTH = 10
"""Actions explored; every hand-derived counterexample (tests/check) has at most 9."""

CACHE = Path(__file__).with_name("safety.json")
_PKG = Path(__file__).resolve().parent.parent
CORE_SOURCES = (
    "arch/*.py",
    # the guest model the checker replays; not rates.py / workload.py (cost and exact mode)
    "guest/domain.py",
    "guest/kinds.py",
    "guest/tables.py",
    "hyp/policy.py",
    "hyp/state.py",
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
"""Every source file a verdict depends on whatever the kind and the policy."""


@dataclass(frozen=True, slots=True)
class Options:
    """The size and the dimensions of a check (everything besides the kind and the policy)."""

    pcpus: int = DEFAULT_PCPUS
    vcpus: int = DEFAULT_VCPUS
    depth: int = DEFAULT_DEPTH
    vas: int = DEFAULT_VAS
    incomplete: bool = False
    """Broadcasts complete at the issuer's DSB (``check --incomplete``)."""
    globals: bool = False
    """The kernel maps and unmaps a global page (``check --globals``)."""
    asid_flush: bool = False
    """Processes exit with the kind's ASID flush (``check --asid-flush``)."""


DEFAULT = Options()


@lru_cache(maxsize=1)
def core_fingerprint() -> str:
    """SHA-256 over the code text of ``CORE_SOURCES``."""
    files = {
        path: path.relative_to(_PKG).as_posix()
        for pattern in CORE_SOURCES
        for path in _PKG.glob(pattern)
    }
    return digest_modules(files)


@cache
def kind_fingerprint(kind: str) -> str:
    """SHA-256 over what the checker replays of a kind: its discipline's behaviour (not its
    citations, description or rates). KindError if it does not load."""
    d = load_kind(kind)
    return hashlib.sha256(
        json.dumps(d.behaviour(), sort_keys=True, default=str).encode()
    ).hexdigest()


@cache
def policy_fingerprint(policy: str) -> str:
    """SHA-256 over the code text of the modules that define the policy's class and its
    policy bases, and of every module of their own packages they import (so a helper shared
    by two policies counts for both). PolicyError if it does not resolve."""
    cls = type(resolve(policy))
    mods = [c.__module__ for c in cls.__mro__ if issubclass(c, Policy) and c is not Policy]
    return digest_modules(module_closure(mods))


def pair_fingerprint(kind: str, policy: str, options: Options = DEFAULT) -> str:
    """What a verdict depends on: the core, the kind, the policy and the options."""
    h = hashlib.sha256()
    for part in (
        core_fingerprint(),
        kind_fingerprint(kind),
        policy_fingerprint(policy),
        json.dumps(asdict(options), sort_keys=True),
    ):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """One stamp over everything the built-in matrix depends on: the core, every built-in
    kind and every registered policy (a study's safety-verdict version)."""
    h = hashlib.sha256(core_fingerprint().encode())
    for k in KIND_NAMES:
        h.update(f"{k}:{kind_fingerprint(k)}".encode())
    for p in all_policies():
        h.update(f"{p}:{policy_fingerprint(p)}".encode())
    return h.hexdigest()


@lru_cache(maxsize=1)
def _cached_verdicts() -> dict[tuple[str, str], bool]:
    """The verdicts in ``safety.json`` whose fingerprint matches the sources now."""
    try:
        data = json.loads(CACHE.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    size = (data.get("pcpus"), data.get("vcpus"), data.get("depth"), data.get("vas"))
    if size != (DEFAULT_PCPUS, DEFAULT_VCPUS, DEFAULT_DEPTH, DEFAULT_VAS):
        return {}
    out: dict[tuple[str, str], bool] = {}
    for r in data.get("verdicts", []):
        try:
            if r.get("fingerprint") == pair_fingerprint(r["kind"], r["policy"]):
                out[(r["kind"], r["policy"])] = bool(r["safe"])
        except (KeyError, KindError, ValueError):
            continue
    return out


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


class VerdictCache:
    """Check results kept in a folder, one JSON file per pair fingerprint; a file is written
    whole (renamed into place) as soon as its check ends, so an interrupted matrix keeps every
    pair it finished."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def default_folder() -> Path:
        """``$VTLBSIM_CACHE``, else ``$XDG_CACHE_HOME/vtlbsim/check``, else ``~/.cache/...``."""
        env = os.environ.get("VTLBSIM_CACHE")
        if env:
            return Path(env)
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "vtlbsim" / "check"

    def get(self, fp: str) -> CheckResult | None:
        try:
            data = json.loads((self.folder / f"{fp}.json").read_text())
            return CheckResult.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, fp: str, r: CheckResult) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(r.to_json(), f)
        os.replace(tmp, self.folder / f"{fp}.json")


Progress = Callable[[CheckResult, int, int], None]
"""Told each result as it is known (from the cache or the checker), with (done, total)."""


def matrix_results(
    kinds: Iterable[str] | None = None,
    policies: Iterable[str] | None = None,
    pcpus: int = DEFAULT_PCPUS,
    vcpus: int = DEFAULT_VCPUS,
    depth: int = DEFAULT_DEPTH,
    vas: int = DEFAULT_VAS,
    jobs: int = 1,
    cache: VerdictCache | None = None,
    progress: Progress | None = None,
    incomplete: bool = False,
    globals: bool = False,
    asid_flush: bool = False,
) -> list[CheckResult]:
    """A full check of every (kind, policy) pair, kinds in SPEC §3 order, policies in
    registry order (built-ins, shipping profiles, plug-ins); ``jobs`` > 1 spreads the pairs
    over that many processes (same results, same order). With a ``cache``, a pair whose
    fingerprint is there is not checked again, and each new result is stored as it ends."""
    ks = list(KIND_NAMES if kinds is None else kinds)
    ps = list(all_policies() if policies is None else policies)
    opts = Options(pcpus, vcpus, depth, vas, incomplete, globals, asid_flush)
    pairs = [(k, p) for k in ks for p in ps]
    results: dict[int, CheckResult] = {}
    fps: dict[int, str] = {}
    todo: list[int] = []
    for i, (k, p) in enumerate(pairs):
        if cache is not None:
            fps[i] = pair_fingerprint(k, p, opts)
            hit = cache.get(fps[i])
            if hit is not None and (hit.kind, hit.policy_ref) == (k, p):
                results[i] = hit
                if progress:
                    progress(hit, len(results), len(pairs))
                continue
        todo.append(i)

    def done(i: int, r: CheckResult) -> None:
        results[i] = r
        if cache is not None:
            cache.put(fps[i], r)
        if progress:
            progress(r, len(results), len(pairs))

    if jobs <= 1 or len(todo) <= 1:
        for i in todo:
            done(i, _check_pair(*pairs[i], opts))
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
            running: dict[Future[CheckResult], int] = {
                pool.submit(_check_pair, *pairs[i], opts): i for i in todo
            }
            try:
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        done(running.pop(fut), fut.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    return [results[i] for i in range(len(pairs))]


def _check_pair(kind: str, policy: str, opts: Options) -> CheckResult:
    return check(
        kind,
        policy,
        opts.pcpus,
        opts.vcpus,
        opts.depth,
        vas=opts.vas,
        incomplete=opts.incomplete,
        globals=opts.globals,
        asid_flush=opts.asid_flush,
    )


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
    """Run the checker on every built-in kind x registered policy and store the verdicts,
    each under its pair fingerprint (pairs whose shipped verdict is still current are kept)."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    kept = {
        r["fingerprint"]: r
        for r in old.get("verdicts", [])
        if isinstance(r, dict) and "fingerprint" in r
    }
    pairs = [(k, p) for k in KIND_NAMES for p in all_policies()]
    fps = {pair: pair_fingerprint(*pair) for pair in pairs}
    missing = [pair for pair in pairs if fps[pair] not in kept]
    by_pair: dict[tuple[str, str], dict[str, Any]] = {
        pair: kept[fps[pair]] for pair in pairs if fps[pair] in kept
    }
    kinds = list(dict.fromkeys(k for k, _ in missing))
    for k in kinds:
        ps = [p for kk, p in missing if kk == k]
        for r in matrix_results([k], ps, jobs=jobs):
            by_pair[(r.kind, r.policy_ref)] = {
                "kind": r.kind,
                "policy": r.policy_ref,
                "safe": r.safe,
                "states": r.states,
                "actions": len(r.actions),
                "fingerprint": fps[(r.kind, r.policy_ref)],
            }
    data = {
        "pcpus": DEFAULT_PCPUS,
        "vcpus": DEFAULT_VCPUS,
        "depth": DEFAULT_DEPTH,
        "vas": DEFAULT_VAS,
        "verdicts": [by_pair[pair] for pair in pairs],
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    # python -m vtlbsim.check.matrix [FILE [JOBS]]
    write_cache(
        Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE,
        int(sys.argv[2]) if len(sys.argv) > 2 else 1,
    )
