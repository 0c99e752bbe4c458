# Shared helpers of the end-to-end tests (tests/cli/*.sh). Sourced; $NNMPI and $MPIEXEC come
# from CTest (tests/CMakeLists.txt). Each test works in its own temporary directory.
set -euo pipefail
: "${NNMPI:?NNMPI must point to the nnmpi executable}"
MPIEXEC=${MPIEXEC:-mpiexec}
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1 OPENBLAS_NUM_THREADS=1
SRC=${NN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nnmpi-cli-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
FAILS=0
PASSES=0

# mpi NP ARGS...: nnmpi on NP ranks.
mpi() { local np=$1; shift; "$MPIEXEC" -n "$np" --oversubscribe "$NNMPI" "$@"; }

pass() { PASSES=$((PASSES + 1)); echo "ok: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }

# expect_rc WANT DESC CMD...: runs CMD (output to $WORK/out.txt), checks its exit code.
expect_rc() {
  local want=$1 desc=$2; shift 2
  local rc=0
  "$@" >"$WORK/out.txt" 2>&1 || rc=$?
  if [ "$rc" -eq "$want" ]; then pass "$desc (exit $rc)"; else fail "$desc: exit $rc, expected $want"; tail -n 20 "$WORK/out.txt"; fi
}

# expect_out TEXT DESC: the last command's output contains TEXT.
expect_out() {
  if grep -qF -- "$1" "$WORK/out.txt"; then pass "$2"; else fail "$2: output lacks '$1'"; tail -n 20 "$WORK/out.txt"; fi
}

# last_eval RUN_DIR FIELD: FIELD of the last eval event in RUN_DIR/metrics.jsonl.
last_eval() { grep '"event":"eval"' "$1/metrics.jsonl" | tail -n 1 | sed -E "s/.*\"$2\":([-0-9.eE+]+).*/\1/"; }

# newest_ckpt RUN_DIR: path of the newest checkpoint.
newest_ckpt() { ls "$1"/checkpoints/ckpt-*.h5 | tail -n 1; }

# same_weights A B [TOL]: /model of two checkpoints equal (bit for bit, or within relative TOL).
same_weights() {
  if [ -n "${3:-}" ]; then h5diff -q -p "$3" "$1" "$2" /model /model >/dev/null 2>&1
  else h5diff -q "$1" "$2" /model /model >/dev/null 2>&1; fi
}

# same_state A B: weights and optimiser state of two checkpoints are bit-identical.
same_state() { same_weights "$1" "$2" && h5diff -q "$1" "$2" /optimizer /optimizer >/dev/null 2>&1; }
# expect_same_state A B WHAT: pass when same_state A B, else fail; WHAT names the comparison.
expect_same_state() {
  if same_state "$1" "$2"; then pass "$3: bit-identical (weights and optimiser state)"
  else fail "$3: weights or optimiser state differ"; fi
}

finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
