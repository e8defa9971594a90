#!/usr/bin/env bash
# Sets up the machine, then runs every test in release mode (numeric Swift is slow in debug builds).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Open MPI refuses root unless told; CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
swift test -c release -Xswiftc -enable-testing "$@"
