#!/usr/bin/env bash
# Build a true uniprocessor (CONFIG_SMP=n) armhf Linux for `vtlbsim census --kernel armhf-up`.
#
# Debian's armmp kernel is SMP_ON_UP: on a 1-vCPU guest whose MPIDR says "multiprocessor"
# (QEMU, Xen and KVM all present MPIDR.U=0) it keeps its SMP (Inner Shareable) maintenance. The
# seed's UP guest is a kernel built without SMP; this script builds one from Debian's own source
# (linux-source-6.1) and Debian's armmp configuration with only these changes:
#   SMP off; modules off, and every option Debian builds as a module dropped (not built in:
#   the census boots an initramfs and needs none of them); debug info off (build time); Debian's
#   signing-key paths cleared (not shipped in linux-source).
# Output: $CACHE/kernels/armhf-up/{zImage,System.map,config,BUILD} where CACHE is
# $VTLBSIM_CENSUS_CACHE, else $XDG_CACHE_HOME/vtlbsim/census, else ~/.cache/vtlbsim/census
# (the directory `vtlbsim census` reads). Takes tens of minutes on 2 cores; not run in CI.
# Needs (installed with apt-get when run as root): gcc-arm-linux-gnueabihf linux-source-6.1
# bc bison flex make xz-utils libssl-dev.
set -euo pipefail

CACHE=${VTLBSIM_CENSUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vtlbsim/census}
OUT=$CACHE/kernels/armhf-up
WORK=${WORK:-$CACHE/build/armhf-up}
JOBS=${JOBS:-$(nproc)}
PKGS="gcc-arm-linux-gnueabihf linux-source-6.1 bc bison flex make xz-utils libssl-dev"

missing=$(for p in $PKGS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"; done)
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "build-armhf-up: installing $(echo $missing)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >/dev/null
  else
    echo "build-armhf-up: missing packages: $(echo $missing) (apt-get install them as root)" >&2
    exit 2
  fi
fi

src=$(ls /usr/src/linux-source-6.1.tar.xz)
version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
mkdir -p "$WORK" "$OUT"

# Debian's armmp configuration, from the armmp kernel package (not installed: extracted).
if ! ls "$WORK"/config-*-armmp >/dev/null 2>&1; then
  dpkg --print-foreign-architectures | grep -qx armhf || {
    echo "build-armhf-up: dpkg has no armhf architecture (dpkg --add-architecture armhf; apt-get update)" >&2
    exit 2
  }
  image=$(apt-cache depends --no-recommends --no-suggests linux-image-armmp:armhf | sed -n 's/.*Depends: \(linux-image-[^ ]*\)/\1/p' | head -1)
  (cd "$WORK" && apt-get download "$image" >/dev/null && dpkg -x "${image%%:*}"_*_armhf.deb pkg && cp pkg/boot/config-* . && rm -rf pkg)
fi
config=$(ls "$WORK"/config-*-armmp | head -1)

tree="$WORK/linux-source-6.1"
if [ ! -f "$tree/Makefile" ]; then
  echo "build-armhf-up: unpacking $src"
  tar -C "$WORK" -xf "$src"
fi
cd "$tree"
export ARCH=arm CROSS_COMPILE=arm-linux-gnueabihf-
# =m options first become "not set": with MODULES off, Kconfig would otherwise build them in.
sed 's/^\(CONFIG_[A-Za-z0-9_]*\)=m$/# \1 is not set/' "$config" >.config
scripts/config --disable SMP --disable MODULES \
  --disable DEBUG_INFO --disable DEBUG_INFO_DWARF5 --disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT \
  --enable DEBUG_INFO_NONE --disable DEBUG_INFO_BTF \
  --set-str SYSTEM_TRUSTED_KEYS "" --set-str SYSTEM_REVOCATION_KEYS "" \
  --set-str BUILD_SALT "vtlbsim-armhf-up"
make olddefconfig >/dev/null
grep -q '^# CONFIG_SMP is not set' .config || { echo "build-armhf-up: CONFIG_SMP still set" >&2; exit 1; }
echo "build-armhf-up: building zImage with $JOBS jobs (linux-source-6.1 $version)"
start=$(date +%s)
make -j"$JOBS" KBUILD_BUILD_TIMESTAMP="vtlbsim" KBUILD_BUILD_USER=vtlbsim KBUILD_BUILD_HOST=census zImage >build.log 2>&1 || {
  tail -20 build.log >&2
  exit 1
}
cp arch/arm/boot/zImage System.map "$OUT/"
cp .config "$OUT/config"
{
  echo "source: linux-source-6.1 $version (Debian)"
  echo "config: $(basename "$config") with SMP, MODULES, DEBUG_INFO off"
  echo "compiler: $(arm-linux-gnueabihf-gcc --version | head -1)"
  echo "built in $(( $(date +%s) - start )) s with $JOBS jobs"
} >"$OUT/BUILD"
cat "$OUT/BUILD"
echo "build-armhf-up: $OUT/zImage"
