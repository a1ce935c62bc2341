"""Predict the published measurements with the DVM model (``vtlbsim validate --published``).

Each run of an experiment (``cost/experiment.py``) becomes a closed network (``dvm.solve``):
every member of every actor is a core that loops over its work and its maintenance. Placement:
members take free cores in actor order (``spread``: round-robin over sockets; ``packed`` /
``same-socket``: filling sockets in order; ``socket:N``: that socket); more members than cores
share cores, each getting an equal share of its core (its work and issue time stretch by the
number of members on it). A guest actor's instructions pass through its policy's HCR_EL2
(FB upgrades its local ones; TTLB traps them: a trap round trip plus what ``on_trap`` runs).
Every ``dsb`` in ``ops``, and the end of the iteration, is a DSB of the widest domain since the
previous one: one DVM Sync if any broadcast preceded it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import datafiles
from ..arch.ops import Arch, HypOp, MaintenanceOp, Scope, effective
from ..hyp.policy import VcpuInfo
from ..hyp.state import PolicyState
from .dvm import IssuerClass, filterable, local_cycles, solve, span_factor
from .experiment import (
    Actor,
    Experiment,
    ExperimentError,
    Run,
    load_experiment,
    parse_op,
    platform_for,
    resolve_op,
)
from .platform import Platform

PlatformTweak = Callable[[Platform], Platform]
"""A change applied to every run's platform (calibration substitutes its trial values)."""


def record_dir() -> Path:
    """The shipped record (package data ``data/published``)."""
    return datafiles.package_dir(datafiles.PUBLISHED)


def record_files(paths: Iterable[Path] = ()) -> list[Path]:
    """``paths`` (files, or directories of ``*.toml``), or the shipped record, sorted."""
    out: list[Path] = []
    for p in list(paths) or [record_dir()]:
        out.extend(sorted(p.glob("*.toml")) if p.is_dir() else [p])
    return out


def load_record(paths: Iterable[Path] = ()) -> list[Experiment]:
    """Every experiment of ``record_files(paths)``; ExperimentError on the first bad one."""
    return [load_experiment(p) for p in record_files(paths)]


@dataclass(frozen=True, slots=True)
class _Member:
    """What one member does per iteration (cycles), before contention."""

    work: float
    issue: float
    syncs: float
    msgs_all: float
    """DVM messages per iteration that reach every core in scope."""
    msgs_vm: float
    """DVM messages a VMID snoop filter delivers only to the VM's cores."""
    span: int


@dataclass(slots=True)
class ActorMetrics:
    """Predicted metrics of one actor in one run (``experiment.METRICS``)."""

    iteration_ns: float
    throughput: float
    throughput_per_member: float
    maintenance_share: float

    def get(self, metric: str) -> float:
        return float(getattr(self, metric))


def _placement(plat: Platform, actors: list[Actor]) -> list[list[int]]:
    """The core of every member, actor by actor (module docstring)."""
    per = plat.cores_per_socket()
    sockets = [list(range(s * per, min((s + 1) * per, plat.cores))) for s in range(plat.sockets)]
    load = [0] * plat.cores
    out: list[list[int]] = []
    for a in actors:
        cores: list[int] = []
        for k in range(a.count):
            if a.cpus == "spread":
                order = [(k + i) % plat.sockets for i in range(plat.sockets)]
            elif a.cpus.startswith("socket:"):
                order = [int(a.cpus.split(":")[1])]
            else:
                order = list(range(plat.sockets))
            free = [c for s in order for c in sockets[s] if load[c] == 0]
            if free and a.cpus == "spread":
                free = [c for c in sockets[order[0]] if load[c] == 0] or free
            pool = [c for s in order for c in sockets[s]]
            core = free[0] if free else min(pool, key=lambda c: (load[c], c))
            load[core] += 1
            cores.append(core)
        out.append(cores)
    return out


