"""Expanding a study into points, the run key of a point, and evaluating points into rows.

A *point* is one cost run: platform × core count × guest mix × scheduler parameters × policy ×
seed × mode. Its **run key** is the SHA-256 of its normalised form (canonical JSON, sorted keys,
the digest of the platform and guest-kind files it reads) and of the **model version** (the
package version plus a digest of every source file and profile the numbers depend on), so a
rerun of the same spec on the same code finds every finished point, and a change to the model
makes every point new.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, datafiles
from .spec import DEFAULT_EVALUATOR, DEFAULT_SAFETY, SpecError, StudySpec

if TYPE_CHECKING:
    from ..cost.workload import Workload

PACKAGE_DIR = datafiles.package_dir("").parent
"""The installed ``vtlbsim`` package."""
MODEL_PACKAGES = ("arch", "guest", "hyp", "sim", "cost", "check")
"""The sub-packages whose code decides a point's numbers (study/ and cli/ only move them)."""
MODEL_DATA = (datafiles.PROFILES,)
"""Package data the cost model reads (platform profiles and, below them, guest kinds)."""


@dataclass(frozen=True, slots=True)
class Point:
    """One cost run, normalised. ``base_dir`` only resolves relative paths: not in the key."""

    platform: str
    platform_digest: str
    pcpus: int
    mix: str
    domains: tuple[tuple[str, int, int], ...]
    """(kind, count, vcpus) per domain group."""
    kind_digests: tuple[str, ...]
    """Digest of each kind's TOML when the kind is a file ("" for a built-in kind)."""
    duration_s: float
    scheduler: str
    migration_rate: float
    timeslice_ms: float
    policy: str
    seed: int
    mode: str
    sample: float | None
    base_dir: str = ""

    def normalised(self) -> dict[str, Any]:
        """The point as plain JSON data, every field that decides its numbers."""
        data: dict[str, Any] = {f: getattr(self, f) for f in self.__dataclass_fields__}
        del data["base_dir"]
        data["domains"] = [list(d) for d in self.domains]
        data["kind_digests"] = list(self.kind_digests)
        return data

    def label(self) -> str:
        """A short human description for messages."""
        return (
            f"{self.platform}/{self.pcpus} cores/{self.mix}/{self.policy}/"
            f"{self.migration_rate:g} mig/s/seed {self.seed}/{self.mode}"
        )

    @property
    def kinds(self) -> tuple[str, ...]:
        """The guest kinds of the mix, in order, without repeats."""
        return tuple(dict.fromkeys(k for k, _, _ in self.domains))


