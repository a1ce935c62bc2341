"""The safety matrix: for each guest kind and policy, does the model checker find no
violation within ``DEFAULT_DEPTH`` actions on ``DEFAULT_PCPUS`` x ``DEFAULT_VCPUS``?

``safe(kind, policy)`` is the answer the cost CLI and the study report show as the safe/unsafe
column. A verdict is kept under the fingerprint of what it depends on (``pair_fingerprint``):
the checker's core, the kind's discipline, the policy's own code and the options, each hashed
apart (``fingerprint.py``, the same under every Python), so a change to one policy invalidates
its column only. The verdicts at the default size ship in ``safety.json`` beside this file
(regenerate with ``python -m vtlbsim.check.matrix``); ``vtlbsim check --matrix`` also keeps
every result it computes in a user cache folder (``VerdictCache``), one file per fingerprint.

A verdict also depends on the platform's branch predictors (``arch.ops.BpReading``, an option
of the check): the subject of ``safe`` is a kind, or ``KIND@READING`` (``subject``) for an
AArch32 kind checked under another reading than the default ``visible``; ``safety.json`` holds
the default reading for every kind (``verdicts``) and the other two for the AArch32 kinds
(``other_readings``). An AArch64 guest keeps no predictor state, so its verdicts are the
default reading's whatever is asked (``reading_for``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from ..arch.ops import BP_READINGS, DEFAULT_BP, Arch, BpReading
from ..guest.kinds import KIND_NAMES, KindError, builtin, load_kind
from ..hyp.policy import Policy
from ..hyp.registry import all_policies, resolve
from ..workers import LocalProcesses
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
    "sim/observer.py",
    "sim/pending.py",
    "sim/scenario.py",
    "litmus/steps.py",  # a counterexample's litmus text
    "check/oracle.py",
    "check/coverage.py",
    "check/findings.py",
    "check/actions.py",
    "check/key.py",
    "check/keyplan.py",
    "check/blocks.py",
    "check/rename.py",
    "check/explore.py",
    "check/snapshot.py",
    "check/probe.py",
    "check/unchanged.py",
    "check/result.py",
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
    bp: str = DEFAULT_BP.name
    """The predictor reading's name (``arch.ops.BP_READINGS``)."""
    vms: int = 1
    """2: the VM may be destroyed and a second one created on its VMID (``check --vms 2``)."""


DEFAULT = Options()


def reading_for(kind: str, bp: BpReading) -> BpReading:
    """The reading a check of ``kind`` actually depends on: ``bp`` for an AArch32 kind, the
    default for an AArch64 one (or a kind that does not load), whose verdict no reading can
    change."""
    bp = bp.normalised()
    try:
        if load_kind(kind).arch is Arch.AARCH64:
            return DEFAULT_BP
    except KindError:
        return DEFAULT_BP
    return bp


READING_SEP = "@"


def subject(kind: str, bp: BpReading = DEFAULT_BP) -> str:
    """What ``safe`` is asked about for ``kind`` on a platform with predictors ``bp``: the kind
    itself, or ``KIND@READING`` for an AArch32 kind under a reading other than the default."""
    bp = reading_for(kind, bp)
    return kind if bp == DEFAULT_BP else f"{kind}{READING_SEP}{bp.name}"


def _parse_subject(text: str) -> tuple[str, BpReading] | None:
    kind, sep, name = text.rpartition(READING_SEP)
    if not sep:
        return text, DEFAULT_BP
    reading = BP_READINGS.get(name)
    return None if reading is None else (kind, reading)


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


def _shipped_rows() -> list[Any]:
    """The rows of ``safety.json`` (both readings' lists), if it holds the default size."""
    try:
        data = json.loads(CACHE.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict):
        return []
    size = (data.get("pcpus"), data.get("vcpus"), data.get("depth"), data.get("vas"))
    if size != (DEFAULT_PCPUS, DEFAULT_VCPUS, DEFAULT_DEPTH, DEFAULT_VAS):
        return []
    return [*data.get("verdicts", []), *data.get("other_readings", [])]