def _member(plat: Platform, a: Actor, vm_sockets: int) -> _Member:
    """Cost of one iteration of a member of ``a`` before contention (module docstring); a
    guest's VM spans ``vm_sockets`` sockets (what its filtered broadcasts cross)."""
    arch = Arch.AARCH64
    hcr = None
    policy = None
    info = None
    if a.guest is not None:
        from ..guest.rates import load_rates
        from ..hyp.registry import resolve

        arch = load_rates(a.guest.kind).arch
        policy = resolve(a.guest.policy)
        info = VcpuInfo(a.name, 0, 1, arch, a.guest.vcpus, True)
        hcr = policy.hcr(info)
    issue, syncs, msgs_all, msgs_vm = 0.0, 0.0, 0.0, 0.0
    bcast, any_all = False, False
    vm_scoped = a.guest is not None and plat.dvm_scope == "filtered"
    all_sockets = 1 if plat.dvm_scope == "socket" else plat.sockets

    def physical(o: MaintenanceOp | HypOp) -> list[MaintenanceOp | HypOp]:
        nonlocal issue
        if hcr is None or isinstance(o, HypOp) or policy is None or info is None:
            return [o]
        if hcr.ttlb and o.ttlb_traps:
            issue += plat.trap_roundtrip_cycles
            return list(PolicyState().trap(policy, info, 0, o))
        return [effective(o, hcr.fb, plat.bp)]

    items: list[MaintenanceOp | HypOp | None] = []
    for item in a.ops:
        n, name = parse_op(item)
        o = resolve_op(arch, name)
        for _ in range(n):
            items.extend([None] if o is None else physical(o))
    items.append(None)  # the DSB that closes every iteration
    for o in items:
        if o is None:
            if bcast:
                syncs += 1.0
                if any_all:
                    msgs_all += 1.0
                else:
                    msgs_vm += 1.0
            bcast, any_all = False, False
            continue
        own = local_cycles(plat, o)
        if o.scope is Scope.LOCAL:
            issue += own
            continue
        scoped = vm_scoped and filterable(o)
        k = span_factor(plat, vm_sockets if scoped else all_sockets)
        issue += plat.dvm_op_cycles * k + max(0.0, own - plat.tlbi_local_cycles)
        bcast = True
        if scoped:
            msgs_vm += 1.0
        else:
            msgs_all += 1.0
            any_all = True
    span = all_sockets if msgs_all or not vm_scoped else vm_sockets
    return _Member(a.work_ns * plat.clock_ghz, issue, syncs, msgs_all, msgs_vm, span)


