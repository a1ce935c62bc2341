"""Published-measurement experiment files (docs/cost.md, "Held to the hardware record").

One TOML file per published measurement: who measured what, on which platform, with which
method, and the runs it reports. ``load_experiment`` validates a file completely (every field,
every ``set`` override, every ``relative_to``) before anything is predicted; a bad file raises
``ExperimentError`` whose text is one line naming the file, the line and the field::

    name = "ye-2020-flush-tlb-range"          # title, source, quote, method: text
    platform = "kunpeng920-2s"                # a profile name, or a path to a profile
    role = "calibrate"                        # or "validate" (never used for fitting)
    [[actors]]
    name = "initiator"
    count = 1                                 # >= 0
    cpus = "spread"                           # spread | packed | same-socket | socket:N
    work_ns = 0                               # per iteration, outside maintenance
    ops = ["1*vae1is"]                        # "N*name"; "dsb" closes a group early
    guest = { kind = "linux-arm32-up", policy = "fb", vcpus = 1 }   # optional
    [[runs]]
    name = "1-page"
    set = { "initiator.ops" = ["1*vae1is"] }  # dotted actor.field overrides
    platform_set = { dvm_scope = "filtered" } # optional profile overrides
    measured = { metric = "iteration_ns", actor = "initiator", value = 1457 }
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .. import tomlfile
from ..arch.ops import HYP_OPS, Arch, HypOp, MaintenanceOp, lookup_op
from .platform import FIGURES, Platform, PlatformError, load_platform

METRICS: dict[str, str] = {
    "iteration_ns": "one member's mean iteration time, ns",
    "throughput": "iterations per second summed over the actor's members",
    "throughput_per_member": "iterations per second of one member (mean)",
    "maintenance_share": "share of a member's time spent issuing maintenance and waiting for "
    "its DSBs (a profile's 'cycles in TLB flush functions')",
}
"""What a run may report; with ``relative_to``, the ratio of the metric to that run's."""
ROLES = ("calibrate", "validate")
ACTOR_FIELDS = ("count", "cpus", "work_ns", "ops")
"""Fields a run's ``set`` may override (``actor.field``)."""
DSB = "dsb"
_CPUS = re.compile(r"^(spread|packed|same-socket|socket:(\d+))$")
_OP = re.compile(r"^\s*(?:(\d+)\s*\*\s*)?([a-z0-9]+)\s*$")


class ExperimentError(ValueError):
    """A bad experiment file; ``str()`` is one line: ``FILE[:LINE]: field: what was expected``."""


class GuestSpec(BaseModel):
    """The actor is a vCPU of a guest of ``kind`` (``vcpus`` per VM), pinned, under ``policy``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(min_length=1)
    policy: str = Field(min_length=1)
    vcpus: int = Field(default=1, ge=1)


class Actor(BaseModel):
    """``count`` identical cores looping over ``work_ns`` of work and the ``ops``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    count: int = Field(ge=0)
    cpus: str = "spread"
    work_ns: float = Field(default=0.0, ge=0.0)
    ops: list[str] = Field(default_factory=list)
    guest: GuestSpec | None = None

    @field_validator("cpus")
    @classmethod
    def _cpus(cls, v: str) -> str:
        if not _CPUS.match(v):
            raise ValueError("expected 'spread', 'packed', 'same-socket' or 'socket:N'")
        return v

    @field_validator("ops")
    @classmethod
    def _ops(cls, v: list[str]) -> list[str]:
        for item in v:
            if not _OP.match(item.lower()):
                raise ValueError(f"{item!r}: expected 'name' or 'N*name'")
        return v


class Measured(BaseModel):
    """What the source reports for a run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Literal["iteration_ns", "throughput", "throughput_per_member", "maintenance_share"]
    actor: str = Field(min_length=1)
    value: float = Field(gt=0.0)
    relative_to: str | None = None


class Run(BaseModel):
    """One configuration of the experiment and, optionally, what was measured on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    set: dict[str, Any] = Field(default_factory=dict)
    platform_set: dict[str, Any] = Field(default_factory=dict)
    measured: Measured | None = None


