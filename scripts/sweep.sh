#!/usr/bin/env bash
# Runs `clipcv sweep` under mpirun with flags that keep BLAS threads of different ranks off each other's cores.
#
# usage: scripts/sweep.sh [-H HOSTFILE] [-n RANKS] [-t THREADS_PER_RANK] [--no-bind] [--oversubscribe] [--dry-run]
#                         -- SWEEP_ARGUMENTS…
#   -H HOSTFILE       nodes and their slots (= cores), e.g. hostfiles/cluster.example; default: this machine only
#   -n RANKS          ranks to start; default: every node's slots (hostfile) or cores (this machine), divided by T
#   -t T              cores, and so OpenBLAS threads, per rank (default 1)
#   --no-bind         do not pin ranks to cores (--bind-to none); clipcv then divides each node's cores evenly
#                     among its ranks. For nodes whose hostfile slots do not match their cores.
#   --oversubscribe   allow more ranks than slots (testing on a small machine); implies --no-bind
#   --dry-run         print the mpirun command instead of running it
# Everything after `--` goes to `clipcv sweep`, e.g.
#   scripts/sweep.sh -H hostfiles/mycluster -t 4 -- --config scripts/sweeps/paper.json --model clip-vit-base-patch32 \
#       --data cohort/manifest.csv --classes "a CT of a non-responder" "a CT of a responder" --out runs/paper
# Rerun the same command with --resume added to continue a sweep that was interrupted.
#
# Why bind: each rank gets its own T cores (--map-by slot:PE=T --bind-to core), so its OpenBLAS threads never
# share a core with another rank's. OpenBLAS threads spin while they wait for each other; two of them on one core
# turn every GEMM into a time-slicing contest, which costs far more than the rare idle core binding can leave.
# clipcv reads the cores in each rank's CPU mask and uses that many threads (DESIGN.md, promise 5).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
clipcv="${CLIPCV:-$root/.build/release/clipcv}"

hostfile="" ranks="" threads=1 bind=1 oversubscribe=0 dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        -H) hostfile="$2"; shift 2 ;;
        -n) ranks="$2"; shift 2 ;;
        -t) threads="$2"; shift 2 ;;
        --no-bind) bind=0; shift ;;
        --oversubscribe) oversubscribe=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "sweep.sh: unknown option '$1' (sweep arguments go after --)" >&2; exit 2 ;;
    esac
done
case "$threads" in ''|*[!0-9]*|0) echo "sweep.sh: -t needs a positive integer" >&2; exit 2 ;; esac
[ -x "$clipcv" ] || [ "$dry_run" = 1 ] || { echo "sweep.sh: $clipcv not found; build it first with scripts/setup.sh" >&2; exit 2; }
# More ranks than cores cannot each own a core: oversubscribed ranks float (and clipcv gives each 1 thread).
[ "$oversubscribe" = 1 ] && bind=0

mpirun_args=()
if [ -n "$hostfile" ]; then
    [ -r "$hostfile" ] || { echo "sweep.sh: cannot read hostfile $hostfile" >&2; exit 2; }
    # Open MPI counts one slot per rank even when a rank takes T cores (PE=T), so it is given a hostfile whose
    # slots are ranks: each node's cores divided by T.
    rank_hostfile="$(mktemp "${TMPDIR:-/tmp}/clipcv-hosts.XXXXXX")"
    trap 'rm -f "$rank_hostfile"' EXIT
    awk -v t="$threads" -v file="$hostfile" '
        { sub(/#.*/, "") } NF == 0 { next }
        !match($0, /slots=[0-9]+/) { printf "sweep.sh: %s: line %d gives no slots= (the node'"'"'s core count)\n", file, NR > "/dev/stderr"; bad = 1; next }
        { n = int(substr($0, RSTART + 6, RLENGTH - 6) / t); if (n > 0) print $1 " slots=" n }
    END { exit bad }' "$hostfile" > "$rank_hostfile" || exit 2
    mpirun_args+=(--hostfile "$rank_hostfile")
    slots=$(awk '{ split($2, a, "="); s += a[2] } END { print s + 0 }' "$rank_hostfile")
else
    slots=$(( $(nproc) / threads ))
fi
if [ -z "$ranks" ]; then
    ranks=$slots
    [ "$ranks" -ge 1 ] || ranks=1
fi
mpirun_args+=(-np "$ranks")
if [ "$bind" = 1 ]; then
    mpirun_args+=(--map-by "slot:PE=$threads" --bind-to core)
else
    mpirun_args+=(--bind-to none)
fi
# OpenBLAS sizes its thread pool when the library loads, before clipcv can set it: start it at T, not at all cores.
mpirun_args+=(-x "OPENBLAS_NUM_THREADS=$threads")
[ "$oversubscribe" = 1 ] && mpirun_args+=(--oversubscribe)
# Open MPI refuses to run as root unless told; only say so when we are root.
[ "$(id -u)" = 0 ] && mpirun_args+=(--allow-run-as-root)

command=(mpirun "${mpirun_args[@]}" "$clipcv" sweep "$@")
if [ "$dry_run" = 1 ]; then
    [ -n "$hostfile" ] && { echo "# $rank_hostfile (ranks per node):"; sed 's/^/#   /' "$rank_hostfile"; }
    printf '%q ' "${command[@]}"; echo
else
    "${command[@]}"
fi