@lru_cache(maxsize=1)
def _cached_verdicts() -> dict[tuple[str, str], bool]:
    """The verdicts in ``safety.json`` whose fingerprint matches the sources now."""
    out: dict[tuple[str, str], bool] = {}
    for r in _shipped_rows():
        try:
            opts = Options(bp=r.get("bp", DEFAULT_BP.name))
            bp = BP_READINGS[opts.bp]
            if r.get("fingerprint") == pair_fingerprint(r["kind"], r["policy"], opts):
                out[(subject(r["kind"], bp), r["policy"])] = bool(r["safe"])
        except (KeyError, KindError, ValueError):
            continue
    return out


@lru_cache(maxsize=1)
def _shipped_results() -> dict[str, dict[str, Any]]:
    """The whole results ``safety.json`` ships (``CheckResult.to_json``), by pair fingerprint:
    a lookup by the fingerprint of what is asked finds only a result that is still current."""
    return {
        r["fingerprint"]: r["result"]
        for r in _shipped_rows()
        if isinstance(r, dict) and isinstance(r.get("result"), dict) and "fingerprint" in r
    }


def shipped_result(fp: str, kind: str, policy: str) -> CheckResult | None:
    """The result ``safety.json`` ships for ``kind`` under ``policy`` with pair fingerprint
    ``fp`` (the default size and options, current sources), or None."""
    data = _shipped_results().get(fp)
    if data is None:
        return None
    try:
        r = CheckResult.from_json(data)
    except (ValueError, KeyError, TypeError):
        return None
    return r if (r.kind, r.policy_ref) == (kind, policy) else None


@cache
def safe(kind: str, policy: str) -> bool | None:
    """True when the checker finds no violation for ``kind`` (a built-in name, or a kind file's
    path: checked like a built-in; ``KIND@READING`` for another predictor reading, ``subject``)
    under ``policy`` within ``DEFAULT_DEPTH`` actions at the default size; None when the kind,
    the reading or the policy is unknown."""
    parsed = _parse_subject(kind)
    if policy not in all_policies() or parsed is None:
        return None
    name, bp = parsed
    try:
        found = load_kind(name)
    except KindError:
        return None
    if name in KIND_NAMES and found == builtin(name):  # the stored verdicts: the shipped kinds'
        hit = _cached_verdicts().get((subject(name, bp), policy))
        if hit is not None:
            return hit
    bp = reading_for(name, bp)
    return check(name, policy, DEFAULT_PCPUS, DEFAULT_VCPUS, DEFAULT_DEPTH, bp=bp).safe


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
    bp: BpReading = DEFAULT_BP,
    vms: int = 1,
) -> list[CheckResult]:
    """A full check of every (kind, policy) pair, kinds in SPEC §3 order, policies in
    registry order (built-ins, shipping profiles, plug-ins); ``jobs`` > 1 spreads the pairs
    over that many processes (same results, same order). With a ``cache``, a pair whose
    fingerprint is there is not checked again, and each new result is stored as it ends; a
    pair the cache lacks but ``safety.json`` ships with the same fingerprint is read from there
    (and stored in the cache), so a fresh install does not recompute the shipped verdicts.
    ``bp``: the predictor reading (an AArch64 kind is checked under the default, ``reading_for``)."""
    ks = list(KIND_NAMES if kinds is None else kinds)
    ps = list(all_policies() if policies is None else policies)
    reading = {k: reading_for(k, bp).name for k in ks}
    pairs = [(k, p) for k in ks for p in ps]
    options = [
        Options(pcpus, vcpus, depth, vas, incomplete, globals, asid_flush, reading[k], vms)
        for k, _ in pairs
    ]
    results: dict[int, CheckResult] = {}
    fps: dict[int, str] = {}
    todo: list[int] = []
    for i, (k, p) in enumerate(pairs):
        if cache is not None:
            fps[i] = pair_fingerprint(k, p, options[i])
            hit = cache.get(fps[i])
            if hit is None:
                hit = shipped_result(fps[i], k, p)
                if hit is not None:
                    cache.put(fps[i], hit)
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
            done(i, _check_pair(*pairs[i], options[i]))
    else:
        # forked from a fork server, never from this process, which may run threads (workers.py)
        pool = LocalProcesses(min(jobs, len(todo)), preload=PRELOAD)
        try:
            for got in pool.run(_check_indexed, [(i, *pairs[i], options[i]) for i in todo]):
                if got is not None:
                    done(*got)
        except BaseException:  # Ctrl-C (raised between two waits) or a failed check
            pool.close(abort=True)
            raise
        pool.close()
    return [results[i] for i in range(len(pairs))]