class Experiment(BaseModel):
    """One published measurement: its provenance, its actors and its runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    title: str = ""
    source: str = Field(min_length=1)
    quote: str = ""
    method: str = ""
    verified: str = ""
    """What was checked at the source, and how (the record's own note)."""
    platform: str = Field(min_length=1)
    role: Literal["calibrate", "validate"]
    actors: list[Actor] = Field(min_length=1)
    runs: list[Run] = Field(min_length=1)
    path: str = Field(default="", exclude=True)
    base_dir: str = Field(default="", exclude=True)

    def actors_for(self, run: Run) -> list[Actor]:
        """The actors with ``run.set`` applied (validated when the file was loaded)."""
        out = []
        for a in self.actors:
            upd = {k.split(".", 1)[1]: v for k, v in run.set.items() if k.split(".")[0] == a.name}
            out.append(Actor.model_validate({**a.model_dump(), **upd}) if upd else a)
        return out

    def run(self, name: str) -> Run:
        return next(r for r in self.runs if r.name == name)


def parse_op(item: str) -> tuple[int, str]:
    """``"N*name"`` → (N, name); ``"name"`` → (1, name)."""
    m = _OP.match(item.lower())
    if m is None:
        raise ValueError(f"{item!r}: expected 'name' or 'N*name'")
    return int(m.group(1) or 1), m.group(2)


def resolve_op(arch: Arch, name: str) -> MaintenanceOp | HypOp | None:
    """The instruction an experiment names: a guest instruction of ``arch``, a hypervisor flush
    (``vmalls12e1is``, ``alle1is``, ...), or None for ``dsb``; ValueError if unknown."""
    if name == DSB:
        return None
    found = lookup_op(arch, name)
    if found is not None:
        return found
    if name in HYP_OPS:
        return HYP_OPS[name]
    raise ValueError(
        f"unknown instruction {name!r} (an {arch} instruction, a hypervisor flush, or dsb)"
    )


def _line_of(text: str, table: str | None, index: int | None, key: str | None) -> int | None:
    """Best-effort line of ``key`` in the ``index``-th ``[[table]]`` (or at the top level)."""
    lines = text.splitlines()
    start, end = 0, len(lines)
    if table is not None:
        hdr = re.compile(rf"^\s*\[\[\s*{table}\s*\]\]")
        hits = [i for i, ln in enumerate(lines) if hdr.match(ln)]
        if index is None or index >= len(hits):
            return None
        start = hits[index]
        nxt = [i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")]
        end = nxt[0] if nxt else len(lines)
        if key is None:
            return start + 1
    else:
        tables = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")]
        end = tables[0] if tables else len(lines)
    if key is None:
        return None
    pat = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for i in range(start, end):
        if pat.match(lines[i]):
            return i + 1
    for i in range(start, end):
        if key in lines[i]:
            return i + 1
    return None


class _Where:
    """Builds one-line errors that name the file, the line and the field."""

    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text

    def error(self, field: str, msg: str) -> ExperimentError:
        loc = re.match(r"^(actors|runs)\[(\d+)\](?:\.([A-Za-z_]+))?", field)
        if loc:
            line = _line_of(self.text, loc.group(1), int(loc.group(2)), loc.group(3))
        else:
            line = _line_of(self.text, None, None, field.split(".")[0])
        at = f"{self.path}:{line}" if line else self.path
        return ExperimentError(f"{at}: {field}: {msg}")


def _pydantic_msg(err: Any, model: type[BaseModel]) -> str:
    if err["type"] == "extra_forbidden":
        names = [n for n in model.model_fields if n not in ("path", "base_dir")]
        return f"unknown field (expected one of: {', '.join(names)})"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "literal_error":
        return f"expected one of {err['ctx']['expected']}"
    return str(err["msg"]).removeprefix("Value error, ")


def experiment_from_text(text: str, where: str, base_dir: str = "") -> Experiment:
    """Parse and validate an experiment document; ExperimentError (one line) on any problem."""
    data = tomlfile.loads(text, where, ExperimentError)
    w = _Where(where, text)
    try:
        exp = Experiment.model_validate({**data, "path": where, "base_dir": base_dir})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        model: type[BaseModel] = Experiment
        if loc and loc[0] == "actors":
            model = GuestSpec if "guest" in loc else Actor
        elif loc and loc[0] == "runs":
            model = Measured if "measured" in loc else Run
        raise w.error(tomlfile.dotted(loc), _pydantic_msg(err, model)) from None
    _check(exp, w)
    return exp


def _check(exp: Experiment, w: _Where) -> None:
    """Cross-field rules: unique names, ``set`` targets, ``relative_to``, metric actors, ops."""
    actors = {a.name: a for a in exp.actors}
    if len(actors) != len(exp.actors):
        raise w.error("actors", "two actors share a name")
    runs = [r.name for r in exp.runs]
    for i, name in enumerate(runs):
        if name in runs[:i]:
            raise w.error(f"runs[{i}].name", f"{name!r}: an earlier run has this name")
    for i, r in enumerate(exp.runs):
        for key, value in r.set.items():
            actor, dot, field = key.partition(".")
            if not dot or actor not in actors:
                raise w.error(
                    f"runs[{i}].set",
                    f"{key!r}: unknown actor {actor!r} (expected ACTOR.FIELD, ACTOR one of: "
                    f"{', '.join(actors)})",
                )
            if field not in ACTOR_FIELDS:
                raise w.error(
                    f"runs[{i}].set",
                    f"{key!r}: cannot set {field!r} (expected one of: {', '.join(ACTOR_FIELDS)})",
                )
            try:
                Actor.model_validate({**actors[actor].model_dump(), field: value})
            except ValidationError as exc:
                raise w.error(
                    f"runs[{i}].set", f"{key!r}: {_pydantic_msg(exc.errors()[0], Actor)}"
                ) from None
        m = r.measured
        if m is not None:
            if m.actor not in actors:
                raise w.error(
                    f"runs[{i}].measured",
                    f"actor: unknown actor {m.actor!r} (expected one of: {', '.join(actors)})",
                )
            if m.relative_to is not None and (m.relative_to not in runs or m.relative_to == r.name):
                raise w.error(
                    f"runs[{i}].measured",
                    f"relative_to: no other run named {m.relative_to!r} (runs: {', '.join(runs)})",
                )
        plat = _platform(exp, r, w, i)
        for j, a in enumerate(exp.actors_for(r)):
            sock = _CPUS.match(a.cpus)
            if sock and sock.group(2) is not None and int(sock.group(2)) >= plat.sockets:
                field = f"runs[{i}].set" if f"{a.name}.cpus" in r.set else f"actors[{j}].cpus"
                raise w.error(field, f"{a.cpus!r}: {plat.name} has sockets 0..{plat.sockets - 1}")
            arch = Arch.AARCH64
            if a.guest is not None:
                arch = _guest_arch(a.guest, w, j)
            for item in a.ops:
                try:
                    resolve_op(arch, parse_op(item)[1])
                except ValueError as exc:
                    field = f"runs[{i}].set" if f"{a.name}.ops" in r.set else f"actors[{j}].ops"
                    raise w.error(field, str(exc)) from None


def platform_for(exp: Experiment, run: Run) -> Platform:
    """The experiment's platform with the run's ``platform_set`` applied (PlatformError or
    ValueError if the profile or an override is bad)."""
    plat = load_platform(exp.platform, exp.base_dir)
    if not run.platform_set:
        return plat
    for key in run.platform_set:
        if key not in FIGURES:
            raise ValueError(f"{key!r}: unknown figure (expected one of: {', '.join(FIGURES)})")
    data = {**plat.model_dump(), **run.platform_set}
    return Platform.model_validate(data)


def _platform(exp: Experiment, run: Run, w: _Where, i: int) -> Platform:
    try:
        load_platform(exp.platform, exp.base_dir)
    except PlatformError as exc:
        raise w.error("platform", str(exc)) from None
    try:
        return platform_for(exp, run)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise w.error(
            f"runs[{i}].platform_set", f"{tomlfile.dotted(tuple(err['loc']))}: {err['msg']}"
        ) from None
    except ValueError as exc:
        raise w.error(f"runs[{i}].platform_set", str(exc)) from None


def _guest_arch(g: GuestSpec, w: _Where, j: int) -> Arch:
    """The architecture of a guest actor's kind; its kind and policy must exist."""
    from ..guest.rates import RatesError, load_rates
    from ..hyp.registry import PolicyError, resolve

    try:
        rates = load_rates(g.kind)
    except RatesError as exc:
        raise w.error(f"actors[{j}].guest", f"kind: {exc}") from None
    try:
        resolve(g.policy)
    except PolicyError as exc:
        raise w.error(f"actors[{j}].guest", f"policy: {exc}") from None
    return rates.arch


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate one experiment file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExperimentError(f"{p}: cannot read experiment file: {exc.strerror}") from None
    return experiment_from_text(text, str(p), str(p.resolve().parent))
