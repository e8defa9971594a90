#!/usr/bin/env bash
# The README's first command: set up, then run the built-in demo as a real sweep runs — under mpirun, 2 ranks.
# Extra arguments go to `clipcv demo` (see `clipcv demo --help`), e.g. scripts/demo.sh --out /tmp/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
root_flags=()
[ "$(id -u)" -eq 0 ] && root_flags=(--allow-run-as-root)  # Open MPI refuses root unless told
exec mpirun "${root_flags[@]}" -np "${CLIPCV_DEMO_RANKS:-2}" .build/release/clipcv demo "$@"
