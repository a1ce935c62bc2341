"""Study specs (``studies/*.toml``, SPEC §7 "study"): the axes of a sweep and its fixed parameters.

```toml
name = "seed"
title = "HCR_EL2.FB or flush on migration?"
evaluator = "vtlbsim.cost:evaluate"      # optional: the cost function (module:function)
safety = "vtlbsim.check.matrix:safe"     # optional: the (kind, policy) safety verdict

[axes]
platforms = ["thunderx-cn8890-2s"]     # profile names or paths to platform TOMLs
pcpus = [8, 16, 32, 64, 96]
policies = ["fb", "flush-on-migrate"]
migration_rates = [1, 10, 100]         # scheduler.migrations_per_vcpu_s
timeslices_ms = [10]                   # optional (default: [fixed.timeslice_ms])
seeds = [0]                            # optional (default: [0])
modes = ["analytic"]                   # optional: "analytic" and/or "exact"
workloads = ["w.toml"]                 # optional: workload files (their domains and duration)

[fixed]
duration_s = 1.0
scheduler = "random-migrate"
timeslice_ms = 10

[[mixes]]                              # inline guest mixes
name = "arm32-up"
domains = [{ kind = "linux-arm32-up", per_pcpu = 2, vcpus = 1 }]

[report]
migration_rate = 100                   # the rate of the per-core-count figures
```

A domain group gives either ``count`` (domains) or ``per_pcpu`` (domains per pCPU, so the
load scales with the core count: ``count = max(1, round(per_pcpu * pcpus))``). Every error is
one line naming the file and the field (:class:`SpecError`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .. import tomlfile

DEFAULT_EVALUATOR = "vtlbsim.cost:evaluate"
"""The cost model entry point every point goes through (``module:function``)."""
DEFAULT_SAFETY = "vtlbsim.check.matrix:safe"
"""The safety verdict per (guest kind, policy): True, False or None (unknown)."""
_DOTTED = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
_FIELD_FIRST = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): ")
"""A check across fields names the one it blames first: ``report.pcpus: ...`` (from the top)
or ``pcpus: ...`` (inside the section being validated)."""


class SpecError(ValueError):
    """A bad study spec; ``str()`` is one line: ``FILE[:LINE]: field: what was expected``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MixDomain(_Strict):
    """``count`` domains (or ``per_pcpu`` domains per pCPU) of ``vcpus`` vCPUs of guest ``kind``."""

    kind: str = Field(min_length=1)
    count: int | None = Field(default=None, ge=1)
    per_pcpu: float | None = Field(default=None, gt=0)
    vcpus: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _one_size(self) -> MixDomain:
        if (self.count is None) == (self.per_pcpu is None):
            raise ValueError("give exactly one of 'count' or 'per_pcpu'")
        return self

    def count_for(self, pcpus: int) -> int:
        """Domains in the group on a machine of ``pcpus`` cores."""
        if self.count is not None:
            return self.count
        assert self.per_pcpu is not None
        return max(1, round(self.per_pcpu * pcpus))


