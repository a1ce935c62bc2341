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
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, datafiles
from .carried import FileRef, file_ref, kind_here, platform_here
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
    platform_file: FileRef | None = None
    """The platform profile the point reads, carried to the worker (``carried``)."""
    kind_files: tuple[FileRef, ...] = ()
    """Each domain group's guest-kind file, carried likewise (empty: read by name)."""

    def normalised(self) -> dict[str, Any]:
        """The point as plain JSON data, every field that decides its numbers (the carried
        files are in it through their digests)."""
        data: dict[str, Any] = {f: getattr(self, f) for f in self.__dataclass_fields__}
        for where in ("base_dir", "platform_file", "kind_files"):
            del data[where]
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


def _platform_file(name: str, spec: StudySpec) -> tuple[str, FileRef]:
    """Validate a platform name or path; the digest of its profile file, and the file."""
    from ..cost.platform import PlatformError, load_platform

    try:
        plat = load_platform(name, spec.base_dir)
    except PlatformError as exc:
        raise SpecError(f"{spec.source}: axes.platforms: {exc}") from None
    ref = file_ref(Path(plat.path))
    return ref.digest, ref


def _kind_file(kind: str, base_dir: str, where: str) -> tuple[str, FileRef]:
    """Validate a guest kind (a shipped or user kind's name, or a TOML path) and read it
    as the cost model will; its digest ("" for a shipped kind: the model version covers
    it), and the file. SpecError names ``where`` (the spec's file and field)."""
    from ..guest.kinds import KIND_NAMES, KindError, kind_path
    from ..guest.rates import RatesError, load_rates

    if (kind.endswith(".toml") or "/" in kind) and not (Path(base_dir) / kind).is_file():
        if not Path(kind).is_file():
            raise SpecError(f"{where}: guest-kind file {kind!r} not found")
    try:
        path = kind_path(kind, base_dir)
        load_rates(kind, base_dir)
    except KindError:
        raise SpecError(
            f"{where}: unknown guest kind {kind!r} "
            f"(expected one of: {', '.join(KIND_NAMES)}, or a path to a .toml)"
        ) from None
    except RatesError as exc:
        raise SpecError(f"{where}: {exc}") from None
    ref = file_ref(path)
    return ("" if ref.shipped else ref.digest), ref


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
    files: tuple[FileRef, ...]

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
        found = [
            _kind_file(d.kind, spec.base_dir, f"{spec.source}: mixes[{i}].domains[{j}].kind")
            for j, d in enumerate(mix.domains)
        ]
        digests, files = tuple(f[0] for f in found), tuple(f[1] for f in found)
        out.append(_Guests(mix.name, groups, spec.fixed.duration_s, spec.base_dir, digests, files))
    for i, rel in enumerate(spec.axes.workloads):
        path = Path(rel) if Path(rel).is_absolute() else Path(spec.base_dir) / rel
        try:
            wl = load_workload(path)
        except WorkloadError as exc:
            raise SpecError(f"{spec.source}: axes.workloads[{i}]: {exc}") from None
        groups = tuple((d.kind, d.count, None, d.vcpus) for d in wl.domains)
        found = [_kind_file(d.kind, wl.base_dir, str(path)) for d in wl.domains]
        digests, files = tuple(f[0] for f in found), tuple(f[1] for f in found)
        out.append(_Guests(path.stem, groups, wl.duration_s, wl.base_dir, digests, files))
    return out


