"""The DVM model: what broadcast (Inner Shareable) maintenance costs the core that issues it and
every core that receives it, and how that grows when many cores broadcast at once.

The mechanism is AMBA CHI's DVM protocol (Arm IHI 0050, "DVM operations"; summarised in
docs/cost.md, "The DVM model"):

- A broadcast TLBI is a *DVM operation*: the issuer sends it to the DVM node, which snoops every
  core in the broadcast's scope and answers when all have responded. A requester may not send its
  next DVM operation before the previous one completes, so one core's broadcast TLBIs are
  sequential: each costs its issuer ``dvm_op_cycles``. Operations from different cores may be
  outstanding together, so they do not queue behind each other.
- The DSB that completes them is a *DVM Sync*: the node sends a Sync snoop to every core in scope,
  and at most one Sync snoop may be outstanding to a core, so Syncs whose scopes overlap are
  **serialised**: each holds the node (the "Sync server") for ``dvm_sync_cycles``. Every issuing
  core alternates between *thinking* (its work, its local maintenance, its own DVM operations) and
  one visit to the Sync server per DSB: a closed queueing network, solved here by Bard–Schweitzer
  mean-value analysis (``solve``). The residence at the server never falls below the service time,
  grows with the number of concurrent issuers, and the throughput of Syncs saturates at one per
  service time.
- Every core in scope stalls ``dvm_receive_cycles`` per DVM message it receives (operations and
  Syncs alike); a stall stretches that core's work (a share ``f`` of its time is lost, so work
  takes ``1/(1 - f)`` as long).
- A broadcast spanning ``s`` sockets takes ``1 + dvm_socket_factor·(s - 1)`` times as long (its
  operation and its Sync cross the coherent link).
- ``dvm_scope`` says which cores receive: ``"system"`` (every core of the machine; one Sync
  server), ``"socket"`` (the issuer's socket only; one Sync server per socket) or ``"filtered"``
  (a snoop filter delivers TLB maintenance only to the cores that ran the issuing VMID; I-cache and
  branch-predictor broadcasts still reach every core).

Units are cycles of the platform's clock. ``solve`` is shared by the analytic cost model, exact
mode and the published-measurement experiments (``cost/experiment.py``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..arch.ops import HypOp, HypTarget, MaintenanceOp, Match, Scope, Structure
from .platform import Platform

MAX_STALL = 0.95
"""Largest share of a core's time lost to received DVM messages (the fixed point is capped here:
beyond it the core makes no progress and the closed model no longer describes it)."""
MESSAGES = 2
"""DVM messages per broadcast instruction with its own DSB: the operation and the Sync."""
_TOL = 1e-10
_MAX_ITER = 5000


def span_factor(plat: Platform, sockets: int) -> float:
    """How much longer a broadcast spanning ``sockets`` sockets takes than one on one socket."""
    return 1.0 + plat.dvm_socket_factor * (max(1, sockets) - 1)


def local_cycles(plat: Platform, o: MaintenanceOp | HypOp) -> float:
    """The issuer's cost of a maintenance instruction as a *local* one (no DVM message): an
    ``IC IALLU`` (whole I-cache) costs ``ic_iallu_cycles``, any other instruction (TLBI, BPIALL,
    by-VA I-cache maintenance) ``tlbi_local_cycles``."""
    if isinstance(o, HypOp):
        whole_ic = o.target is HypTarget.ICACHE
    else:
        whole_ic = o.structure is Structure.ICACHE and o.match is Match.ALL
    return plat.ic_iallu_cycles if whole_ic else plat.tlbi_local_cycles


def instruction_cycles(plat: Platform, o: MaintenanceOp | HypOp, broadcast: float) -> float:
    """The issuer's wait for one instruction and its DSB: local, or ``broadcast`` (a broadcast
    under the current load, ``BroadcastLoad.issue``) plus what its local work costs beyond a
    local TLBI's (a whole-I-cache invalidate)."""
    own = local_cycles(plat, o)
    if o.scope is Scope.LOCAL:
        return own
    return broadcast + max(0.0, own - plat.tlbi_local_cycles)


def filterable(o: MaintenanceOp | HypOp) -> bool:
    """Whether a snoop filter keyed by VMID may skip cores for it (TLB maintenance only)."""
    if isinstance(o, HypOp):
        return o.target in (HypTarget.TLB_VMID,)
    return o.structure is Structure.TLB


