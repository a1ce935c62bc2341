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

from collections.abc import Iterator
from pathlib import Path

import pytest

from vtlbsim.cost.calibrate import (
    REFERENCE,
    Fit,
    apply,
    fit,
    free_parameters,
    profile_updates,
    targets,
    write_profile,
)
from vtlbsim.cost.experiment import Experiment, experiment_from_text
from vtlbsim.cost.platform import Platform, forget_profiles, load_platform, platform_names
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


@pytest.fixture(autouse=True)
def _forget_loaded_profiles() -> Iterator[None]:
    """Profiles loaded here by name stay out of the cache of the tests that follow (``vtlbsim
    calibrate --profiles DIR`` expects to read DIR's copy of a profile it has not loaded)."""
    yield
    forget_profiles()


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


def test_a_scale_from_a_later_actor_or_a_run_s_override() -> None:
    """The concurrent broadcasters may be the second actor (a lone issuer before them does not
    hide them: thunderx-cn8890-2s), or appear only in a run that sets a lone issuer's count
    to 2 (standin-arm-server-128)."""
    later = experiment_from_text(
        EXP.replace("PLATFORM", "thunderx-cn8890-2s")
        .replace("COUNT", "1")
        .replace("OPS", "vae1is")
        .replace("GUEST", '[[actors]]\nname = "y"\ncount = 2\nops = ["vae1is"]'),
        "e.toml",
    )
    override = experiment_from_text(
        EXP.replace("PLATFORM", "standin-arm-server-128")
        .replace("COUNT", "1")
        .replace("OPS", "vae1is")
        .replace("GUEST", "")
        .replace('name = "r"', 'name = "r"\nset = { "x.count" = 2 }'),
        "e.toml",
    )
    assert free_parameters([later, override]) == [
        "op_ns",
        "sync_ns",
        "receive_ns",
        "scale:standin-arm-server-128",
        "scale:thunderx-cn8890-2s",
    ]


def test_a_platform_given_by_path_is_scaled_under_its_profile_name() -> None:
    """An experiment may name its platform by a path to the profile; ``apply`` finds a fitted
    scale under the profile's ``name``, so the scale must be named so too. anchor-round (1 GHz)
    given by path with 2 × vae1is gets ``scale:anchor-round``; a scale of 2 then doubles its
    operation and Sync: op 500 ns × 2 × 1 GHz = 1000 cycles, Sync 1000 × 2 = 2000, while
    ``receive_ns`` 100 is never scaled (100 cycles)."""
    exps = [_exp(ROUND, 2, "vae1is")]
    assert free_parameters(exps) == ["op_ns", "sync_ns", "receive_ns", "scale:anchor-round"]
    values = {"op_ns": 500.0, "sync_ns": 1000.0, "receive_ns": 100.0, "scale:anchor-round": 2.0}
    plat = apply(values)(load_platform(ROUND))
    assert (plat.dvm_op_cycles, plat.dvm_sync_cycles, plat.dvm_receive_cycles) == (
        1000.0,
        2000.0,
        100.0,
    )


def _record(name: str, measured: list[tuple[str, float]], role: str = "calibrate") -> Experiment:
    """A lone issuer (work 0) on anchor-round (1 GHz, one socket: a call of N × vae1is costs
    N × op + Sync, in ns), one run per (ops, measured ns)."""
    runs = "".join(
        f'[[runs]]\nname = "r{i}"\nset = {{ "a.ops" = ["{ops}"] }}\n'
        f'measured = {{ metric = "iteration_ns", actor = "a", value = {v} }}\n'
        for i, (ops, v) in enumerate(measured)
    )
    text = (
        f'name = "{name}"\nsource = "t"\nplatform = "{ROUND}"\nrole = "{role}"\n'
        '[[actors]]\nname = "a"\ncount = 1\nops = ["vae1is"]\n' + runs
    )
    return experiment_from_text(text, f"{name}.toml")


def test_fit_recovers_the_latencies_that_produced_the_measurements() -> None:
    """Measured 1500 ns for one vae1is and 2000 for two: op + sync = 1500, 2 op + sync = 2000,
    so op 500 and Sync 1000 fit exactly (every error 1). Nothing here receives a broadcast, so
    ``receive_ns`` informs nothing and stays at its start, 100; a validate experiment that
    says otherwise is not read."""
    seen: list[tuple[int, float]] = []
    f = fit(
        [
            _record("e", [("vae1is", 1500), ("2*vae1is", 2000)]),
            _record("v", [("vae1is", 9000)], role="validate"),
        ],
        progress=lambda calls, gm: seen.append((calls, gm)),
    )
    assert f.values["op_ns"] == pytest.approx(500.0, rel=1e-4)
    assert f.values["sync_ns"] == pytest.approx(1000.0, rel=1e-4)
    assert f.values["receive_ns"] == pytest.approx(100.0)
    assert f.informs == {"op_ns": ["e"], "sync_ns": ["e"], "receive_ns": []}
    assert (f.experiments, f.platforms) == (["e"], {"e": "anchor-round"})  # by profile name
    assert [r.run for r in f.rows] == ["r0", "r1"] and f.error == pytest.approx(1.0, abs=1e-6)
    assert f.evaluations == len(seen) and [c for c, _ in seen] == list(range(1, len(seen) + 1))
    assert seen[0][1] > 1.0 and seen[-1][1] == pytest.approx(1.0, abs=1e-6)


def test_every_experiment_weighs_alike_whatever_its_number_of_runs() -> None:
    """e1: one vae1is measured 1500, two measured 2000; e2: one vae1is measured 1815 = 1500 ×
    1.21, four times. Each run's log error is weighted 1/sqrt(runs of its experiment) (squared:
    1/2 for e1's runs, 1/4 for e2's), so the one-vae1is time p minimises
    (ln p/1500)^2 / 2 + 4 × (ln p/1815)^2 / 4: ln p = (ln 1500 / 2 + ln 1815) / 1.5, p = 1500 ×
    1.21^(2/3) = 1500 × 1.13551 = 1703.27; the two-vae1is run alone pins 2 op + sync = 2000, so
    op = 2000 - 1703.27 = 296.73 and Sync = 1703.27 - 296.73 = 1406.54. (Unweighted, e2's four
    runs would pull p to 1500 × 1.21^0.8 = 1746.96 and op to 253.04.)"""
    f = fit(
        [
            _record("e1", [("vae1is", 1500), ("2*vae1is", 2000)]),
            _record("e2", [("vae1is", 1815)] * 4),
        ]
    )
    assert f.values["op_ns"] == pytest.approx(296.73, rel=1e-3)
    assert f.values["sync_ns"] == pytest.approx(1406.54, rel=1e-3)
    # e2 measured once weighs the same as e2 measured four times (weight 1 = 4 × 1/4)
    once = fit(
        [
            _record("e1", [("vae1is", 1500), ("2*vae1is", 2000)]),
            _record("e2", [("vae1is", 1815)]),
        ]
    )
    assert once.values["op_ns"] == pytest.approx(296.73, rel=1e-3)
    assert once.values["sync_ns"] == pytest.approx(1406.54, rel=1e-3)