def expand(spec: StudySpec) -> list[Point]:
    """Every point of the study, in a fixed order (the axes' nesting order, as written).

    Validates the names the axes use (platforms, policies, guest kinds, workload files) and
    raises SpecError naming the file and field of the first bad one.
    """
    _check_policies(spec)
    plats = [(p, *_platform_file(p, spec)) for p in spec.axes.platforms]
    guests = _guest_sets(spec)
    points: list[Point] = []
    for (plat, pdig, pfile), pcpus, g, rate, ts, policy, seed, mode in itertools.product(
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
                platform_file=pfile,
                kind_files=g.files,
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
    """The cost model's workload for one point, reading the files the point carries (the
    platform and guest kinds as resolved where the spec was read; ``carried``)."""
    from ..cost.workload import DomainGroup, SchedulerSpec, Workload

    base = point.base_dir
    kinds = [k for k, _, _ in point.domains]
    if point.kind_files:
        kinds = [kind_here(k, base, f) for k, f in zip(kinds, point.kind_files, strict=True)]
    plat = point.platform
    return Workload(
        platform=platform_here(plat, base, point.platform_file) if point.platform_file else plat,
        pcpus=point.pcpus,
        duration_s=point.duration_s,
        policy=point.policy,
        scheduler=SchedulerSpec(
            kind=point.scheduler,  # type: ignore[arg-type]
            migrations_per_vcpu_s=point.migration_rate,
            timeslice_ms=point.timeslice_ms,
        ),
        domains=[
            DomainGroup(kind=kind, count=c, vcpus=v)
            for kind, (_, c, v) in zip(kinds, point.domains, strict=True)
        ],
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


def worker_mismatch(version: str) -> str | None:
    """Why this process cannot compute rows for a study of model ``version`` (a vtlbsim with
    other code or profiles: its rows would be stored under keys that say otherwise), or None."""
    mine = model_version()
    if version == mine or version.startswith(mine + "+"):
        return None
    host = socket.gethostname()
    return (
        f"a worker on {host} has vtlbsim model version {mine}, the study needs {version}: "
        "install the same vtlbsim on every machine (and the same VTLBSIM_MODEL_VERSION, if set)"
    )


def evaluate_chunk(items: Sequence[tuple[Point, str]], version: str, evaluator: str) -> ChunkResult:
    """Cost each (point, key) in order; stop at the first failure and report it in one line.
    Nothing is computed by a worker whose model version is not the study's."""
    mismatch = worker_mismatch(version)
    if mismatch is not None:
        return ChunkResult([], mismatch)
    rows: list[dict[str, Any]] = []
    for point, key in items:
        try:
            rows.append(evaluate_point(point, key, version, evaluator))
        except Exception as exc:  # reported to the user as one line naming the point
            msg = " ".join(str(exc).split()) or type(exc).__name__
            return ChunkResult(rows, f"point {point.label()}: {msg}", isinstance(exc, ValueError))
    return ChunkResult(rows)


def evaluate_safety(
    kind: str, policy: str, safety: str, base_dir: str = "", ref: FileRef | None = None
) -> tuple[str, str, bool | None]:
    """The safety verdict of one (guest kind, policy) pair from the ``module:function`` named
    by ``safety`` (default: the model checker's matrix); None when it cannot tell. With the
    kind's file ``ref`` (carried by the points), the function is given a name or path that
    reads that file here (``carried.kind_here``; a relative path made absolute against
    ``base_dir``); the verdict is stored under the kind as written."""
    base, sep, reading = kind.rpartition("@")  # a platform's predictor reading (safety_subject)
    if not sep:
        base, reading = kind, ""
    name = base
    if ref is not None:
        name = kind_here(base, base_dir, ref)
        if name == base and (base.endswith(".toml") or "/" in base):
            name = str(Path(base_dir) / base)  # an absolute path stays one
    verdict = load_callable(safety)(f"{name}{sep}{reading}", policy)
    return kind, policy, None if verdict is None else bool(verdict)


def safety_subject(kind: str, platform: str, base_dir: str, safety: str) -> str:
    """What the safety function is asked about ``kind`` on ``platform``: for the model checker,
    the kind with the platform's branch-predictor reading (``check.matrix.subject``: the kind
    itself, or ``KIND@READING``); a custom safety function gets the kind as it is."""
    if safety != DEFAULT_SAFETY:
        return kind
    try:
        from ..check.matrix import subject
    except ImportError:
        return kind
    from ..cost.platform import load_platform

    return subject(kind, load_platform(platform, base_dir).bp)


def kind_files(points: Iterable[Point]) -> dict[str, tuple[str, FileRef]]:
    """Each guest kind as written → (base directory, file) of the first point naming it (what
    ``evaluate_safety`` checks for it)."""
    out: dict[str, tuple[str, FileRef]] = {}
    for p in points:
        for (kind, _, _), ref in zip(p.domains, p.kind_files, strict=False):
            out.setdefault(kind, (p.base_dir, ref))
    return out


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