@dataclass(frozen=True, slots=True)
class IssuerClass:
    """Identical cores of the closed model; one *iteration* is what each does between two
    returns to the same point (an experiment's loop body; one broadcast in the cost models)."""

    count: float
    """How many cores (fractional in the analytic model: busy cores)."""
    work: float
    """Cycles of work per iteration, outside maintenance: stretched by receive stalls."""
    issue: float
    """Cycles per iteration the core spends issuing its own maintenance, outside Sync waits
    (local instructions, and its broadcast operations' round trips)."""
    syncs: float
    """DVM Syncs per iteration (DSBs completing broadcast maintenance): visits to the server."""
    sync_service: float
    """Cycles the Sync server is held by one of this class's Syncs."""
    server: int = 0
    """Which Sync server its Syncs visit (a socket under ``dvm_scope = "socket"``)."""


@dataclass(frozen=True, slots=True)
class Solution:
    """The closed model's fixed point, per class (arrays in ``IssuerClass`` order)."""

    iteration: np.ndarray
    """Cycles per iteration of one member."""
    residence: np.ndarray
    """Cycles per iteration at the Sync server (waiting + service), >= syncs × service."""
    stall: np.ndarray
    """Share of a member's time lost to received DVM messages."""
    utilisation: np.ndarray
    """Per server: the share of time it is busy serving Syncs."""
    backlog: np.ndarray
    """Per server: the mean work (cycles) a Sync arriving from outside the classes finds there."""

    @property
    def throughput(self) -> np.ndarray:
        """Iterations per cycle of one member."""
        return 1.0 / self.iteration


def solve(
    classes: list[IssuerClass], received: np.ndarray, receive_cycles: float, servers: int = 1
) -> Solution:
    """Solve the closed network for ``classes`` (Bard–Schweitzer MVA with receive stalls).

    ``received[i, j]``: DVM messages one member of class ``i`` receives per iteration of *each*
    member of class ``j``, summed over ``j``'s members other than itself (messages per
    iteration × members whose broadcasts reach it). For each class ``c`` with ``N`` members at
    server ``k``:

    - think time ``Z = work / (1 - f) + issue``;
    - residence ``R = V·(S + sum_j S_j·Q_j - S·Q/N)`` over the classes ``j`` at ``k``
      (``V`` Syncs of service ``S`` per iteration; the arrival sees the mean queue minus its own
      share, Schweitzer's approximation);
    - iteration ``T = Z + R``; member throughput ``x = 1/T``; jobs at the server ``Q = N·R/T``;
    - stall share ``f = min(MAX_STALL, receive_cycles·sum_j received[c, j]·x_j)``.

    Iterated to a fixed point (damped). ``T`` is non-decreasing in every class's ``count`` and
    the Syncs served per cycle never exceed one per service time.
    """
    n = len(classes)
    n_srv = max([servers, 1] + [c.server + 1 for c in classes])
    if n == 0:
        z = np.zeros(0)
        return Solution(z, z, z, np.zeros(n_srv), np.zeros(n_srv))
    if n == 1:
        return _solve_one(
            classes[0], float(np.asarray(received).reshape(-1)[0]), receive_cycles, n_srv
        )
    return _solve_iterative(classes, received, receive_cycles, n_srv)


def _solve_one(c: IssuerClass, received: float, receive_cycles: float, n_srv: int) -> Solution:
    """``solve`` for one class, in closed form: with demand ``D = V·S`` and think time ``Z``,
    Schweitzer's ``R = D(1 + Q(N - 1)/N)``, ``Q = N·R/(Z + R)`` is the quadratic
    ``R^2 + (Z - N·D)·R - D·Z = 0``; the stall share ``f = receive·received/(Z(f) + R(f))``
    (``Z(f) = work/(1 - f) + issue``) is the root of an increasing function, found by
    bisection."""
    demand = c.syncs * c.sync_service
    active = c.count > 0 and c.syncs > 0

    def residence(f: float) -> float:
        if not active:
            return 0.0
        z = c.work / (1.0 - f) + c.issue
        b = z - c.count * demand
        return (-b + math.sqrt(b * b + 4.0 * demand * z)) / 2.0

    def excess(f: float) -> float:
        t = c.work / (1.0 - f) + c.issue + residence(f)
        return f - min(MAX_STALL, receive_cycles * received / max(t, 1e-300))

    lo, hi = 0.0, MAX_STALL
    if excess(lo) < 0.0:
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if excess(mid) < 0.0:
                lo = mid
            else:
                hi = mid
        f = 0.5 * (lo + hi)
    else:
        f = 0.0
    r = residence(f)
    t = max(c.work / (1.0 - f) + c.issue + r, 1e-300)
    busy = np.zeros(n_srv)
    backlog = np.zeros(n_srv)
    busy[c.server] = c.count / t * demand
    backlog[c.server] = c.sync_service * (c.count * r / t if active else 0.0)
    return Solution(np.array([t]), np.array([r]), np.array([f]), busy, backlog)


