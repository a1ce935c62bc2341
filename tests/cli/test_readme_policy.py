"""The README's own-policy example runs as written (issue 14 item 5): the class the README
shows is the one in examples/policy-package, the command it shows gives the output it shows,
and the package's entry point names a class that loads."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PACKAGE = ROOT / "examples" / "policy-package"


def _section() -> str:
    start = README.index("**3. Your own policy**")
    return README[start : README.index("**4.", start)]


def test_the_class_shown_is_the_example_file() -> None:
    code = re.search(r"```python\n(.*?)```", _section(), re.S)
    assert code
    assert code.group(1).strip() in (PACKAGE / "mypkg" / "mod.py").read_text()


def test_the_command_shown_runs_verbatim_from_the_checkout() -> None:
    block = re.search(r"```text\n\$ (vtlbsim [^\n]+)\n([^\n]+)\n```", _section())
    assert block
    args = shlex.split(block.group(1))[1:]
    res = subprocess.run(
        [sys.executable, "-m", "vtlbsim", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    shown = block.group(2)
    # all but the time taken and the state count (the checker's, which its speed-ups change)
    verdict = re.compile(r"^(.*\): safe up to depth \d+) \(\d+ states\); [\d.]+ s$")
    got, want = verdict.match(res.stdout.strip()), verdict.match(shown)
    assert got and want and got.group(1) == want.group(1), (res.stdout, shown)


def test_the_package_entry_point_loads_by_module_path() -> None:
    meta = tomllib.loads((PACKAGE / "pyproject.toml").read_text())
    target = meta["project"]["entry-points"]["vtlbsim.policies"]["my-flush"]
    assert target == "mypkg.mod:FlushWhenMoved"
    res = subprocess.run(
        [sys.executable, "-m", "vtlbsim", "litmus", "examples/litmus/h2-percpu-tables.toml"]
        + ["--policy", target, "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(PACKAGE)},
        timeout=120,
    )
    assert '"policy": "my-flush"' in res.stdout, res.stderr


def test_a_bad_policy_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("import no_such_module_anywhere\n")
    for spec, says in (
        (f"{bad}:X", "cannot load: ModuleNotFoundError"),
        (f"{tmp_path / 'none.py'}:X", "no such policy file"),
        (f"{PACKAGE / 'mypkg' / 'mod.py'}:Nope", "no class 'Nope'"),
    ):
        res = subprocess.run(
            [sys.executable, "-m", "vtlbsim", "check", "--guest", "linux-arm32-up"]
            + ["--policy", spec],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
        assert says in res.stderr
