"""Workload files (issue 3 "Formats"): platform, pCPUs, duration, scheduler, domains, policy.

```toml
platform = "thunderx-cn8890-2s"   # a profile name or a path to a platform TOML
pcpus = 96                        # optional: override the profile's core count
duration_s = 60
policy = "fb"                     # optional
[scheduler]
kind = "random-migrate"           # pinned | round-robin | random-migrate
migrations_per_vcpu_s = 20
timeslice_ms = 10
[[domains]]
kind = "linux-arm32-up"           # a built-in guest kind, or a path to a guest-kind TOML
count = 200
vcpus = 1
trace = "traces/gzip.npz"         # optional: exact mode replays this trace for these vCPUs
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import tomlfile


class WorkloadError(ValueError):
    """A bad workload file; ``str()`` is one line: ``FILE[:LINE]: field: what was expected``."""


class SchedulerSpec(BaseModel):
    """How vCPUs are placed: pinned, round-robin over the pCPUs, or random migration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["pinned", "round-robin", "random-migrate"] = "pinned"
    migrations_per_vcpu_s: float = Field(default=0.0, ge=0.0)
    """Migrations per running vCPU-second (``random-migrate``)."""
    timeslice_ms: float = Field(default=10.0, gt=0.0)
    """Scheduling quantum when vCPUs share a pCPU (overcommit, round-robin)."""


class DomainGroup(BaseModel):
    """``count`` identical domains of ``vcpus`` vCPUs running guest ``kind``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(min_length=1)
    count: int = Field(default=1, ge=1)
    vcpus: int = Field(default=1, ge=1)
    trace: str | None = Field(default=None, min_length=1)
    """A trace (``vtlbsim trace import``'s .npz, or lackey text) that exact mode replays for
    these domains' vCPUs instead of the kind's working-set model; relative to the workload
    file. The analytic model ignores it."""

    def trace_path(self, base_dir: str) -> Path | None:
        """``trace`` resolved against the workload file's directory (None without a trace)."""
        if self.trace is None:
            return None
        p = Path(self.trace).expanduser()
        return p if p.is_absolute() or not base_dir else Path(base_dir) / p


class Workload(BaseModel):
    """One cost run: a platform, a core count, a duration, a scheduler, domains, a policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: str = Field(min_length=1)
    pcpus: int | None = Field(default=None, ge=1)
    duration_s: float = Field(gt=0.0)
    policy: str | None = None
    scheduler: SchedulerSpec = SchedulerSpec()
    domains: list[DomainGroup] = Field(min_length=1)
    base_dir: str = Field(default="", exclude=True)
    """Directory of the file it came from (relative platform / kind paths resolve there)."""

    @property
    def total_vcpus(self) -> int:
        """Every vCPU of every domain."""
        return sum(d.count * d.vcpus for d in self.domains)


def _find_line(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the TOML key at ``loc`` (best effort; None if not found)."""
    lines = text.splitlines()
    start, end = 0, len(lines)
    keys = [k for k in loc if isinstance(k, str)]
    if not keys:
        return None
    # Narrow to the table: [scheduler] or the n-th [[domains]]; written inline
    # (``domains = [...]``, ``scheduler = {...}``) the line is the top-level key's.
    hits: list[int] = []
    idx = 0
    if keys[0] in ("scheduler", "domains") and len(loc) > 1:
        header = re.compile(r"^\s*\[\[\s*domains\s*\]\]") if keys[0] == "domains" else None
        if header is None:
            header = re.compile(r"^\s*\[\s*scheduler\s*\]")
        idx = loc[1] if keys[0] == "domains" and isinstance(loc[1], int) else 0
        hits = [i for i, line in enumerate(lines) if header.match(line)]
    if idx < len(hits):
        start = hits[idx] + 1
        nxt = [i for i, line in enumerate(lines) if i >= start and line.lstrip().startswith("[")]
        end = nxt[0] if nxt else len(lines)
        if len(keys) == 1:
            return hits[idx] + 1
        name = keys[-1]
    else:
        first_table = [i for i, line in enumerate(lines) if line.lstrip().startswith("[")]
        end = first_table[0] if first_table else len(lines)
        name = keys[0]
    key = re.compile(rf"^\s*\"?{re.escape(str(name))}\"?\s*=")
    for i in range(start, end):
        if key.match(lines[i]):
            return i + 1
    return None


def workload_from_text(text: str, where: str, base_dir: str = "") -> Workload:
    """Parse and validate a workload TOML document; errors name ``where`` and the field."""
    data = tomlfile.loads(text, where, WorkloadError)
    data["base_dir"] = base_dir
    try:
        return Workload.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        lineno = _find_line(text, loc)
        at = f"{where}:{lineno}" if lineno else where
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            model: type[BaseModel] = Workload
            if loc[0] == "scheduler":
                model = SchedulerSpec
            elif loc[0] == "domains":
                model = DomainGroup
            names = [n for n in model.model_fields if n != "base_dir"]
            msg = f"unknown field (expected one of: {', '.join(names)})"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "literal_error":
            msg = f"expected one of {err['ctx']['expected']}"
        raise WorkloadError(f"{at}: {tomlfile.dotted(loc)}: {msg}") from None


def check_references(workload: Workload, text: str, where: str) -> None:
    """The platform and every domain's guest kind must load; WorkloadError names the field."""
    from ..guest.rates import RatesError, load_rates
    from .platform import PlatformError, load_platform

    try:
        load_platform(workload.platform, workload.base_dir)
    except PlatformError as exc:
        line = _find_line(text, ("platform",))
        raise WorkloadError(f"{where}{f':{line}' if line else ''}: platform: {exc}") from None
    for i, dom in enumerate(workload.domains):
        try:
            load_rates(dom.kind, workload.base_dir)
        except RatesError as exc:
            line = _find_line(text, ("domains", i, "kind"))
            at = f"{where}:{line}" if line else where
            raise WorkloadError(f"{at}: domains[{i}].kind: {exc}") from None
        trace = dom.trace_path(workload.base_dir)
        if trace is not None and not trace.is_file():
            line = _find_line(text, ("domains", i, "trace"))
            at = f"{where}:{line}" if line else where
            raise WorkloadError(f"{at}: domains[{i}].trace: {trace}: no such trace file") from None


def load_workload(path: str | Path) -> Workload:
    """Read and validate a workload file (fields, then that its platform and guest kinds
    exist and are well formed, and every domain's trace file exists, its path made absolute);
    WorkloadError (one line) on any problem."""
    p = Path(path)
    text = tomlfile.read(p, "workload file", WorkloadError)
    workload = workload_from_text(text, str(p), str(p.resolve().parent))
    check_references(workload, text, str(p))
    # traces resolved now, so a copy without ``base_dir`` (``vtlbsim validate FILE``) finds them
    domains = [
        d.model_copy(update={"trace": str(d.trace_path(workload.base_dir))}) if d.trace else d
        for d in workload.domains
    ]
    return workload.model_copy(update={"domains": domains})
