# Shared helpers of tests/slurm_*.sh (sourced). slurm_up brings a private cluster up in a temp
# dir T (cwd becomes T) and brings it down on exit; job_wait/job_field read job state.
# Set NNMPI_KEEP=1 to keep T (job outputs, daemon logs) after a failure.
set -u
SRC=${NN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NNMPI=${NNMPI:-nnmpi}
MPIEXEC=${MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
log() { echo "[$(date +%T)] $*"; }

slurm_up() {
  T=$(mktemp -d /tmp/nnmpi-slurmtest.XXXXXX) && chmod 0755 "$T"  # munged wants x on the socket path
  local out rc
  out=$("$SRC/tests/slurm/cluster-up" "$T/cluster"); rc=$?
  if [ $rc = 77 ]; then echo "$out"; rm -rf "$T"; exit 77; fi
  [ $rc = 0 ] || { rm -rf "$T"; fail "cluster-up failed (rc $rc)"; }
  . "$T/cluster/env"
  trap 'slurm_down $?' EXIT
  trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP; trap 'exit 141' PIPE   # still clean up
  cd "$T" || exit 1
}

# On a failing exit: show the tail of every job output and daemon log, then remove T
# (unless NNMPI_KEEP=1).
slurm_down() {
  local rc=$1 f
  trap '' INT TERM HUP PIPE   # a second signal must not cut the cleanup short
  cd /
  if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    for f in "$T"/*.out; do [ -f "$f" ] && { echo "==== ${f#$T/} (tail)"; tail -n 25 "$f"; }; done
    for f in "$T"/cluster/log/{slurmctld.log,slurmd.log,jobcomp.txt}; do
      [ -f "$f" ] && { echo "==== ${f#$T/} (tail)"; tail -n 8 "$f"; }
    done
  fi
  if [ "${NNMPI_KEEP:-0}" = 1 ] && [ "$rc" != 0 ]; then
    "$SRC/tests/slurm/cluster-down" --keep "$T/cluster"; echo "kept $T"
  else
    "$SRC/tests/slurm/cluster-down" "$T/cluster"; rm -rf "$T"
  fi
  exit "$rc"
}

# job_field ID FIELD: FIELD=value of `scontrol show job` (first array element if several).
job_field() { scontrol show job -o "$1" 2>/dev/null | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# job_wait ID [SECONDS]: wait until job ID (every element if an array) has ended; prints the
# final state(s). Returns 0 when all COMPLETED. Falls back to the jobcomp file once the
# controller has forgotten the job.
job_wait() {
  local id=$1 n=$(( ${2:-300} * 2 )) states
  while :; do
    states=$(scontrol show job -o "$id" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p' | sort | uniq | tr '\n' ' ')
    if [ -z "$states" ]; then
      states=$(grep "^JobId=$id " "$T/cluster/log/jobcomp.txt" | tail -n 1 | tr ' ' '\n' | sed -n 's/^JobState=//p')
      [ -n "$states" ] || { echo "UNKNOWN"; return 1; }
    fi
    case " $states" in
      *PENDING*|*RUNNING*|*COMPLETING*|*CONFIGURING*|*REQUEUE*|*SUSPENDED*|*RESIZING*|*SIGNALING*|*STAGE_OUT*) ;;
      *) echo "${states% }"; [ "${states% }" = COMPLETED ]; return;;
    esac
    n=$((n - 1)); [ $n -gt 0 ] || { echo "TIMEOUT_WAITING($states)"; scancel "$id"; return 1; }
    sleep 0.5
  done
}

# need_trainer: skip (77) unless `$NNMPI train` exists in this build.
need_trainer() {
  command -v "$NNMPI" >/dev/null 2>&1 || [ -x "$NNMPI" ] || skip "nnmpi executable not found ($NNMPI)"
  "$NNMPI" train --help >/dev/null 2>&1 || skip "'$NNMPI train --help' fails: trainer not built yet"
}

# wait_for SECONDS WHAT CMD...: poll CMD every 0.2 s.
wait_for() {
  local n=$(( $1 * 5 )) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do n=$((n - 1)); [ $n -gt 0 ] || fail "timed out waiting for $what"; sleep 0.2; done
}

# newest_ckpt RUN_DIR: path of the newest checkpoint (highest step) in RUN_DIR/checkpoints.
newest_ckpt() { ls "$1"/checkpoints/ckpt-*.h5 2>/dev/null | sort | tail -n 1; }
has_ckpt() { [ -n "$(newest_ckpt "$1")" ]; }
# ckpt_newer_than RUN_DIR STEP: a checkpoint past STEP exists.
ckpt_newer_than() { local f; f=$(newest_ckpt "$1"); f=${f##*ckpt-}; [ -n "$f" ] && [ $((10#${f%.h5})) -gt "$2" ]; }
ckpt_step() { local f=${1##*ckpt-}; echo $((10#${f%.h5})); }

# evals_once METRICS N: the eval events of METRICS are epochs 1..N, each exactly once.
evals_once() {
  local got want
  got=$(grep '"event":"eval"' "$1" | sed 's/.*"epoch":\([0-9]*\).*/\1/' | tr '\n' ' ')
  want=$(seq 1 "$2" | tr '\n' ' ')
  [ "$got" = "$want" ] || fail "$1: eval epochs '$got', expected each of 1..$2 once"
}

# same_model A.h5 B.h5: the /model groups are bit-identical (h5diff).
same_model() {
  h5diff -r "$1" "$2" /model /model > h5diff.txt 2>&1 ||
    fail "/model of $1 and $2 differ: $(head -n 20 h5diff.txt)"
}

# last_accuracy METRICS: accuracy of the last eval event.
last_accuracy() { grep '"event":"eval"' "$1" | tail -n 1 | sed 's/.*"accuracy":\([-0-9.e]*\).*/\1/'; }

# ini_get FILE SECTION KEY: the value of KEY in [SECTION] of an INI file (config.ini of a run).
ini_get() {
  awk -v s="[$2]" -v k="$3" '/^\[/ { in_s = ($0 == s); next }
    in_s { split($0, kv, " = "); if (kv[1] == k || $0 == k " =") { print kv[2]; exit } }' "$1"
}