def _stall_root(others: float, own: float, work: float, rest: float) -> float:
    """The stall share ``f`` with ``f = min(MAX_STALL, others + own/(work/(1 - f) + rest))``
    (an increasing left side against a non-increasing right side: bisection)."""

    def excess(f: float) -> float:
        return f - min(MAX_STALL, others + own / max(work / (1.0 - f) + rest, 1e-300))

    if excess(0.0) >= 0.0:
        return 0.0
    lo, hi = 0.0, MAX_STALL
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if excess(mid) < 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _solve_iterative(
    classes: list[IssuerClass], received: np.ndarray, receive_cycles: float, n_srv: int
) -> Solution:
    """``solve`` for several classes: the fixed point by damped iteration."""
    n = len(classes)
    # Plain Python: the networks are small (a handful of classes) and numpy's per-call cost
    # would dominate the ~40 iterations.
    count = [float(c.count) for c in classes]
    work = [float(c.work) for c in classes]
    issue = [float(c.issue) for c in classes]
    visits = [float(c.syncs) for c in classes]
    service = [float(c.sync_service) for c in classes]
    server = [c.server for c in classes]
    active = [count[i] > 0 and visits[i] > 0 for i in range(n)]
    per_member = [1.0 / count[i] if count[i] > 0 else 0.0 for i in range(n)]
    recv = [[float(v) for v in row] for row in np.asarray(received, dtype=np.float64).tolist()]
    senders = [[(j, recv[i][j]) for j in range(n) if recv[i][j] and count[j] > 0] for i in range(n)]
    queue = [0.0] * n
    stall = [0.0] * n
    residence = [visits[i] * service[i] if active[i] else 0.0 for i in range(n)]
    iteration = [work[i] + issue[i] + residence[i] for i in range(n)]
    for _ in range(_MAX_ITER):
        load = [0.0] * n_srv
        for i in range(n):
            load[server[i]] += service[i] * queue[i]
        x = [0.0] * n
        new_res = [0.0] * n
        new_iter = [0.0] * n
        new_queue = [0.0] * n
        delta = 0.0
        for i in range(n):
            if active[i]:
                seen = max(0.0, load[server[i]] - service[i] * queue[i] * per_member[i])
                new_res[i] = visits[i] * (service[i] + seen)
            new_iter[i] = max(work[i] / (1.0 - stall[i]) + issue[i] + new_res[i], 1e-300)
            x[i] = 1.0 / new_iter[i]
            if active[i]:
                new_queue[i] = count[i] * new_res[i] * x[i]
            delta = max(
                delta,
                abs(new_iter[i] - iteration[i]) / new_iter[i],
                abs(new_queue[i] - queue[i]) / max(count[i], 1.0),
            )
        for i in range(n):
            # The stall share's strong self-feedback (a class receives from its own members,
            # whose rate its stall sets) is solved exactly for class i, the others held fixed.
            others = receive_cycles * sum(m * x[j] for j, m in senders[i] if j != i)
            own = receive_cycles * recv[i][i] if count[i] > 0 else 0.0
            new_stall = _stall_root(others, own, work[i], issue[i] + new_res[i])
            delta = max(delta, abs(new_stall - stall[i]))
            stall[i] = new_stall
            residence[i] = 0.5 * residence[i] + 0.5 * new_res[i]
            queue[i] = 0.5 * queue[i] + 0.5 * new_queue[i]
            iteration[i] = 0.5 * iteration[i] + 0.5 * new_iter[i]
        if delta < _TOL:
            break
    it = np.array(
        [max(work[i] / (1.0 - stall[i]) + issue[i] + residence[i], 1e-300) for i in range(n)]
    )
    busy = np.zeros(n_srv)
    backlog = np.zeros(n_srv)
    for i in range(n):
        busy[server[i]] += count[i] / it[i] * visits[i] * service[i]
        backlog[server[i]] += service[i] * queue[i]
    return Solution(it, np.array(residence), np.array(stall), busy, backlog)


@dataclass(frozen=True, slots=True)
class BroadcastLoad:
    """The DVM load of a cost run, and what one broadcast costs under it (cycles).

    ``rate``: broadcast instructions (each one DVM operation and one Sync) per cycle per busy
    core; ``issuers``: busy cores issuing them. ``issue`` is what one broadcast costs its issuer
    under this load (operation round trip + residence at the Sync server)."""

    rate: float
    issuers: float
    op: float
    sync: float
    issue: float
    stall: float
    utilisation: float


