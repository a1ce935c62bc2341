"""Getting what the census needs from Debian's archive, into a cache directory.

Kernels and busybox for a foreign architecture are never installed: ``apt-get download`` +
``dpkg -x`` into ``CACHE/pkgs/NAME_VERSION_ARCH``. QEMU is the one package installed on the
host (``apt-get install qemu-system-arm`` when run as root). Adding a foreign architecture to
dpkg (``dpkg --add-architecture``, then ``apt-get update``) is done when run as root; otherwise
the error says which command to run. Every failure is a ``CensusError`` with a one-line message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

Progress = Callable[[str], None]


class CensusError(Exception):
    """A census that cannot be done; ``str()`` is one line saying why."""


ENV_CACHE = "VTLBSIM_CENSUS_CACHE"


def cache_dir(explicit: Path | None = None) -> Path:
    """``explicit``, else $VTLBSIM_CENSUS_CACHE, else $XDG_CACHE_HOME/vtlbsim/census, else
    ~/.cache/vtlbsim/census (what scripts/build-armhf-up.sh writes to)."""
    if explicit is not None:
        return explicit
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vtlbsim" / "census"


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("E:", "dpkg:", "error"))]
    return (errors or lines or ["no output"])[-1]


def run(cmd: list[str], what: str, timeout: float = 900) -> str:
    """Run ``cmd``; its standard output, or a CensusError naming ``what`` and the tool's error."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise CensusError(f"{what}: {cmd[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise CensusError(
            f"{what}: {' '.join(cmd[:3])} did not finish in {timeout:.0f} s"
        ) from None
    if proc.returncode != 0:
        raise CensusError(f"{what}: {_last_line(proc.stderr or proc.stdout)}")
    return proc.stdout


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


_updated = False


def _apt_update(progress: Progress) -> None:
    global _updated
    if _updated:
        return
    progress("apt-get update")
    # A foreign architecture's security index may be mid-sync (seen: bookworm-security armhf):
    # apt then exits non-zero but keeps the indexes it got, which is enough.
    subprocess.run(["apt-get", "update"], capture_output=True, text=True, check=False)
    _updated = True


def ensure_architecture(deb_arch: str, progress: Progress) -> None:
    """dpkg knows ``deb_arch`` (native or foreign); added (root) or a CensusError."""
    native = run(["dpkg", "--print-architecture"], "dpkg").strip()
    foreign = run(["dpkg", "--print-foreign-architectures"], "dpkg").split()
    if deb_arch == native or deb_arch in foreign:
        return
    if not _is_root():
        raise CensusError(
            f"dpkg has no {deb_arch} architecture: run as root "
            f"'dpkg --add-architecture {deb_arch} && apt-get update'"
        )
    progress(f"dpkg --add-architecture {deb_arch}")
    run(["dpkg", "--add-architecture", deb_arch], f"dpkg --add-architecture {deb_arch}")
    global _updated
    _updated = False
    _apt_update(progress)


def _candidate(spec: str) -> str | None:
    out = subprocess.run(
        ["apt-cache", "policy", spec], capture_output=True, text=True, check=False
    ).stdout
    for line in out.splitlines():
        if line.strip().startswith("Candidate:"):
            v = line.split(":", 1)[1].strip()
            return None if v == "(none)" else v
    return None


def resolve(name: str, deb_arch: str, progress: Progress) -> tuple[str, str]:
    """(package, version) for ``name`` (a package or a metapackage such as linux-image-arm64,
    resolved to the kernel package it depends on); CensusError if the archive has none."""
    spec = f"{name}:{deb_arch}"
    version = _candidate(spec)
    if version is None and _is_root():
        _apt_update(progress)
        version = _candidate(spec)
    if version is None:
        raise CensusError(
            f"package {spec} is not available from apt (apt-get update; is {deb_arch} added?)"
        )
    if name.startswith("linux-image-") and not name[len("linux-image-") :][:1].isdigit():
        deps = run(
            ["apt-cache", "depends", "--no-recommends", "--no-suggests", spec],
            f"apt-cache depends {spec}",
        )
        for line in deps.splitlines():
            line = line.strip()
            if line.startswith("Depends:") and "linux-image-" in line:
                return resolve(line.split()[1].split(":")[0], deb_arch, progress)
        raise CensusError(f"{spec}: no kernel package among its dependencies")
    return name, version


def fetch(cache: Path, name: str, deb_arch: str, progress: Progress) -> tuple[Path, str]:
    """The extracted tree of package ``name`` for ``deb_arch`` and its "NAME VERSION ARCH"."""
    ensure_architecture(deb_arch, progress)
    pkg, version = resolve(name, deb_arch, progress)
    ident = f"{pkg}_{version.replace(':', '%3a')}_{deb_arch}"
    tree = cache / "pkgs" / ident
    if tree.is_dir():
        return tree, f"{pkg} {version} {deb_arch}"
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = debs / f"{ident}.deb"
    if not deb.is_file():
        progress(f"apt-get download {pkg}:{deb_arch} ({version})")
        with tempfile.TemporaryDirectory(dir=debs) as tmp:
            cmd = ["apt-get", "download", f"{pkg}:{deb_arch}={version}"]
            if _is_root():
                cmd[1:1] = ["-o", "APT::Sandbox::User=root"]
            try:
                proc = subprocess.run(
                    cmd, cwd=tmp, capture_output=True, text=True, timeout=900, check=False
                )
            except (FileNotFoundError, subprocess.TimeoutExpired):
                raise CensusError(f"cannot download {pkg}:{deb_arch}: apt-get failed") from None
            got = list(Path(tmp).glob("*.deb"))
            if proc.returncode != 0 or len(got) != 1:
                raise CensusError(
                    f"cannot download {pkg}:{deb_arch}: {_last_line(proc.stderr or proc.stdout)}"
                )
            got[0].replace(deb)
    progress(f"dpkg -x {deb.name}")
    tmp_tree = Path(tempfile.mkdtemp(dir=debs, prefix="x-"))
    try:
        run(["dpkg", "-x", str(deb), str(tmp_tree)], f"dpkg -x {deb.name}")
        tree.parent.mkdir(parents=True, exist_ok=True)
        tmp_tree.replace(tree)
    finally:
        shutil.rmtree(tmp_tree, ignore_errors=True)
    return tree, f"{pkg} {version} {deb_arch}"


def ensure_qemu(binary: str, progress: Progress) -> str:
    """The path of ``binary`` (qemu-system-aarch64 / -arm); installed with apt (root) if absent."""
    found = shutil.which(binary)
    if found:
        return found
    if not _is_root():
        raise CensusError(f"{binary} not found: install it (apt-get install qemu-system-arm)")
    _apt_update(progress)
    progress("apt-get install qemu-system-arm")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    proc = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "qemu-system-arm"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    found = shutil.which(binary)
    if proc.returncode != 0 or not found:
        raise CensusError(f"cannot install qemu-system-arm: {_last_line(proc.stderr)}")
    return found


def qemu_version(path: str) -> str:
    """QEMU's first version line, e.g. "QEMU emulator version 7.2.22 (Debian ...)"."""
    return run([path, "--version"], f"{path} --version").splitlines()[0].strip()