def _digest_files(paths: Iterable[Path], root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@cache
def model_version(evaluator: str = DEFAULT_EVALUATOR, safety: str = DEFAULT_SAFETY) -> str:
    """``VERSION+DIGEST``: the package version and a digest of the model's code and data.

    The digest covers every ``.py`` file of the model sub-packages and every shipped profile
    and guest kind (``data/profiles``); a custom evaluator or safety function is
    named in the version. ``VTLBSIM_MODEL_VERSION`` in the environment replaces the digest
    (to keep a store across a change known not to move the numbers: at your own risk).
    """
    pinned = os.environ.get("VTLBSIM_MODEL_VERSION")
    files: list[Path] = []
    for sub in MODEL_PACKAGES:
        files.extend((PACKAGE_DIR / sub).rglob("*.py"))
    for data in MODEL_DATA:
        files.extend(datafiles.shipped_files(data))
    digest = pinned if pinned else _digest_files(files, PACKAGE_DIR)[:12]
    tag = "" if evaluator == DEFAULT_EVALUATOR else f"+{evaluator}"
    tag += "" if safety == DEFAULT_SAFETY else f"+{safety}"
    return f"{__version__}+{digest}{tag}"


def safety_version(safety: str, version: str) -> str:
    """The version stamp of safety verdicts: the model checker's own fingerprint of the
    sources its verdicts depend on (so a change to the cost model keeps them) when the
    default checker is used; else the model version."""
    if safety == DEFAULT_SAFETY and not os.environ.get("VTLBSIM_MODEL_VERSION"):
        try:
            from ..check.matrix import fingerprint
        except ImportError:
            return version
        return f"check:{fingerprint()}"
    return version


def run_key(point: Point, version: str) -> str:
    """SHA-256 (hex, 32 digits) of the canonical JSON of the point and the model version."""
    blob = json.dumps(
        {"point": point.normalised(), "model_version": version},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _platform_digest(name: str, spec: StudySpec) -> str:
    """Validate a platform name or path and return the digest of its profile file."""
    from ..cost.platform import PlatformError, load_platform

    try:
        plat = load_platform(name, spec.base_dir)
    except PlatformError as exc:
        raise SpecError(f"{spec.source}: axes.platforms: {exc}") from None
    path = Path(plat.path)
    return _file_digest(path) if path.is_file() else ""


def _kind_digest(kind: str, spec: StudySpec, field: str) -> str:
    """Validate a guest kind (built-in name or TOML path) and return its file digest."""
    from ..guest.kinds import KIND_NAMES

    if kind in KIND_NAMES:
        return ""
    if kind.endswith(".toml") or "/" in kind:
        p = Path(kind) if Path(kind).is_absolute() else Path(spec.base_dir) / kind
        if p.is_file():
            return _file_digest(p)
        raise SpecError(f"{spec.source}: {field}: guest-kind file {kind!r} not found")
    named = datafiles.find(datafiles.GUESTS, kind)
    if named is not None:
        return _file_digest(named)
    raise SpecError(
        f"{spec.source}: {field}: unknown guest kind {kind!r} "
        f"(expected one of: {', '.join(KIND_NAMES)}, or a path to a .toml)"
    )


def _check_policies(spec: StudySpec) -> None:
    from ..hyp.registry import PolicyError, all_policies, resolve

    known = all_policies()
    for i, name in enumerate(spec.axes.policies):
        if name in known:
            continue
        try:
            resolve(name)
        except PolicyError as exc:
            raise SpecError(f"{spec.source}: axes.policies[{i}]: {exc}") from None


@dataclass(frozen=True, slots=True)
class _Guests:
    name: str
    groups: tuple[tuple[str, int | None, float | None, int], ...]
    """(kind, count, per_pcpu, vcpus)"""
    duration_s: float
    base_dir: str
    digests: tuple[str, ...]

    def domains(self, pcpus: int) -> tuple[tuple[str, int, int], ...]:
        out = []
        for kind, count, per_pcpu, vcpus in self.groups:
            n = count if count is not None else max(1, round((per_pcpu or 0.0) * pcpus))
            out.append((kind, n, vcpus))
        return tuple(out)


def _guest_sets(spec: StudySpec) -> list[_Guests]:
    """The mixes: inline ones, then one per workload file (its domains and duration)."""
    from ..cost.workload import WorkloadError, load_workload

    out: list[_Guests] = []
    for i, mix in enumerate(spec.mixes):
        groups = tuple((d.kind, d.count, d.per_pcpu, d.vcpus) for d in mix.domains)
        digests = tuple(
            _kind_digest(d.kind, spec, f"mixes[{i}].domains[{j}].kind")
            for j, d in enumerate(mix.domains)
        )
        out.append(_Guests(mix.name, groups, spec.fixed.duration_s, spec.base_dir, digests))
    for i, rel in enumerate(spec.axes.workloads):
        path = Path(rel) if Path(rel).is_absolute() else Path(spec.base_dir) / rel
        try:
            wl = load_workload(path)
        except WorkloadError as exc:
            raise SpecError(f"{spec.source}: axes.workloads[{i}]: {exc}") from None
        groups = tuple((d.kind, d.count, None, d.vcpus) for d in wl.domains)
        digests = tuple(
            _kind_digest(d.kind, spec.model_copy(update={"base_dir": wl.base_dir}), str(path))
            for d in wl.domains
        )
        out.append(_Guests(path.stem, groups, wl.duration_s, wl.base_dir, digests))
    return out


def expand(spec: StudySpec) -> list[Point]:
    """Every point of the study, in a fixed order (the axes' nesting order, as written).

    Validates the names the axes use (platforms, policies, guest kinds, workload files) and
    raises SpecError naming the file and field of the first bad one.
    """
    _check_policies(spec)
    plats = [(p, _platform_digest(p, spec)) for p in spec.axes.platforms]
    guests = _guest_sets(spec)
    points: list[Point] = []
    for (plat, pdig), pcpus, g, rate, ts, policy, seed, mode in itertools.product(
        plats,
        spec.axes.pcpus,
        guests,
        spec.axes.migration_rates,
        spec.timeslices,
        spec.axes.policies,
        spec.axes.seeds,
        spec.axes.modes,
    ):
        points.append(
            Point(
                platform=plat,
                platform_digest=pdig,
                pcpus=pcpus,
                mix=g.name,
                domains=g.domains(pcpus),
                kind_digests=g.digests,
                duration_s=g.duration_s,
                scheduler=spec.fixed.scheduler,
                migration_rate=float(rate),
                timeslice_ms=float(ts),
                policy=policy,
                seed=seed,
                mode=mode,
                sample=spec.fixed.sample if mode == "exact" else None,
                base_dir=g.base_dir,
            )
        )
    return points


# ---- evaluating points (runs in worker processes and on Dask workers) ------------------------

Evaluator = Callable[..., Any]


@cache
def load_callable(path: str) -> Evaluator:
    """The callable named ``module:function`` (imported once per process)."""
    mod_name, _, attr = path.partition(":")
    fn = getattr(importlib.import_module(mod_name), attr)
    if not callable(fn):
        raise TypeError(f"{path} is not callable")
    return fn  # type: ignore[no-any-return]


@cache
def column_name(prefix: str, cause: str) -> str:
    """``cycles_<cause>`` / ``events_<name>``: the cause in lower case, non-word runs → ``_``."""
    return f"{prefix}_{re.sub(r'[^0-9a-z]+', '_', cause.lower()).strip('_')}"


def workload_of(point: Point) -> Workload:
    """The cost model's workload for one point."""
    from ..cost.workload import DomainGroup, SchedulerSpec, Workload

    return Workload(
        platform=point.platform,
        pcpus=point.pcpus,
        duration_s=point.duration_s,
        policy=point.policy,
        scheduler=SchedulerSpec(
            kind=point.scheduler,  # type: ignore[arg-type]
            migrations_per_vcpu_s=point.migration_rate,
            timeslice_ms=point.timeslice_ms,
        ),
        domains=[DomainGroup(kind=k, count=c, vcpus=v) for k, c, v in point.domains],
        base_dir=point.base_dir,
    )


def evaluate_point(point: Point, key: str, version: str, evaluator: str) -> dict[str, Any]:
    """Cost one point and flatten the result into one store row (safety filled in later)."""
    wl = workload_of(point)
    res = load_callable(evaluator)(
        wl, point.policy, pcpus=point.pcpus, mode=point.mode, seed=point.seed, sample=point.sample
    )
    row: dict[str, Any] = {
        "run_key": key,
        "model_version": version,
        "platform": point.platform,
        "pcpus": point.pcpus,
        "mix": point.mix,
        "guests": " + ".join(f"{c}x{k}/{v}" for k, c, v in point.domains),
        "kinds": ",".join(point.kinds),
        "vcpus": sum(c * v for _, c, v in point.domains),
        "scheduler": point.scheduler,
        "migration_rate": point.migration_rate,
        "timeslice_ms": point.timeslice_ms,
        "duration_s": point.duration_s,
        "policy": point.policy,
        "seed": point.seed,
        "mode": point.mode,
        "sample": point.sample,
        "overhead_pct": float(res.overhead_pct),
        "cost_to_others_pct": float(res.cost_to_others_pct),
        "total_cycles": float(getattr(res, "total_cycles", sum(res.cycles.values()))),
        "machine_cycles": float(getattr(res, "machine_cycles", 0.0)),
        "safe": None,
        "unsafe_kinds": "",
        "assumptions": ",".join(sorted(set(getattr(res, "assumptions", []) or []))),
    }
    for cause, cycles in sorted(res.cycles.items()):
        row[column_name("cycles", cause)] = float(cycles)
    for name, count in sorted(res.events.items()):
        row[column_name("events", name)] = float(count)
    return row


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What a worker sends back: the rows it finished, and the first failure (if any)."""

    rows: list[dict[str, Any]]
    error: str | None = None
    bad_input: bool = False


def evaluate_chunk(items: Sequence[tuple[Point, str]], version: str, evaluator: str) -> ChunkResult:
    """Cost each (point, key) in order; stop at the first failure and report it in one line."""
    rows: list[dict[str, Any]] = []
    for point, key in items:
        try:
            rows.append(evaluate_point(point, key, version, evaluator))
        except Exception as exc:  # reported to the user as one line naming the point
            msg = " ".join(str(exc).split()) or type(exc).__name__
            return ChunkResult(rows, f"point {point.label()}: {msg}", isinstance(exc, ValueError))
    return ChunkResult(rows)


def evaluate_safety(kind: str, policy: str, safety: str) -> tuple[str, str, bool | None]:
    """The safety verdict of one (guest kind, policy) pair from the ``module:function`` named
    by ``safety`` (default: the model checker's matrix); None when it cannot tell."""
    verdict = load_callable(safety)(kind, policy)
    return kind, policy, None if verdict is None else bool(verdict)


def mix_safety(
    kinds: Iterable[str], policy: str, verdicts: dict[tuple[str, str], bool | None]
) -> tuple[bool | None, str]:
    """A mix is safe under a policy iff every guest kind in it is; unsafe if any kind is;
    else unknown. Returns (verdict, the unsafe kinds comma-separated)."""
    each = {k: verdicts.get((k, policy)) for k in kinds}
    unsafe = [k for k, v in each.items() if v is False]
    if unsafe:
        return False, ",".join(unsafe)
    if any(v is None for v in each.values()):
        return None, ""
    return True, ""