def broadcast_load(
    plat: Platform, rate: float, issuers: float, sockets: int, receivers: float
) -> BroadcastLoad:
    """What a broadcast costs when ``issuers`` busy cores, spread over ``sockets`` sockets, each
    issue ``rate`` broadcast instructions per cycle (an operation and its Sync each), every
    broadcast reaching ``receivers`` other busy cores: the closed model with one class whose
    iteration, uncontended, lasts ``1/rate`` cycles. ``rate = 0``: the idle latency. A broadcast
    spans every socket, but under ``dvm_scope = "socket"`` only its own, and each socket then
    serves its own issuers' Syncs (as exact mode's ``step_issue`` does)."""
    per_socket = plat.dvm_scope == "socket"
    k = span_factor(plat, 1 if per_socket else sockets)
    op, sync = plat.dvm_op_cycles * k, plat.dvm_sync_cycles * k
    if rate <= 0.0 or issuers <= 0.0:
        return BroadcastLoad(0.0, 0.0, op, sync, op + sync, 0.0, 0.0)
    work = max(0.0, 1.0 / rate - op - sync)
    servers = max(1, sockets) if per_socket else 1
    # the issuers share the sockets' servers evenly, but a socket with any has at least one
    cls = IssuerClass(min(issuers, max(1.0, issuers / servers)), work, op, 1.0, sync)
    # every busy core issues at the same rate: each receives from its ``receivers`` peers
    received = np.array([[MESSAGES * max(0.0, receivers)]])
    sol = solve([cls], received, plat.dvm_receive_cycles)
    return BroadcastLoad(
        rate,
        issuers,
        op,
        sync,
        op + float(sol.residence[0]),
        float(sol.stall[0]),
        float(sol.utilisation[0]),
    )


def step_issue(
    plat: Platform, counts: np.ndarray, sockets: np.ndarray, interval: float, span: int
) -> np.ndarray:
    """Exact mode: what one broadcast costs its issuer on each pCPU when pCPU ``p`` issues
    ``counts[p]`` broadcasts (each an operation and a Sync) within ``interval`` cycles, every
    issuing pCPU receiving the others' (only its own socket's under ``dvm_scope = "socket"``,
    where each socket has its own Sync server; ``sockets[p]``: the socket of ``p``).

    The closed model with one class per (server, count): a pCPU that issues ``c`` broadcasts
    has, uncontended, an iteration of ``interval / c`` cycles. A pCPU that issues none this
    interval (a hypervisor flush at a load) finds the mean backlog of its server."""
    k = span_factor(plat, span)
    op, sync = plat.dvm_op_cycles * k, plat.dvm_sync_cycles * k
    per_socket = plat.dvm_scope == "socket"
    server = sockets if per_socket else np.zeros_like(sockets)
    keys = sorted({(int(server[p]), int(c)) for p, c in enumerate(counts) if c > 0})
    n_srv = int(server.max()) + 1 if server.size else 1
    out = np.full(counts.shape, op + sync, dtype=np.float64)
    if not keys:
        return out
    pop = {key: 0 for key in keys}
    for p, c in enumerate(counts):
        if c > 0:
            pop[(int(server[p]), int(c))] += 1
    classes = tuple((s, c, pop[(s, c)]) for s, c in keys)
    res, backlog = _step_solution(
        classes, n_srv, interval, op, sync, plat.dvm_receive_cycles, per_socket
    )
    index = {key: i for i, key in enumerate(keys)}
    for p, c in enumerate(counts):
        if c > 0:
            out[p] = op + res[index[(int(server[p]), int(c))]]
        else:
            out[p] = op + sync + backlog[int(server[p])]
    return out


@functools.lru_cache(maxsize=65536)
def _step_solution(
    classes: tuple[tuple[int, int, int], ...],
    servers: int,
    interval: float,
    op: float,
    sync: float,
    receive: float,
    per_socket: bool,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``step_issue``'s closed model for classes (server, broadcasts, pCPUs): each class's
    residence at its server and each server's backlog (cached: a run's steps repeat them)."""
    issuers = [
        IssuerClass(float(n), max(0.0, interval / c - op - sync), op, 1.0, sync, s)
        for s, c, n in classes
    ]
    received = np.zeros((len(classes), len(classes)))
    for i, (si, _, _) in enumerate(classes):
        for j, (sj, _, nj) in enumerate(classes):
            if si == sj or not per_socket:
                received[i, j] = MESSAGES * (nj - (1 if i == j else 0))
    sol = solve(issuers, received, receive, servers)
    return tuple(sol.residence.tolist()), tuple(sol.backlog.tolist())