PRELOAD = ("vtlbsim.check.explore",)
"""What the workers' fork server imports once for them all: the checker. (Not this module:
run as `python -m vtlbsim.check.matrix`, each worker runs it again as its ``__main__``, and
runpy warns if it is imported already.)"""


def _check_indexed(i: int, kind: str, policy: str, opts: Options) -> tuple[int, CheckResult]:
    return i, _check_pair(kind, policy, opts)


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
        bp=BP_READINGS[opts.bp],
        vms=opts.vms,
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
    each under its pair fingerprint (pairs whose shipped verdict is still current are kept);
    and, for the AArch32 kinds, those under the other predictor readings."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    kept = {
        r["fingerprint"]: r
        for r in [*old.get("verdicts", []), *old.get("other_readings", [])]
        if isinstance(r, dict) and "fingerprint" in r
    }
    a32 = [k for k in KIND_NAMES if builtin(k).arch is Arch.AARCH32]
    readings = [DEFAULT_BP, *(r for r in BP_READINGS.values() if r != DEFAULT_BP)]
    rows: dict[str, list[dict[str, Any]]] = {}
    for bp in readings:
        kinds = KIND_NAMES if bp == DEFAULT_BP else a32
        pairs = [(k, p) for k in kinds for p in all_policies()]
        opts = Options(bp=bp.name)
        fps = {pair: pair_fingerprint(*pair, opts) for pair in pairs}
        missing = [pair for pair in pairs if fps[pair] not in kept]
        by_pair: dict[tuple[str, str], dict[str, Any]] = {
            pair: kept[fps[pair]] for pair in pairs if fps[pair] in kept
        }
        for k in dict.fromkeys(k for k, _ in missing):
            ps = [p for kk, p in missing if kk == k]
            for r in matrix_results([k], ps, jobs=jobs, bp=bp):
                row: dict[str, Any] = {"kind": r.kind, "policy": r.policy_ref}
                if bp != DEFAULT_BP:
                    row["bp"] = bp.name
                row |= {
                    "safe": r.safe,
                    "states": r.states,
                    "actions": len(r.actions),
                    "fingerprint": fps[(r.kind, r.policy_ref)],
                    # the whole result, for ``check --matrix`` on a fresh install
                    "result": r.to_json() | {"seconds": 0.0},
                }
                by_pair[(r.kind, r.policy_ref)] = row
        rows[bp.name] = [by_pair[pair] for pair in pairs]
    data = {
        "pcpus": DEFAULT_PCPUS,
        "vcpus": DEFAULT_VCPUS,
        "depth": DEFAULT_DEPTH,
        "vas": DEFAULT_VAS,
        "verdicts": rows.pop(DEFAULT_BP.name),
        "other_readings": [row for reading in rows.values() for row in reading],
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    # python -m vtlbsim.check.matrix [FILE [JOBS]]
    write_cache(
        Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE,
        int(sys.argv[2]) if len(sys.argv) > 2 else 1,
    )
