"""What ``vtlbsim calibrate`` writes into a profile (cost/calibrate.py), by hand from a made-up
fit: the values (ns × GHz × the platform's scale, rounded), "source" where the platform's own
calibrate runs measure a figure and "assumption" (carried over) where none does, each text as
the user reads it; the profile file rewritten line by line; which platforms get a scale.

The fit (``FIT``): ``op_ns`` 212.34, ``sync_ns`` 500, ``receive_ns`` 100, ``scale:thunderx2-2s``
2; two measured calibrate runs with errors 2 (predicted 200 for 100) and 4.5 (100 for 450), so
the geometric mean is sqrt(2 × 4.5) = 3.00 and the worst 4.50; experiment ``a`` ran on the
reference kunpeng920-2s and informs ``op_ns`` and ``sync_ns``; ``b`` ran on thunderx2-2s and
informs ``sync_ns``, ``receive_ns`` and its scale. Every platform below runs at 2 GHz.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vtlbsim.cost.calibrate import (
    REFERENCE,
    Fit,
    apply,
    free_parameters,
    profile_updates,
    targets,
    write_profile,
)
from vtlbsim.cost.experiment import Experiment, experiment_from_text
from vtlbsim.cost.platform import Platform, load_platform, platform_names
from vtlbsim.cost.published import Row

ROUND = str(Path(__file__).parent / "data" / "anchor-round.toml")
ERR = "fit error 3.00x (geometric mean over 2 calibrate runs, worst 4.50x)"
FIT = Fit(
    values={"op_ns": 212.34, "sync_ns": 500.0, "receive_ns": 100.0, "scale:thunderx2-2s": 2.0},
    rows=[
        Row("a", "r1", "calibrate", "iteration_ns", "x", 100.0, 200.0),
        Row("b", "r1", "calibrate", "iteration_ns", "x", 450.0, 100.0),
        Row("b", "r2", "calibrate", "iteration_ns", "x", None, 7.0),
    ],
    experiments=["a", "b"],
    informs={
        "op_ns": ["a"],
        "sync_ns": ["a", "b"],
        "receive_ns": ["b"],
        "scale:thunderx2-2s": ["b"],
    },
    evaluations=9,
    platforms={"a": "kunpeng920-2s", "b": "thunderx2-2s"},
)


def _plat(name: str) -> Platform:
    return load_platform(ROUND).model_copy(update={"name": name, "clock_ghz": 2.0})


def test_the_fit_s_error_worst_and_scale() -> None:
    assert FIT.error == pytest.approx(3.0)
    assert FIT.worst == 4.5
    assert FIT.scale("thunderx2-2s") == 2.0 and FIT.scale("graviton2") is None
    empty = Fit({}, [], [], {}, 0, {})
    assert (empty.error, empty.worst) == (1.0, 1.0)


def test_the_reference_platform() -> None:
    """kunpeng920-2s, the reference: scale 1; op 212.34 ns × 2 GHz = 424.68 → 425 cycles, Sync
    500 × 2 = 1000, both measured here (sources: the experiments informing op_ns → a; sync_ns →
    a, b); the receive stall is informed only by b, which ran elsewhere: carried over, 200."""
    assert REFERENCE == "kunpeng920-2s"
    up = profile_updates(FIT, _plat("kunpeng920-2s"))
    assert up == {
        "dvm_op_cycles": (425, "source", f"calibrated: a; {ERR}"),
        "dvm_sync_cycles": (1000, "source", f"calibrated: a, b; {ERR}"),
        "dvm_receive_cycles": (
            200,
            "assumption",
            "carried over: no calibrate run measures this platform's receiver stall; the shared "
            f"value 100 ns fitted by vtlbsim calibrate (a, b; {ERR}) at 2 GHz, latency scale 1 "
            "(as the reference kunpeng920-2s); fitted platform scales span 1.00-2.00x the "
            "reference",
        ),
    }


def test_a_platform_with_its_own_scale() -> None:
    """thunderx2-2s, scale 2: op 212.34 × 2 × 2 = 849.36 → 849, Sync 500 × 2 × 2 = 2000, their
    sources add b (its scale's experiment); receive 100 × 2 = 200 (no scale), measured by b,
    which ran here: a source."""
    up = profile_updates(FIT, _plat("thunderx2-2s"))
    assert up == {
        "dvm_op_cycles": (849, "source", f"calibrated: a, b; {ERR}"),
        "dvm_sync_cycles": (2000, "source", f"calibrated: a, b; {ERR}"),
        "dvm_receive_cycles": (200, "source", f"calibrated: b; {ERR}"),
    }


def test_a_platform_nothing_measured_carries_every_figure_over() -> None:
    """graviton2: no scale, not the reference: every figure at scale 1 (425, 1000, 200), each an
    assumption that names what no run measures and the shared value (4 significant figures)."""
    up = profile_updates(FIT, _plat("graviton2"))

    def carried(what: str, ns: str) -> str:
        return (
            f"carried over: no calibrate run measures this platform's {what}; the shared value "
            f"{ns} ns fitted by vtlbsim calibrate (a, b; {ERR}) at 2 GHz, latency scale 1 (as "
            "the reference kunpeng920-2s); fitted platform scales span 1.00-2.00x the reference"
        )

    assert up == {
        "dvm_op_cycles": (425, "assumption", carried("broadcast-operation latency", "212.3")),
        "dvm_sync_cycles": (1000, "assumption", carried("DVM Sync latency", "500")),
        "dvm_receive_cycles": (200, "assumption", carried("receiver stall", "100")),
    }


def test_apply_substitutes_the_values_times_the_scale() -> None:
    """At 2 GHz: thunderx2-2s (scale 2) op 212.34 × 2 × 2 = 849.36, Sync 2000, receive 200 (a
    receiver's stall is not scaled); another platform: scale 1 (424.68, 1000, 200). Every other
    figure is the platform's."""
    tweak = apply(FIT.values)
    tx2 = tweak(_plat("thunderx2-2s"))
    assert tx2.dvm_op_cycles == pytest.approx(849.36)
    assert (tx2.dvm_sync_cycles, tx2.dvm_receive_cycles) == (2000.0, 200.0)
    other = tweak(_plat("graviton2"))
    assert other.dvm_op_cycles == pytest.approx(424.68)
    assert (other.dvm_sync_cycles, other.dvm_receive_cycles) == (1000.0, 200.0)
    assert other.tlbi_local_cycles == 100.0 and other.name == "graviton2"


def test_write_profile_replaces_the_figures_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    """A figure's line is rewritten in place (its indentation and spacing around ``=`` kept,
    the text JSON-quoted, non-ASCII kept); a figure the file lacks is appended; every other
    line, comments included, stays."""
    p = tmp_path / "p.toml"
    p.write_text(
        'name = "p"\n'
        "# DVM figures\n"
        'dvm_op_cycles = { value = 1, source = "old" }\n'
        '  dvm_sync_cycles  =  { value = 2, assumption = "old" }\n'
        'cores = { value = 4, source = "x" }\n'
    )
    write_profile(
        p,
        {
            "dvm_op_cycles": (425, "source", 'calibrated: a "quoted" é'),
            "dvm_sync_cycles": (1000, "assumption", "t"),
            "dvm_receive_cycles": (200.5, "assumption", "new"),
        },
    )
    assert p.read_text(encoding="utf-8") == (
        'name = "p"\n'
        "# DVM figures\n"
        'dvm_op_cycles = { value = 425, source = "calibrated: a \\"quoted\\" é" }\n'
        '  dvm_sync_cycles  =  { value = 1000, assumption = "t" }\n'
        'cores = { value = 4, source = "x" }\n'
        'dvm_receive_cycles = { value = 200.5, assumption = "new" }\n'
    )


def test_targets_are_the_named_profile_or_every_profile() -> None:
    assert [p.name for p in targets("cortex-a57-juno")] == ["cortex-a57-juno"]
    assert [p.name for p in targets(None)] == platform_names()


EXP = """name = "e"
source = "a test"
platform = "PLATFORM"
role = "calibrate"
[[actors]]
name = "x"
count = COUNT
ops = ["OPS"]
GUEST
[[runs]]
name = "r"
measured = { metric = "iteration_ns", actor = "x", value = 1 }
"""


def _exp(platform: str, count: int, ops: str, guest: bool = False) -> Experiment:
    text = (
        EXP.replace("PLATFORM", platform)
        .replace("COUNT", str(count))
        .replace("OPS", ops)
        .replace(
            "GUEST",
            'guest = { kind = "linux-arm64-smp", policy = "fb", vcpus = 2 }' if guest else "",
        )
    )
    return experiment_from_text(text, "e.toml")


def test_a_scale_only_for_platforms_measuring_concurrent_broadcasters() -> None:
    """A platform gets a latency scale when one of its calibrate experiments has an actor of two
    or more bare-metal members issuing an IS instruction: graviton2 (2 × vae1is) does;
    ampere-altra-q80 with one issuer, thunderx2-2s with a local vae1 only, and cortex-a57-juno
    with a guest actor (its instructions pass through a policy) do not; nor does the reference,
    whatever it runs. Sorted, after the shared parameters."""
    exps = [
        _exp("graviton2", 2, "2*vae1is"),
        _exp("graviton2", 3, "vmalle1is"),
        _exp("ampere-altra-q80", 1, "vae1is"),
        _exp("thunderx2-2s", 4, "vae1"),
        _exp("cortex-a57-juno", 2, "vae1is", guest=True),
        _exp("kunpeng920-2s", 8, "vae1is"),
        _exp("thunderx-cn8890-2s", 2, "dsb"),
        _exp("cortex-a57-juno", 2, "vale1is"),
    ]
    assert free_parameters(exps) == [
        "op_ns",
        "sync_ns",
        "receive_ns",
        "scale:cortex-a57-juno",
        "scale:graviton2",
    ]
    assert free_parameters(exps[2:5]) == ["op_ns", "sync_ns", "receive_ns"]
