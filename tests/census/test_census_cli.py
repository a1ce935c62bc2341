"""`vtlbsim census` on bad input, through the real command line: one line on stderr, exit code 2,
and nothing written. The host tools it calls (dpkg, apt-cache, apt-get, QEMU) are replaced by
small fakes on PATH so that each failure is produced on purpose, on any machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FAKE_TOOLS = {
    "dpkg": """#!/bin/sh
case "$1" in
  --print-architecture) echo amd64;;
  --print-foreign-architectures) printf 'arm64\\narmhf\\n';;
  *) exit 2;;
esac
""",
    "apt-get": "#!/bin/sh\nexit 100\n",
}
APT_CACHE_NONE = (
    '#!/bin/sh\n[ "$1" = policy ] && printf \'%s:\\n  Candidate: (none)\\n\' "$2"\nexit 0\n'
)
APT_CACHE_OK = """#!/bin/sh
case "$1" in
  policy) printf '%s:\\n  Candidate: 9.9\\n' "$2";;
  depends) echo "$4"; echo "  Depends: linux-image-6.1.0-99-arm64:arm64";;
esac
"""
FAKE_QEMU = """#!{python}
import sys, time
args = sys.argv[1:]
if args == ["--version"]:
    print("QEMU emulator version 7.2.0 (fake)")
    sys.exit(0)
console = args[args.index("-serial") + 1].removeprefix("file:")
with open(console, "w") as fh:
    fh.write({console_text!r})
time.sleep(120)
"""


def _fakes(tmp: Path, apt_cache: str, console_text: str = "") -> dict[str, str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    tools = dict(FAKE_TOOLS, **{"apt-cache": apt_cache})
    qemu = FAKE_QEMU.format(python=sys.executable, console_text=console_text)
    tools["qemu-system-aarch64"] = qemu
    for name, text in tools.items():
        p = bin_dir / name
        p.write_text(text)
        p.chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def _census(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vtlbsim", "census", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def _one_line_exit_2(res: subprocess.CompletedProcess[str], *words: str) -> None:
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("vtlbsim:")]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--kernel", "debian-arm64", "--workload", "compile"], ["unknown workload", "spawn"]),
        (["--kernel", "windows", "--workload", "spawn"], ["unknown kernel", "debian-armmp"]),
        (["--kernel", "debian-arm64", "--workload", "spawn", "--hypervisor", "kvm"], ["xen"]),
        (
            ["--kernel", "debian-armmp", "--workload", "spawn", "--cpu", "cortex-a57"],
            ["cortex-a15"],
        ),
    ],
)
def test_bad_options(tmp_path: Path, args: list[str], words: list[str]) -> None:
    res = _census([*args, "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")])
    _one_line_exit_2(res, *words)
    assert not (tmp_path / "out").exists()


def test_a_package_apt_cannot_provide(tmp_path: Path) -> None:
    env = _fakes(tmp_path, APT_CACHE_NONE)
    res = _census(
        ["--kernel", "debian-arm64", "--workload", "spawn", "--out", str(tmp_path / "out"),
         "--cache", str(tmp_path / "cache")],
        env,
    )  # fmt: skip
    _one_line_exit_2(res, "linux-image-arm64:arm64", "not available")
    assert not (tmp_path / "out").exists()


def test_the_up_kernel_must_be_built_first(tmp_path: Path) -> None:
    res = _census(
        ["--kernel", "armhf-up", "--workload", "spawn", "--cache", str(tmp_path / "cache"),
         "--out", str(tmp_path / "out")]
    )  # fmt: skip
    _one_line_exit_2(res, "build-armhf-up.sh")


def _cache_with_packages(cache: Path) -> None:
    kernel = cache / "pkgs" / "linux-image-6.1.0-99-arm64_9.9_arm64" / "boot"
    kernel.mkdir(parents=True)
    (kernel / "vmlinuz-6.1.0-99-arm64").write_bytes(b"not a kernel")
    bb = cache / "pkgs" / "busybox-static_9.9_arm64" / "bin"
    bb.mkdir(parents=True)
    (bb / "busybox").write_bytes(b"not busybox")


needs_cc = pytest.mark.skipif(
    shutil.which("cc") is None or shutil.which("make") is None, reason="builds the plugin"
)


@needs_cc
@pytest.mark.parametrize(
    ("console", "words"),
    [
        ("", ["did not reach its first marker within 2 s"]),
        ("census: boot processes=1 ctxt=1 uptime=1.0 cpu=0,0,0,0,0,0,0\n",
         ["workload never reached its marker within 8 s", "census: boot"]),
    ],
)  # fmt: skip
def test_a_guest_that_stops_short(tmp_path: Path, console: str, words: list[str]) -> None:
    cache = tmp_path / "cache"
    _cache_with_packages(cache)
    env = _fakes(tmp_path, APT_CACHE_OK, console)
    res = _census(
        ["--kernel", "debian-arm64", "--workload", "spawn", "--timeout", "2",
         "--out", str(tmp_path / "out"), "--cache", str(cache)],
        env,
    )  # fmt: skip
    _one_line_exit_2(res, *words)
    assert not (tmp_path / "out").exists()
    assert list((cache / "runs").iterdir()) == []  # the run's scratch directory is gone
