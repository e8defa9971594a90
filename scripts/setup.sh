#!/usr/bin/env bash
# Sets up a fresh Debian machine for clipcv and builds it (release). Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# C libraries from Debian: OpenBLAS (GEMM), oneDNN (bf16 GEMM), Open MPI (ranks), stb (PNG/JPEG),
# nifti2 (NIfTI volumes).
packages=(pkg-config libopenblas-dev libdnnl-dev libopenmpi-dev openmpi-bin libstb-dev libnifti2-dev zlib1g-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "setup: swift (6.x) is not on PATH; install the Swift toolchain first" >&2; exit 1; }
swift build -c release 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' >&2
echo "setup: built $(swift build -c release --show-bin-path)/clipcv" >&2
