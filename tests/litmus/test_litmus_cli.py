"""`vtlbsim litmus` and `vtlbsim policies` through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from vtlbsim.hyp import registry

ROOT = Path(__file__).resolve().parents[2]
H1 = ROOT / "examples" / "litmus" / "h1-data-arm32-up.toml"

USER_POLICY = """
from vtlbsim.hyp.policy import FB, Policy

class AlwaysFb(Policy):
    name = "always-fb"
    summary = "a user's copy of fb"
    def hcr(self, vcpu):
        return FB
    def on_load(self, load):
        return ()
"""


def test_done_when_h1_all_policies_subprocess() -> None:
    """The issue's 'done when': none and last-vcpu-ran unsafe, fb safe, the step explained."""
    res = subprocess.run(
        [sys.executable, "-m", "vtlbsim", "litmus", str(H1), "--all-policies"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    rows = {ln.split()[1]: ln for ln in res.stdout.splitlines() if ln.startswith("│")}
    assert "violation" in rows["none"] and "violation" in rows["last-vcpu-ran"]
    assert "clean" in rows["fb"]
    explained = [ln for ln in res.stdout.splitlines() if ln.startswith("none")]
    assert explained and "step 10" in explained[0] and "stale-tlb" in explained[0]
    assert "tlbimva at step 6" in explained[0]


def test_json_keys(cli: Any) -> None:
    code, out, _ = cli(["litmus", str(H1), "--json"])
    assert code == 0
    obj = json.loads(out)
    assert obj["outcome"] == "violation" and obj["policy"] == "none"
    v = obj["violations"][0]
    for key in (
        "step",
        "line",
        "category",
        "vcpu",
        "pcpu",
        "va",
        "used",
        "legal",
        "filled_by",
        "filled_at_step",
    ):
        assert key in v
    assert (v["step"], v["line"], v["vcpu"], v["pcpu"]) == (10, 15, "g.0", 0)
    assert (v["va"], v["used"], v["legal"]) == ("0x1000", "0xa000", ["0xb000"])
    assert (v["filled_by"], v["filled_at_step"]) == ("g.0", 3)
    assert obj["guest_errors"] == []


def test_all_policies_json_is_a_list(cli: Any) -> None:
    code, out, _ = cli(["litmus", str(H1), "--all-policies", "--json"])
    rows = json.loads(out)
    assert code == 0 and isinstance(rows, list)
    assert {r["policy"] for r in rows} >= {"none", "fb", "trap-ttlb", "xen", "kvm"}


def test_exit_1_when_outcome_differs_from_expect(cli: Any) -> None:
    code, out, _ = cli(["litmus", str(H1), "--policy", "fb"])
    assert code == 1, "the file expects a violation; fb is clean"
    assert "policy fb: clean" in out


def test_user_policy_by_dotted_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    (tmp_path / "mypolicies.py").write_text(USER_POLICY)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = cli(["litmus", str(H1), "--policy", "mypolicies:AlwaysFb", "--json"])
    assert code == 1  # clean, while the file expects a violation
    assert json.loads(out)["outcome"] == "clean"


def test_user_policy_by_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    (tmp_path / "mypolicies2.py").write_text(USER_POLICY)
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = EntryPoint("always-fb", "mypolicies2:AlwaysFb", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep] if group == ep.group else [])
    code, out, _ = cli(["policies"])
    assert code == 0 and "always-fb" in out and "a user's copy of fb" in out
    code, out, _ = cli(["litmus", str(H1), "--all-policies", "--json"])
    assert {r["policy"]: r["outcome"] for r in json.loads(out)}["always-fb"] == "clean"


def test_policies_lists_every_builtin(cli: Any) -> None:
    code, out, _ = cli(["policies"])
    names = [ln.split()[0] for ln in out.splitlines()]
    assert code == 0
    assert names[:9] == [
        "none",
        "fb",
        "flush-on-switch",
        "flush-on-migrate",
        "flush-1vcpu-only",
        "last-vcpu-ran",
        "fb+last-vcpu-ran",
        "flush-on-arrival",
        "trap-ttlb",
    ]
    assert {"xen", "kvm", "hafnium", "xvisor", "gunyah"} <= set(names)


def test_usage_errors_are_one_line_exit_2() -> None:
    for args in (["litmus", "--bogus"], ["litmus"], ["no-such-command"]):
        res = subprocess.run(
            [sys.executable, "-m", "vtlbsim", *args], capture_output=True, text=True, check=False
        )
        assert res.returncode == 2, args
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("vtlbsim: "), res.stderr