def predict_run(
    exp: Experiment, run: Run, tweak: PlatformTweak | None = None
) -> dict[str, ActorMetrics | None]:
    """Every actor's metrics in ``run`` (None for an actor with no members)."""
    plat = platform_for(exp, run)
    if tweak is not None:
        plat = tweak(plat)
    actors = exp.actors_for(run)
    cores = _placement(plat, actors)
    sharing = np.bincount(np.array([c for cs in cores for c in cs] or [0]), minlength=plat.cores)
    flat: list[tuple[int, int, int, int]] = []  # (actor, core, vm, members on the core)
    for ai, (a, cs) in enumerate(zip(actors, cores, strict=True)):
        vcpus = a.guest.vcpus if a.guest is not None else 0
        for k, c in enumerate(cs):
            vm = ai * 100_000 + (k // vcpus if vcpus else -1)
            flat.append((ai, c, vm, int(sharing[c])))
    per_actor: list[_Member | None] = []
    for a, cs in zip(actors, cores, strict=True):
        first_vm = cs[: a.guest.vcpus] if a.guest is not None else cs
        vm_sockets = len({plat.socket_of(c) for c in first_vm}) or 1
        per_actor.append(_member(plat, a, vm_sockets) if a.count else None)
    per_socket = plat.dvm_scope == "socket"
    groups: dict[tuple[int, int, int, int], list[int]] = {}
    """(actor, server, VM, members on the core) → indices into ``flat``."""
    for idx, (ai, c, vm, share) in enumerate(flat):
        server = plat.socket_of(c) if per_socket else 0
        key = (ai, server, vm if plat.dvm_scope == "filtered" else 0, share)
        groups.setdefault(key, []).append(idx)
    keys = list(groups)
    classes: list[IssuerClass] = []
    for ai, server, _, share in keys:
        m = per_actor[ai]
        assert m is not None
        kf = span_factor(plat, m.span)
        classes.append(
            IssuerClass(
                float(len(groups[(ai, server, _, share)])),
                m.work * share,
                m.issue * share,
                m.syncs,
                plat.dvm_sync_cycles * kf,
                server,
            )
        )
    recv = np.zeros((len(keys), len(keys)))
    for ci, kc in enumerate(keys):
        me = flat[groups[kc][0]]
        for di, kd in enumerate(keys):
            m = per_actor[kd[0]]
            assert m is not None
            reaching = 0.0
            for idx in groups[kd]:
                other = flat[idx]
                if idx == groups[kc][0]:
                    continue
                same_socket = plat.socket_of(other[1]) == plat.socket_of(me[1])
                if per_socket and not same_socket:
                    continue
                same_vm = other[2] == me[2] or actors[kd[0]].guest is None
                reaching += m.msgs_all + (m.msgs_vm if same_vm else 0.0)
            recv[ci, di] = reaching
    sol = solve(classes, recv, plat.dvm_receive_cycles, plat.sockets if per_socket else 1)
    out: dict[str, ActorMetrics | None] = {}
    hz = plat.clock_ghz * 1e9
    for ai, a in enumerate(actors):
        sel = [i for i, kk in enumerate(keys) if kk[0] == ai]
        if not sel:
            out[a.name] = None
            continue
        n = np.array([classes[i].count for i in sel])
        t = sol.iteration[sel]
        maint = np.array([classes[i].issue for i in sel]) + sol.residence[sel]
        thr = float(np.sum(n / t)) * hz
        out[a.name] = ActorMetrics(
            iteration_ns=float(np.sum(n * t) / n.sum()) / plat.clock_ghz,
            throughput=thr,
            throughput_per_member=thr / float(n.sum()),
            maintenance_share=float(np.sum(n * maint / t) / n.sum()),
        )
    return out


@dataclass(frozen=True, slots=True)
class Row:
    """One run of the record: what was measured and what the model predicts, in the same
    terms (a ratio when ``relative_to`` is given)."""

    experiment: str
    run: str
    role: str
    metric: str
    actor: str
    measured: float | None
    predicted: float
    relative_to: str | None = None

    @property
    def ratio(self) -> float | None:
        """predicted / measured (None without a measurement)."""
        return None if self.measured is None else self.predicted / self.measured

    @property
    def error(self) -> float | None:
        """The factor between them, >= 1 (``max(r, 1/r)``)."""
        r = self.ratio
        return None if r is None else max(r, 1.0 / r)

    def as_json(self) -> dict[str, object]:
        return {
            "experiment": self.experiment,
            "run": self.run,
            "role": self.role,
            "metric": self.metric,
            "actor": self.actor,
            "relative_to": self.relative_to,
            "measured": self.measured,
            "predicted": self.predicted,
            "ratio": self.ratio,
        }


def predict_experiment(exp: Experiment, tweak: PlatformTweak | None = None) -> list[Row]:
    """One row per run (an unmeasured run reports its first busy actor's ``iteration_ns``)."""
    cache: dict[str, dict[str, ActorMetrics | None]] = {}

    def metrics(name: str) -> dict[str, ActorMetrics | None]:
        if name not in cache:
            cache[name] = predict_run(exp, exp.run(name), tweak)
        return cache[name]

    rows: list[Row] = []
    for run in exp.runs:
        m = run.measured
        if m is None:
            got = metrics(run.name)
            actor = next((k for k, v in got.items() if v is not None), exp.actors[0].name)
            v = got[actor]
            rows.append(
                Row(
                    exp.name,
                    run.name,
                    exp.role,
                    "iteration_ns",
                    actor,
                    None,
                    v.iteration_ns if v else math.nan,
                )
            )
            continue
        here = metrics(run.name)[m.actor]
        if here is None:
            raise ExperimentError(f"{exp.path}: runs: {run.name}: actor {m.actor!r} has no members")
        value = here.get(m.metric)
        if m.relative_to is not None:
            there = metrics(m.relative_to)[m.actor]
            if there is None:
                raise ExperimentError(
                    f"{exp.path}: runs: {m.relative_to}: actor {m.actor!r} has no members"
                )
            value = value / there.get(m.metric)
        rows.append(
            Row(exp.name, run.name, exp.role, m.metric, m.actor, m.value, value, m.relative_to)
        )
    return rows


@dataclass(frozen=True, slots=True)
class RoleSummary:
    """Per role: how many measured runs, their geometric-mean error factor and the worst."""

    role: str
    runs: int
    geomean: float
    worst: float
    worst_run: str


def summarise(rows: list[Row], by: str = "role") -> list[RoleSummary]:
    """Geometric-mean and worst error factor of the measured runs, per role (``by="role"``)
    or per experiment (``by="experiment"``, its role in ``RoleSummary.role``)."""
    groups: dict[str, list[Row]] = {}
    for r in rows:
        if r.error is not None:
            groups.setdefault(r.role if by == "role" else r.experiment, []).append(r)
    keys = [k for k in ("calibrate", "validate") if k in groups] if by == "role" else list(groups)
    out: list[RoleSummary] = []
    for key in keys:
        errs = [(r.error or 1.0, f"{r.experiment}/{r.run}") for r in groups[key]]
        gm = math.exp(sum(math.log(e) for e, _ in errs) / len(errs))
        worst = max(errs)
        name = key if by == "role" else f"{groups[key][0].role} {key}"
        out.append(RoleSummary(name, len(errs), gm, worst[0], worst[1]))
    return out
