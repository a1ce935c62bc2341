"""Study specs: validation with one-line errors, expansion, run keys."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtlbsim.study.spec import SpecError, load_spec, spec_from_text
from vtlbsim.study.sweep import expand, model_version, run_key

BASE = """
name = "t"
[axes]
platforms = ["tiny-platform.toml"]
pcpus = [4, 8]
policies = ["fb", "flush-on-migrate"]
migration_rates = [1, 10, 100]
[[mixes]]
name = "up"
domains = [{ kind = "linux-arm32-up", per_pcpu = 1.5, vcpus = 1 }]
"""


def _spec(tmp_path: Path, text: str) -> Path:
    (tmp_path / "tiny-platform.toml").write_text(
        (Path(__file__).parent / "data" / "tiny-platform.toml").read_text()
    )
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_expansion_is_the_product_of_the_axes(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, BASE))
    points = expand(spec)
    assert len(points) == 2 * 1 * 3 * 2  # pcpus x mixes x rates x policies
    # per_pcpu scales the domain count with the core count
    assert {p.pcpus: p.domains[0][1] for p in points} == {4: 6, 8: 12}
    keys = {run_key(p, model_version()) for p in points}
    assert len(keys) == len(points)


def test_run_key_depends_on_model_version(tmp_path: Path) -> None:
    p = expand(load_spec(_spec(tmp_path, BASE)))[0]
    assert run_key(p, "a") == run_key(p, "a")
    assert run_key(p, "a") != run_key(p, "b")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("pcpus = [4, 8]", "pcpus = [4, 0]"), "axes"),
        (('name = "t"', 'name = "t"\ncolour = 3'), "colour: unknown field"),
        (("per_pcpu = 1.5, ", "per_pcpu = 1.5, count = 2, "), "mixes[0].domains[0]"),
        (('policies = ["fb", "flush-on-migrate"]', "policies = []"), "axes.policies"),
        (("platforms", "platformz"), "axes.platforms: required field is missing"),
        (("[[mixes]]", "[[mixes]"), "not valid TOML"),
    ],
)
def test_bad_specs_give_one_line_naming_the_field(
    tmp_path: Path, edit: tuple[str, str], field: str
) -> None:
    path = _spec(tmp_path, BASE.replace(*edit))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(path)) and field in msg


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (('"fb",', '"no-such-policy",'), "axes.policies[0]: unknown policy"),
        (("linux-arm32-up", "linux-arm99"), "unknown guest kind 'linux-arm99'"),
        (("tiny-platform.toml", "nowhere.toml"), "axes.platforms"),
    ],
)
def test_unknown_names_are_reported_before_running(
    tmp_path: Path, edit: tuple[str, str], expect: str
) -> None:
    spec = load_spec(_spec(tmp_path, BASE.replace(*edit)))
    with pytest.raises(SpecError, match=expect.replace("[", r"\[").replace("]", r"\]")):
        expand(spec)


def test_cli_bad_spec_exits_2_with_one_line(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = _spec(tmp_path, BASE.replace("pcpus = [4, 8]", 'pcpus = "many"'))
    code, out, err = cli(["study", str(path), "--out", str(tmp_path / "o")])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "axes.pcpus" in err and "Traceback" not in err


@settings(max_examples=40, deadline=None)
@given(
    per_pcpu=st.floats(min_value=0.01, max_value=8, allow_nan=False),
    pcpus=st.integers(min_value=1, max_value=256),
)
def test_per_pcpu_count_is_rounded_and_at_least_one(per_pcpu: float, pcpus: int) -> None:
    text = BASE.replace("per_pcpu = 1.5", f"per_pcpu = {per_pcpu!r}").replace(
        "pcpus = [4, 8]", f"pcpus = [{pcpus}]"
    )
    spec = spec_from_text(text, "mem.toml")
    d = spec.mixes[0].domains[0]
    n = d.count_for(pcpus)
    assert n >= 1 and abs(n - max(1.0, per_pcpu * pcpus)) <= 0.5 + 1e-9 or n == 1
    assert not math.isnan(n)


@pytest.mark.parametrize(
    ("option", "expect"),
    [(["--workers", "-2"], "--workers: expected 0"), (["--scheduler", "host"], "--scheduler")],
)
def test_bad_options_are_one_line(tmp_path: Path, cli, option: list[str], expect: str) -> None:  # type: ignore[no-untyped-def]
    path = _spec(tmp_path, BASE)
    code, _, err = cli(["study", str(path), "--out", str(tmp_path / "o"), *option])
    assert code == 2 and err.startswith(f"vtlbsim: {expect}") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # refused before anything was created
