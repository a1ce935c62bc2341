"""`vtlbsim calibrate`: fit the DVM model's free parameters to the record's ``calibrate`` runs.

The free parameters (docs/cost.md, "Calibration"), fitted in log space by least squares on
``ln(predicted / measured)`` (scipy ``least_squares``), each run weighted ``1/sqrt(n)`` for an
experiment of ``n`` measured runs so that every experiment counts alike:

- shared by every platform: ``op_ns`` (a broadcast TLBI's DVM operation), ``sync_ns`` (a DVM
  Sync), both on one socket of the *reference* platform, and ``receive_ns`` (a receiving core's
  stall per DVM message);
- per platform, only where its own calibrate runs measure concurrent broadcasters: a latency
  ``scale`` (its operation and Sync take ``scale`` times the reference's).

Only experiments whose ``role`` is ``calibrate`` are ever predicted here: ``validate`` runs are
dropped before anything is computed (a test holds this).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..arch.ops import Arch, Scope
from .experiment import Experiment, parse_op, resolve_op
from .platform import Platform, load_platform, platform_names
from .published import Row, predict_experiment

REFERENCE = "kunpeng920-2s"
"""The platform whose latencies ``op_ns`` and ``sync_ns`` are (Ye 2020's single-issuer timing is
the record's only direct latency measurement)."""
SHARED = ("op_ns", "sync_ns", "receive_ns")
START = {"op_ns": 235.0, "sync_ns": 495.0, "receive_ns": 100.0}
BOUNDS = (1.0, 1e5)
"""Every parameter (ns, or a scale ×100 ns) stays within these bounds."""


@dataclass(frozen=True, slots=True)
class Fit:
    """The fitted values, the runs they were fitted to, and how well they fit."""

    values: dict[str, float]
    """``op_ns``, ``sync_ns``, ``receive_ns`` and ``scale:PLATFORM`` for each scaled platform."""
    rows: list[Row]
    experiments: list[str]
    informs: dict[str, list[str]]
    """Parameter → the experiments whose predictions depend on it."""
    evaluations: int
    platforms: dict[str, str]
    """Experiment → the platform it ran on."""

    @property
    def error(self) -> float:
        """Geometric-mean error factor over the calibrate runs (``max(r, 1/r)``)."""
        errs = [r.error for r in self.rows if r.error is not None]
        return math.exp(sum(math.log(e) for e in errs) / len(errs)) if errs else 1.0

    @property
    def worst(self) -> float:
        return max((r.error for r in self.rows if r.error is not None), default=1.0)

    def scale(self, platform: str) -> float | None:
        return self.values.get(f"scale:{platform}")


def _broadcasts(exp: Experiment) -> bool:
    """Whether some run has an actor of two or more members issuing broadcasts."""
    for run in exp.runs:
        for a in exp.actors_for(run):
            if a.count < 2 or a.guest is not None:
                continue
            for item in a.ops:
                o = resolve_op(Arch.AARCH64, parse_op(item)[1])
                if o is not None and o.scope is Scope.IS:
                    return True
    return False


def platform_name(exp: Experiment) -> str:
    """The name of the profile an experiment ran on (its ``platform`` may be a path): what
    ``apply`` finds a fitted scale under."""
    return load_platform(exp.platform, exp.base_dir).name


def free_parameters(calibrate: list[Experiment]) -> list[str]:
    """The shared parameters, then ``scale:P`` for every platform other than the reference
    whose calibrate experiments have concurrent broadcasters, named by profile name."""
    on = {platform_name(e) for e in calibrate if _broadcasts(e)}
    return [*SHARED, *(f"scale:{p}" for p in sorted(on - {REFERENCE}))]


def apply(values: dict[str, float]) -> Callable[[Platform], Platform]:
    """The platform change that substitutes ``values`` (a scale of 1 where none is fitted)."""

    def tweak(plat: Platform) -> Platform:
        k = values.get(f"scale:{plat.name}", 1.0)
        ghz = plat.clock_ghz
        return plat.model_copy(
            update={
                "dvm_op_cycles": values["op_ns"] * k * ghz,
                "dvm_sync_cycles": values["sync_ns"] * k * ghz,
                "dvm_receive_cycles": values["receive_ns"] * ghz,
            }
        )

    return tweak


def fit(record: list[Experiment], progress: Callable[[int, float], None] | None = None) -> Fit:
    """Least squares on log ratios over the ``calibrate`` runs of ``record`` (module docstring)."""
    from scipy.optimize import least_squares

    calibrate = [e for e in record if e.role == "calibrate"]  # validate runs: never read
    names = free_parameters(calibrate)
    weights = {
        e.name: 1.0 / math.sqrt(max(1, sum(r.measured is not None for r in e.runs)))
        for e in calibrate
    }
    calls = 0

    def values_of(theta: np.ndarray) -> dict[str, float]:
        out = dict(zip(names, np.exp(theta).tolist(), strict=True))
        for n in names:
            if n.startswith("scale:"):
                out[n] = out[n] / 100.0
        return out

    def rows_of(theta: np.ndarray) -> list[Row]:
        tweak = apply(values_of(theta))
        return [r for e in calibrate for r in predict_experiment(e, tweak)]

    def residuals(theta: np.ndarray) -> np.ndarray:
        nonlocal calls
        calls += 1
        rows = [r for r in rows_of(theta) if r.ratio is not None]
        res = np.array([math.log(r.ratio) * weights[r.experiment] for r in rows if r.ratio])
        if progress is not None:
            gm = math.exp(float(np.mean([abs(math.log(r.ratio)) for r in rows if r.ratio])))
            progress(calls, gm)
        return res

    start = np.log([START.get(n, 100.0) for n in names])
    lo, hi = math.log(BOUNDS[0]), math.log(BOUNDS[1])
    sol = least_squares(residuals, start, bounds=(lo, hi), x_scale=1.0, diff_step=1e-4)
    jac = np.abs(sol.jac)
    rows_mask = [r.experiment for r in rows_of(sol.x) if r.ratio is not None]
    informs = {
        n: sorted({rows_mask[i] for i in range(len(rows_mask)) if jac[i, j] > 1e-6})
        for j, n in enumerate(names)
    }
    final = values_of(sol.x)
    on = {e.name: platform_name(e) for e in calibrate}
    return Fit(final, rows_of(sol.x), [e.name for e in calibrate], informs, calls, on)


_FIGURE = re.compile(r"^(\s*)([a-z0-9_]+)(\s*=\s*)\{.*\}\s*$")


def _inline(value: float, how: str, text: str) -> str:
    return f"{{ value = {value:g}, {how} = {json.dumps(text, ensure_ascii=False)} }}"


def profile_updates(f: Fit, plat: Platform) -> dict[str, tuple[float, str, str]]:
    """Figure → (value, "source" | "assumption", text) that calibration writes into ``plat``."""
    ghz = plat.clock_ghz
    own = [e for e in f.experiments if e in f.informs.get(f"scale:{plat.name}", [])]
    measured_here = plat.name == REFERENCE or f.scale(plat.name) is not None
    k = f.scale(plat.name) or 1.0
    n = sum(r.measured is not None for r in f.rows)
    err = f"fit error {f.error:.2f}x (geometric mean over {n} calibrate runs, worst {f.worst:.2f}x)"
    scales = [v for n, v in f.values.items() if n.startswith("scale:")] + [1.0]
    span = f"fitted platform scales span {min(scales):.2f}-{max(scales):.2f}x the reference"

    def calibrated(params: list[str], extra: list[str]) -> str:
        exps = sorted({e for p in params for e in f.informs.get(p, [])} | set(extra))
        return f"calibrated: {', '.join(exps)}; {err}"

    def carried(what: str, ns: float) -> str:
        return (
            f"carried over: no calibrate run measures this platform's {what}; the shared value "
            f"{ns:.4g} ns fitted by vtlbsim calibrate ({', '.join(f.experiments)}; {err}) at "
            f"{ghz:g} GHz, latency scale 1 (as the reference {REFERENCE}); {span}"
        )

    out: dict[str, tuple[float, str, str]] = {}
    for fig, par, what in (
        ("dvm_op_cycles", "op_ns", "broadcast-operation latency"),
        ("dvm_sync_cycles", "sync_ns", "DVM Sync latency"),
    ):
        ns = f.values[par] * k
        value = round(ns * ghz)
        if measured_here:
            out[fig] = (value, "source", calibrated([par, f"scale:{plat.name}"], own))
        else:
            out[fig] = (value, "assumption", carried(what, f.values[par]))
    recv = round(f.values["receive_ns"] * ghz)
    informs_recv = f.informs.get("receive_ns", [])
    if any(f.platforms.get(e) == plat.name for e in informs_recv):
        out["dvm_receive_cycles"] = (recv, "source", calibrated(["receive_ns"], []))
    else:
        out["dvm_receive_cycles"] = (
            recv,
            "assumption",
            carried("receiver stall", f.values["receive_ns"]),
        )
    return out


def write_profile(path: Path, updates: dict[str, tuple[float, str, str]]) -> None:
    """Replace the lines of ``updates``' figures in the profile at ``path``, keeping the rest."""
    lines = path.read_text(encoding="utf-8").splitlines()
    done: set[str] = set()
    for i, line in enumerate(lines):
        m = _FIGURE.match(line)
        if m and m.group(2) in updates:
            value, how, text = updates[m.group(2)]
            lines[i] = f"{m.group(1)}{m.group(2)}{m.group(3)}{_inline(value, how, text)}"
            done.add(m.group(2))
    for name in updates:
        if name not in done:
            value, how, text = updates[name]
            lines.append(f"{name} = {_inline(value, how, text)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def targets(only: str | None) -> list[Platform]:
    """The profiles calibration writes: every profile on the search path, or ``only``."""
    names = [only] if only else platform_names()
    return [load_platform(n) for n in names]
