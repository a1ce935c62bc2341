#!/usr/bin/env bash
# Regenerate the census results shipped in src/vtlbsim/data/census/results/ (JSON + generated
# kind TOML per run) and summarised in docs/census.md: every Debian kernel and workload on one
# vCPU, the exec workload on two, the CONFIG_SMP=n armhf kernel if scripts/build-armhf-up.sh has
# built it, and Xen 4.17 with the arm64 kernel as dom0 (4 vCPUs on 2 pCPUs). Each JSON records
# the exact vtlbsim command that made it ("command"). Takes about an hour on 2 busy cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-src/vtlbsim/data/census/results}
vtlbsim() { .venv/bin/vtlbsim "$@"; }
make install >/dev/null
kernels="debian-arm64 debian-armmp"
cache=${VTLBSIM_CENSUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vtlbsim/census}
[ -f "$cache/kernels/armhf-up/zImage" ] && kernels="$kernels armhf-up"
for kernel in $kernels; do
  for workload in spawn exec mmap jit idle; do
    vtlbsim census --kernel "$kernel" --workload "$workload" --out "$out"
  done
  vtlbsim census --kernel "$kernel" --workload exec --vcpus 2 --out "$out"
done
vtlbsim census --kernel debian-arm64 --workload exec --hypervisor xen --vcpus 2 --guest-vcpus 4 --out "$out"