class Mix(_Strict):
    """A named guest mix: the domains that share the machine."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.+-]+$")
    domains: list[MixDomain] = Field(min_length=1)


class Axes(_Strict):
    """The swept parameters; a study is their Cartesian product."""

    platforms: list[str] = Field(min_length=1)
    pcpus: list[int] = Field(min_length=1)
    policies: list[str] = Field(min_length=1)
    migration_rates: list[float] = Field(default=[0.0], min_length=1)
    timeslices_ms: list[float] | None = Field(default=None, min_length=1)
    seeds: list[int] = Field(default=[0], min_length=1)
    modes: list[Literal["analytic", "exact"]] = Field(default=["analytic"], min_length=1)
    workloads: list[str] = Field(default=[])

    @model_validator(mode="after")
    def _ranges(self) -> Axes:
        if any(p < 1 for p in self.pcpus):
            raise ValueError("pcpus: every core count must be >= 1")
        if any(r < 0 for r in self.migration_rates):
            raise ValueError("migration_rates: every rate must be >= 0")
        if self.timeslices_ms is not None and any(t <= 0 for t in self.timeslices_ms):
            raise ValueError("timeslices_ms: every timeslice must be > 0")
        for name in ("platforms", "pcpus", "policies", "migration_rates", "seeds", "modes"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name}: values must be distinct")
        return self


class Fixed(_Strict):
    """Parameters every point shares."""

    duration_s: float = Field(default=1.0, gt=0)
    scheduler: Literal["pinned", "round-robin", "random-migrate"] = "random-migrate"
    timeslice_ms: float = Field(default=10.0, gt=0)
    sample: float | None = Field(default=None, gt=0, le=1)
    """Exact mode: fraction of accesses simulated (None: the cost model's default)."""


class ReportSpec(_Strict):
    """Which slice the report's per-core-count figures and headline table show."""

    migration_rate: float | None = Field(default=None, ge=0)
    """Default: the median of the swept migration rates."""
    pcpus: int | None = Field(default=None, ge=1)
    """Headline core count; default: the largest swept."""
    baseline: str = "fb"
    challenger: str = "flush-on-migrate"
    """The crossover figure: the migration rate above which ``baseline`` beats ``challenger``."""


class StudySpec(_Strict):
    """A whole study file."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.+-]+$")
    title: str = ""
    description: str = ""
    evaluator: str = Field(default=DEFAULT_EVALUATOR, pattern=_DOTTED)
    safety: str = Field(default=DEFAULT_SAFETY, pattern=_DOTTED)
    axes: Axes
    fixed: Fixed = Fixed()
    mixes: list[Mix] = Field(default=[])
    report: ReportSpec = ReportSpec()
    source: str = Field(default="", exclude=True)
    """The file it came from."""
    base_dir: str = Field(default="", exclude=True)
    """Its directory: relative workload, platform and guest-kind paths resolve there."""

    @model_validator(mode="after")
    def _has_guests(self) -> StudySpec:
        if not self.mixes and not self.axes.workloads:
            raise ValueError("give at least one [[mixes]] entry or axes.workloads path")
        names = [m.name for m in self.mixes] + [Path(w).stem for w in self.axes.workloads]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"mix names must be distinct (repeated: {', '.join(dup)})")
        return self

    @model_validator(mode="after")
    def _report_in_axes(self) -> StudySpec:
        """The report shows a slice of the sweep: the policies, rate and core count a spec
        names there must be swept (a typo would silently drop the crossover section, the
        study's answer). The default baseline and challenger need not be: without them the
        report has no crossover section."""
        r, a = self.report, self.axes
        pols = ", ".join(a.policies)
        for key in ("baseline", "challenger"):
            name = getattr(r, key)
            if key in r.model_fields_set and name not in a.policies:
                raise ValueError(
                    f"report.{key}: {name!r} is not a policy of the study "
                    f"(expected one of axes.policies: {pols})"
                )
        if r.baseline == r.challenger:
            raise ValueError(
                f"report.challenger: expected a policy other than the baseline {r.baseline!r}"
            )
        if r.migration_rate is not None and r.migration_rate not in a.migration_rates:
            rates = ", ".join(f"{x:g}" for x in a.migration_rates)
            raise ValueError(
                f"report.migration_rate: {r.migration_rate:g} is not a swept rate "
                f"(expected one of axes.migration_rates: {rates})"
            )
        if r.pcpus is not None and r.pcpus not in a.pcpus:
            raise ValueError(
                f"report.pcpus: {r.pcpus} is not a swept core count "
                f"(expected one of axes.pcpus: {', '.join(map(str, a.pcpus))})"
            )
        return self

    @property
    def timeslices(self) -> list[float]:
        """The swept timeslices (the fixed one when the axis is absent)."""
        return self.axes.timeslices_ms or [self.fixed.timeslice_ms]

    def headline_rate(self) -> float:
        """The migration rate the per-core-count figures and the headline table show."""
        if self.report.migration_rate is not None:
            return self.report.migration_rate
        rates = sorted(self.axes.migration_rates)
        return rates[(len(rates) - 1) // 2]

    def headline_pcpus(self) -> int:
        """The core count the headline table shows."""
        return self.report.pcpus if self.report.pcpus is not None else max(self.axes.pcpus)


def safety_bound(safety: str = DEFAULT_SAFETY) -> str:
    """What a "safe" from the ``module:function`` verdict rests on, in words: the model
    checker's bound (depth, pCPUs, vCPUs, VA pages) read from the function's module
    (``DEFAULT_DEPTH``, ``DEFAULT_PCPUS``, ``DEFAULT_VCPUS``, ``DEFAULT_VAS``), or the
    function's name when its module states no bound."""
    import importlib

    mod_name = safety.partition(":")[0]
    try:
        mod = importlib.import_module(mod_name)
    except Exception:  # a spec's own verdict function that cannot be imported here
        return f"as decided by {safety}"
    depth = getattr(mod, "DEFAULT_DEPTH", None)
    pcpus = getattr(mod, "DEFAULT_PCPUS", None)
    vcpus = getattr(mod, "DEFAULT_VCPUS", None)
    if not all(isinstance(x, int) for x in (depth, pcpus, vcpus)):
        return f"as decided by {safety}"
    vas = getattr(mod, "DEFAULT_VAS", None)
    if vas is None:
        vas = getattr(importlib.import_module("vtlbsim.check.actions"), "DEFAULT_VAS", None)
    text = (
        f"no violation found within {depth} actions on {pcpus} pCPUs, with {vcpus} vCPUs "
        "per SMP guest (1 per UP guest)"
    )
    if isinstance(vas, int):
        text += f" and {vas} VA page{'s' * (vas != 1)}"
    return text


def _find_line(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort 1-based line of the first key of ``loc`` inside its table."""
    lines = text.splitlines()
    keys = [k for k in loc if isinstance(k, str)]
    if not keys:
        return None
    tables = {"axes", "fixed", "report"}
    if keys[0] in tables and len(keys) > 1:
        head = re.compile(rf"^\s*\[\s*{keys[0]}\s*\]")
        hits = [i for i, ln in enumerate(lines) if head.match(ln)]
        if not hits:
            return None
        start, key = hits[0] + 1, keys[1]
    elif keys[0] == "mixes":
        head = re.compile(r"^\s*\[\[\s*mixes\s*\]\]")
        hits = [i for i, ln in enumerate(lines) if head.match(ln)]
        idx = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
        if idx >= len(hits):
            return hits[0] + 1 if hits else None
        start, key = hits[idx] + 1, keys[1] if len(keys) > 1 else ""
        if not key:
            return hits[idx] + 1
    else:
        start, key = 0, keys[0]
    pat = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for i in range(start, len(lines)):
        if i > start and lines[i].lstrip().startswith("[") and not pat.match(lines[i]):
            break
        if pat.match(lines[i]):
            return i + 1
    return None


def spec_from_text(text: str, where: str, base_dir: str = "") -> StudySpec:
    """Parse and validate a study spec; SpecError names ``where``, the line and the field."""
    data = tomlfile.loads(text, where, SpecError)
    for private in ("source", "base_dir"):
        if private in data:
            raise SpecError(f"{where}: {private}: unknown field")
    data["source"], data["base_dir"] = where, base_dir
    try:
        return StudySpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        # a model_validator error has no field of its own: its message starts with it
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        msg = str(err["msg"]).removeprefix("Value error, ")
        field = _FIELD_FIRST.match(msg)
        if field:
            named = tuple(field.group(1).split("."))
            loc, msg = (loc + named if loc else named), msg[field.end() :]
        lineno = _find_line(text, loc)
        at = f"{where}:{lineno}" if lineno else where
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "literal_error":
            msg = f"expected one of {err['ctx']['expected']}"
        raise SpecError(f"{at}: {tomlfile.dotted(loc)}: {msg}") from None


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study spec: a file, or the name of a shipped spec (``seed``);
    SpecError (one line) on any problem."""
    p = Path(path)
    if not p.exists() and p.suffix == "" and "/" not in str(path):
        from .. import datafiles

        shipped = datafiles.find(datafiles.STUDIES, str(path))
        if shipped is None:
            known = ", ".join(datafiles.names(datafiles.STUDIES))
            raise SpecError(f"{p}: no such study spec file or shipped study (shipped: {known})")
        p = shipped
    text = tomlfile.read(p, "study spec", SpecError)
    return spec_from_text(text, str(p), str(p.resolve().parent))
