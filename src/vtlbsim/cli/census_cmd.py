"""`vtlbsim census`: count the maintenance a real kernel executes, under QEMU (docs/census.md)."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

import typer

from .common import app, err_console, fail


def _write_atomically(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would not suit a result meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@app.command()
def census(
    kernel: str = typer.Option(
        ..., "--kernel", help="debian-arm64, debian-armmp or armhf-up (scripts/build-armhf-up.sh)."
    ),
    workload: str = typer.Option(
        ..., "--workload", help="spawn, exec, mmap, jit, idle or shell (docs/census.md)."
    ),
    vcpus: int = typer.Option(1, "--vcpus", min=1, max=8, help="vCPUs of the guest."),
    iterations: int | None = typer.Option(
        None, "--iterations", "-n", min=0, help="Workload iterations (idle: seconds)."
    ),
    cpu: str | None = typer.Option(
        None,
        "--cpu",
        help="The CPU model (each kernel has one today: cortex-a57 for arm64, cortex-a15 for armhf).",
    ),
    out: Path = typer.Option(Path("out/census"), "--out", help="Directory for the JSON and TOML."),
    as_json: bool = typer.Option(False, "--json", help="Also print the census JSON."),
    cache: Path | None = typer.Option(
        None, "--cache", help="Download/build cache (default ~/.cache/vtlbsim/census)."
    ),
    symbols: bool = typer.Option(
        True, "--symbols/--no-symbols", help="Dump the guest's kallsyms to name the sites."
    ),
    hypervisor: str | None = typer.Option(
        None,
        "--hypervisor",
        help="xen: boot Xen 4.17 on --vcpus pCPUs with the kernel as a VM (arm64: dom0; arm32: "
        "a dom0less domU, AArch32 on the Armv8 core).",
    ),
    guest_vcpus: int = typer.Option(
        4, "--guest-vcpus", min=1, max=64, help="With --hypervisor: the VM's vCPUs."
    ),
    timeout: float = typer.Option(
        900.0, "--timeout", min=1.0, help="Seconds to reach the first marker (and again per phase)."
    ),
) -> None:
    """Boot a real kernel under QEMU with the census plugin, run a workload between two markers,
    and write what it executed: counts per phase and vCPU (JSON) and a guest rate profile (TOML)."""
    from ..census import initramfs, rates
    from ..census.fetch import CensusError, cache_dir
    from ..census.run import Request
    from ..census.run import census as run_census

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # so that QEMU is stopped and the run's scratch files removed

    signal.signal(signal.SIGTERM, stop)
    if workload not in initramfs.WORKLOADS:
        fail(
            f"--workload: unknown workload {workload!r} (expected one of: {', '.join(initramfs.WORKLOADS)})"
        )
    n = initramfs.DEFAULT_ITERATIONS[workload] if iterations is None else iterations
    req = Request(
        kernel, workload, vcpus, n, cpu, symbols, cache_dir(cache), timeout, timeout * 4,
        hypervisor, guest_vcpus,
    )  # fmt: skip
    start = time.monotonic()

    def progress(message: str) -> None:
        err_console.print(f"census [{time.monotonic() - start:6.1f} s] {message}")

    try:
        result = run_census(req, progress)
        profile = rates.profile_toml(result)
    except CensusError as exc:
        fail(str(exc))
    stem = f"{result['kernel']}.{result['cpu']}.{workload}.{vcpus}vcpu"
    if hypervisor:
        stem = f"{hypervisor}.{result['kernel']}.{workload}.{vcpus}pcpu.{guest_vcpus}vcpu"
    json_path, toml_path = out / f"{stem}.json", out / f"{stem}.toml"
    text = json.dumps(result, indent=1) + "\n"
    _write_atomically(json_path, text)
    _write_atomically(toml_path, profile)
    if as_json:
        print(text, end="")
    else:
        w = result["phases"]["workload"]
        maint = {k: v for k, v in w["counts"].items() if rates.is_maintenance(k)}
        where = (
            f"{vcpus} vCPU"
            if not hypervisor
            else (f"{hypervisor}, {guest_vcpus} vCPU on {vcpus} pCPUs")
        )
        print(
            f"{kernel} {workload} on {where} ({result['cpu']}): workload phase "
            f"{w['instructions']:,} instructions, {w['processes']} processes, "
            f"{w['guest_seconds']} guest s"
        )
        for k, v in sorted(maint.items(), key=lambda kv: -kv[1]):
            print(f"  {k:<14} {v:>10,}")
    err_console.print(f"census: wrote {json_path} and {toml_path}")
