"""Every key of every study-spec section is validated (issue 14 item 4): a bad value of each
key, written by hand below, is refused with one line naming the file, the key's line and the
key; a key that is not in the table makes the completeness test fail, so a new spec key must
come with its bad case. The `[report]` section's names must be swept by the study."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from vtlbsim.study.spec import (
    Axes,
    Fixed,
    Mix,
    MixDomain,
    ReportSpec,
    SpecError,
    StudySpec,
    load_spec,
)

BASE = """\
name = "t"
title = "a title"
description = "what it asks"
evaluator = "vtlbsim.cost:evaluate"
safety = "vtlbsim.check.matrix:safe"

[axes]
platforms = ["thunderx-cn8890-2s"]
pcpus = [8, 16]
policies = ["fb", "flush-on-migrate"]
migration_rates = [1, 10, 100]
timeslices_ms = [10]
seeds = [0]
modes = ["analytic"]
workloads = []

[fixed]
duration_s = 1.0
scheduler = "random-migrate"
timeslice_ms = 10
sample = 0.5

[[mixes]]
name = "up"
domains = [{ kind = "linux-arm32-up", per_pcpu = 1.5, vcpus = 1 }]

[report]
migration_rate = 10
pcpus = 16
baseline = "fb"
challenger = "flush-on-migrate"
"""

# (section, key) -> (the line as written in BASE, a bad line, what the error must say)
BAD: dict[tuple[str, str], tuple[str, str, str]] = {
    ("", "name"): ('name = "t"', 'name = "t t"', "name: String should match"),
    ("", "title"): ('title = "a title"', "title = 3", "title: Input should be a valid string"),
    ("", "description"): (
        'description = "what it asks"',
        "description = [1]",
        "description: Input should be a valid string",
    ),
    ("", "evaluator"): (
        'evaluator = "vtlbsim.cost:evaluate"',
        'evaluator = "vtlbsim.cost"',
        "evaluator: String should match",
    ),
    ("", "safety"): (
        'safety = "vtlbsim.check.matrix:safe"',
        'safety = "safe"',
        "safety: String should match",
    ),
    ("axes", "platforms"): (
        'platforms = ["thunderx-cn8890-2s"]',
        "platforms = []",
        "axes.platforms: List should have at least 1 item",
    ),
    ("axes", "pcpus"): ("pcpus = [8, 16]", "pcpus = [8, 0]", "axes.pcpus: every core count"),
    ("axes", "policies"): (
        'policies = ["fb", "flush-on-migrate"]',
        'policies = ["fb", "fb"]',
        "axes.policies: values must be distinct",
    ),
    ("axes", "migration_rates"): (
        "migration_rates = [1, 10, 100]",
        "migration_rates = [1, -10, 100]",
        "axes.migration_rates: every rate must be >= 0",
    ),
    ("axes", "timeslices_ms"): (
        "timeslices_ms = [10]",
        "timeslices_ms = [0]",
        "axes.timeslices_ms: every timeslice must be > 0",
    ),
    ("axes", "seeds"): ("seeds = [0]", 'seeds = ["zero"]', "axes.seeds[0]: Input should be"),
    ("axes", "modes"): ('modes = ["analytic"]', 'modes = ["fast"]', "axes.modes[0]: expected"),
    ("axes", "workloads"): ("workloads = []", "workloads = 3", "axes.workloads: Input should"),
    ("fixed", "duration_s"): ("duration_s = 1.0", "duration_s = 0", "fixed.duration_s: Input"),
    ("fixed", "scheduler"): (
        'scheduler = "random-migrate"',
        'scheduler = "fair"',
        "fixed.scheduler: expected one of",
    ),
    ("fixed", "timeslice_ms"): (
        "timeslice_ms = 10",
        "timeslice_ms = -1",
        "fixed.timeslice_ms: Input should be greater than 0",
    ),
    ("fixed", "sample"): ("sample = 0.5", "sample = 2", "fixed.sample: Input should be less"),
    ("mixes", "name"): ('name = "up"', 'name = "u p"', "mixes[0].name: String should match"),
    ("mixes", "domains"): (
        'domains = [{ kind = "linux-arm32-up", per_pcpu = 1.5, vcpus = 1 }]',
        "domains = []",
        "mixes[0].domains: List should have at least 1 item",
    ),
    ("domains", "kind"): ('kind = "linux-arm32-up"', 'kind = ""', "domains[0].kind: String"),
    ("domains", "count"): ("per_pcpu = 1.5", "count = 0", "domains[0].count: Input should be"),
    ("domains", "per_pcpu"): ("per_pcpu = 1.5", "per_pcpu = 0", "domains[0].per_pcpu: Input"),
    ("domains", "vcpus"): ("vcpus = 1 }", "vcpus = 0 }", "domains[0].vcpus: Input should be"),
    ("report", "migration_rate"): (
        "migration_rate = 10",
        "migration_rate = 20",
        "report.migration_rate: 20 is not a swept rate (expected one of axes.migration_rates: "
        "1, 10, 100)",
    ),
    ("report", "pcpus"): (
        "pcpus = 16\nbaseline",
        "pcpus = 32\nbaseline",
        "report.pcpus: 32 is not a swept core count (expected one of axes.pcpus: 8, 16)",
    ),
    ("report", "baseline"): (
        'baseline = "fb"',
        'baseline = "fbb"',
        "report.baseline: 'fbb' is not a policy of the study (expected one of axes.policies: "
        "fb, flush-on-migrate)",
    ),
    ("report", "challenger"): (
        'challenger = "flush-on-migrate"',
        'challenger = "fb"',
        "report.challenger: expected a policy other than the baseline 'fb'",
    ),
}

SECTIONS = {"": StudySpec, "axes": Axes, "fixed": Fixed, "mixes": Mix, "domains": MixDomain}
SECTIONS["report"] = ReportSpec
PRIVATE = {"source", "base_dir"}  # set by the loader; a spec that writes them is refused


def test_every_key_of_every_section_has_a_bad_case() -> None:
    keys = {
        (sec, k)
        for sec, model in SECTIONS.items()
        for k in model.model_fields
        if k not in PRIVATE and not (sec == "" and k in SECTIONS)
    }
    keys.discard(("", "mixes"))
    assert keys == set(BAD)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "spec.toml"
    p.write_text(text)
    return p


def test_the_base_spec_is_valid(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, BASE))
    assert spec.report.baseline == "fb" and spec.fixed.sample == 0.5


@pytest.mark.parametrize("key", sorted(BAD), ids=lambda k: ".".join(filter(None, k)))
def test_a_bad_value_of_each_key_is_one_line_naming_its_line_and_key(
    tmp_path: Path, key: tuple[str, str]
) -> None:
    good, bad, says = BAD[key]
    assert BASE.count(good) >= 1
    text = _rewrite(key, good, bad)
    path = _write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    msg = str(err.value)
    assert "\n" not in msg and says in msg, msg
    m = re.match(rf"{re.escape(str(path))}:(\d+): ", msg)
    assert m, msg
    assert bad.split("\n")[0].split("=")[0].strip() in text.splitlines()[int(m.group(1)) - 1]


def _rewrite(key: tuple[str, str], good: str, bad: str) -> str:
    """BASE with the line of ``key`` (in its own section) replaced."""
    sec = {"": "", "mixes": "[[mixes]]", "domains": "[[mixes]]"}.get(key[0], f"[{key[0]}]")
    start = BASE.index(sec) if sec else 0
    at = BASE.index(good, start)
    return BASE[:at] + bad + BASE[at + len(good) :]


def test_unknown_key_in_every_section(tmp_path: Path) -> None:
    for sec in ("[axes]", "[fixed]", "[report]", "[[mixes]]"):
        path = _write(tmp_path, BASE.replace(sec, f"{sec}\ncolour = 3"))
        with pytest.raises(SpecError, match=r":\d+: .*colour: unknown field"):
            load_spec(path)


def test_default_report_policies_need_not_be_swept(tmp_path: Path) -> None:
    """Without a [report] naming them, a study of other policies is valid (no crossover)."""
    text = BASE.split("[report]")[0].replace(
        'policies = ["fb", "flush-on-migrate"]', 'policies = ["none", "xen"]'
    )
    assert load_spec(_write(tmp_path, text)).axes.policies == ["none", "xen"]


def test_bad_report_key_exits_2_with_one_line(tmp_path: Path) -> None:
    """The issue's 'done when': `vtlbsim study` on a spec with a bad [report] key."""
    path = _write(tmp_path, BASE.replace('baseline = "fb"', 'baseline = "fbb"'))
    res = subprocess.run(
        [sys.executable, "-m", "vtlbsim", "study", str(path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "report.baseline: 'fbb'" in res.stderr
    assert not (tmp_path / "o" / "results.duckdb").exists()
