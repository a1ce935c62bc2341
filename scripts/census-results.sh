#!/usr/bin/env bash
# Regenerate the census results shipped in src/vtlbsim/data/census/results/ (JSON + generated
# kind TOML per run) and summarised in docs/census.md (python -m vtlbsim.census.summary), for
# the kernels named (default: debian-arm64, debian-armmp, and armhf-up if
# scripts/build-armhf-up.sh has built it): every workload on one vCPU, exec on two, and under Xen
# 4.17 (the arm64 kernel as dom0 with 4 vCPUs on 2 pCPUs; an arm32 kernel as a 1-vCPU dom0less
# guest on 2 pCPUs, AArch32 on the Armv8 core: with 4 vCPUs the armmp domU oopses during boot
# under QEMU 7.2 TCG here). Each JSON records the exact vtlbsim command that
# made it ("command"). About 4 minutes per kernel on 2 busy cores once the packages are cached.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-src/vtlbsim/data/census/results}
vtlbsim() { .venv/bin/vtlbsim "$@"; }
make install >/dev/null
cache=${VTLBSIM_CENSUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vtlbsim/census}
kernels="$*"
if [ -z "$kernels" ]; then
  kernels="debian-arm64 debian-armmp"
  [ -f "$cache/kernels/armhf-up/zImage" ] && kernels="$kernels armhf-up"
fi
for kernel in $kernels; do
  for workload in spawn exec mmap jit idle shell; do
    vtlbsim census --kernel "$kernel" --workload "$workload" --out "$out"
  done
  vtlbsim census --kernel "$kernel" --workload exec --vcpus 2 --out "$out"
  if [ "$kernel" = debian-arm64 ]; then
    vtlbsim census --kernel "$kernel" --workload exec --hypervisor xen --vcpus 2 --guest-vcpus 4 --out "$out"
  else
    vtlbsim census --kernel "$kernel" --workload exec --hypervisor xen --vcpus 2 --guest-vcpus 1 --out "$out"
  fi
done
