# Shared helpers of tests/multinode_*.sh (sourced). cluster_up brings a private multi-node
# cluster up (tests/cluster/up) in a temp dir T (cwd becomes T) and brings it down on exit, also
# after a failure or a signal. The one-node helpers (job_wait, job_field, wait_for, newest_ckpt,
# evals_once, same_model, fail, skip, log, ...) come from tests/slurm/lib.sh.
# NNMPI_KEEP=1 keeps T (job outputs, daemon logs) after a failure.
. "$(dirname "${BASH_SOURCE[0]}")/../slurm/lib.sh"
CL=$SRC/tests/cluster
say() { echo "$*" >&2; }
. "$CL/fixture.sh"   # fx_ns_pids
SOFT_FAILS=()

# cluster_up [NODES] [VAR=VALUE...]: start the cluster (2 nodes by default) with the fixture
# settings given (e.g. NNMPI_CLUSTER_SLURMD_TIMEOUT=5); skip (77) where it cannot run.
# A timer ends the test (TERM, so that the cluster is still taken down) after
# NNMPI_TEST_LIMIT seconds (600), before CTest's own timeout would kill it outright.
LIMIT_PID=
cluster_up() {
  local nodes=${1:-2} out rc; [ $# -gt 0 ] && shift
  T=$(mktemp -d /tmp/nnmpi-mntest.XXXXXX) && chmod 0755 "$T" || fail "mktemp"
  trap 'cluster_down $?' EXIT
  trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP; trap 'exit 141' PIPE   # still clean up
  local main=$$
  ( trap - EXIT; trap 'kill $sp 2>/dev/null; exit 0' TERM
    sleep "${NNMPI_TEST_LIMIT:-600}" & sp=$!; wait $sp
    echo "FAIL: test time limit (NNMPI_TEST_LIMIT=${NNMPI_TEST_LIMIT:-600} s) reached"
    kill -TERM $(pgrep -P "$main" | grep -vx "$BASHPID") "$main" 2>/dev/null ) &
  LIMIT_PID=$!
  out=$(env "$@" "$CL/up" -n "$nodes" "$T/cluster"); rc=$?
  if [ $rc = 77 ]; then echo "$out"; exit 77; fi
  [ $rc = 0 ] || fail "tests/cluster/up failed (rc $rc)"
  . "$T/cluster/env"
  NODE1=${NNMPI_CLUSTER_NODES%% *} NODE2=$(echo "$NNMPI_CLUSTER_NODES" | cut -d' ' -f2)
  cd "$T" || exit 1
  log "cluster up: nodes $NNMPI_CLUSTER_NODES, subnet $NNMPI_CLUSTER_SUBNET"
}

# On a failing exit: the tail of every job output and daemon log; then down and remove T (unless
# NNMPI_KEEP=1). The exit code stays the test's.
cluster_down() {
  local rc=$1 f p
  trap '' INT TERM HUP PIPE   # a second signal must not cut the cleanup short
  [ -n "$LIMIT_PID" ] && kill "$LIMIT_PID" 2>/dev/null
  for p in "${BG[@]}"; do kill_tree "$p"; done   # reference runs still going
  cd /
  if [ -z "$T" ]; then exit "$rc"; fi
  if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    for f in "$T"/*.out; do [ -f "$f" ] && { echo "==== ${f#$T/} (tail)"; tail -n 30 "$f"; }; done
    for f in "$T"/cluster/log/{slurmctld.log,slurmd-*.log,jobcomp.txt}; do
      [ -f "$f" ] && { echo "==== ${f#$T/} (tail)"; tail -n 10 "$f"; }
    done
  fi
  if [ -d "$T/cluster" ]; then
    if [ "${NNMPI_KEEP:-0}" = 1 ] && [ "$rc" != 0 ]; then "$CL/down" --keep "$T/cluster"
    else "$CL/down" "$T/cluster" || { [ "$rc" = 0 ] && rc=1; }; fi
  fi
  if [ "${NNMPI_KEEP:-0}" = 1 ] && [ "$rc" != 0 ]; then echo "kept $T"; else rm -rf "$T"; fi
  exit "$rc"
}

# soft_fail MSG: a check that fails without stopping the test (the rest still runs and reports);
# soft_finish exits 1 if any did. For checks that wait on a change of nnmpi itself.
soft_fail() { echo "FAIL: $*"; SOFT_FAILS+=("$*"); }
soft_finish() {
  [ ${#SOFT_FAILS[@]} = 0 ] && return 0
  echo "${#SOFT_FAILS[@]} check(s) failed:"; printf '  - %s\n' "${SOFT_FAILS[@]}"; exit 1
}

# job_nodes ID: the number of nodes job ID ran (or runs) on.
job_nodes() { job_field "$1" NumNodes | sed 's/-.*//'; }

# ---- data

# fmnist_subset FILE NTRAIN [NTEST]: a dataset file with the first NTRAIN training images of
# Debian's dataset-fashion-mnist as /train and the first NTEST test images as /test (a split
# with 0 rows is left out), made
# with `nnmpi data import-idx` from IDX files cut to size here (header with the new count).
fmnist_subset() {
  local out=$1 n=$2 m=${3:-0} d=/usr/share/datasets/fashion-mnist
  [ -f "$d/train-images-idx3-ubyte.gz" ] || skip "$d not found (Debian package dataset-fashion-mnist)"
  be32() { local v=$1; printf "\\$(printf %03o $((v >> 24 & 255)))\\$(printf %03o $((v >> 16 & 255)))\\$(printf %03o $((v >> 8 & 255)))\\$(printf %03o $((v & 255)))"; }
  cut_idx() { # SPLIT-PREFIX ROWS OUT-PREFIX
    { be32 2051; be32 "$2"; be32 28; be32 28; zcat "$d/$1-images-idx3-ubyte.gz" | tail -c +17 | head -c $(($2 * 784)); } > "$3-images"
    { be32 2049; be32 "$2"; zcat "$d/$1-labels-idx1-ubyte.gz" | tail -c +9 | head -c "$2"; } > "$3-labels"
  }
  local app=()
  if [ "$n" -gt 0 ]; then
    cut_idx train "$n" sub-train
    "$NNMPI" data import-idx --images sub-train-images --labels sub-train-labels --out "$out" > /dev/null || fail "import-idx /train"
    app=(--append)
  fi
  if [ "$m" -gt 0 ]; then
    cut_idx t10k "$m" sub-test
    "$NNMPI" data import-idx --images sub-test-images --labels sub-test-labels --out "$out" --split /test "${app[@]}" > /dev/null ||
      fail "import-idx /test"
  fi
  rm -f sub-*-images sub-*-labels
}

# ---- runs outside Slurm (references)

# host_run NP RUN_DIR ARGS...: `nnmpi train ARGS` on NP ranks of this machine (one node, shared
# memory), in RUN_DIR; output in RUN_DIR.out.
host_run() {
  local np=$1 run=$2; shift 2
  mkdir -p "$(dirname "$run")"
  "$MPIEXEC" -np "$np" --oversubscribe "$NNMPI" train "$@" --set log.run_dir="$run" > "$run.out" 2>&1 ||
    fail "reference run $run on $np rank(s) failed: $(tail -n 5 "$run.out")"
}
# host_run_bg NP RUN_DIR ARGS...: host_run in the background (while cluster jobs run);
# host_wait waits for all of them and fails if one failed.
BG=()
host_run_bg() { host_run "$@" & BG+=($!); }
host_wait() { local p rc=0; for p in "${BG[@]}"; do wait "$p" || rc=1; done; BG=(); [ $rc = 0 ] || exit 1; }
kill_tree() { local c; for c in $(pgrep -P "$1"); do kill_tree "$c"; done; kill "$1" 2>/dev/null; }

# ---- the run's layout as it reports it

# run_layout OUT: "NODES RANKS_PER_NODE COPIES" of the run whose rank-0 output is in OUT, from
# the run's own layout line: "layout: W ranks on N nodes, up to R per node (HOST: 0-1, ...);
# training data: C copies, one per node in node-shared memory; ..." (or "no copies: each rank
# holds its 1/W shard" for shard sampling: C = 0).
run_layout() {
  local l; l=$(grep -m1 '^layout:' "$1") || return 1
  echo "$l" | sed -n -e 's/^layout: [0-9]* ranks\{0,1\} on \([0-9]*\) nodes\{0,1\}, up to \([0-9]*\) per node .*; training data: no copies.*/\1 \2 0/p' \
    -e 's/^layout: [0-9]* ranks\{0,1\} on \([0-9]*\) nodes\{0,1\}, up to \([0-9]*\) per node .*; training data: \([0-9]*\) cop.*/\1 \2 \3/p'
}

# check_layout OUT NODES RANKS_PER_NODE COPIES: the run reports that layout.
check_layout() {
  local got; got=$(run_layout "$1") || fail "$1: the run does not report its layout (ranks, node copies)"
  [ "$got" = "$2 $3 $4" ] ||
    fail "$1: the run reports '$got' (nodes, ranks per node, data copies), expected '$2 $3 $4'"
}

# ---- per-rank memory and file reads, watched from the host

# job_pids MATCH: PIDs of the nnmpi processes on the cluster's nodes whose command line contains
# MATCH, as "NODE PID" lines (the node of a process is its network namespace).
job_pids() {
  local node p comm args
  for node in $NNMPI_CLUSTER_NODES; do
    for p in $(fx_ns_pids "$node"); do
      read -r comm 2>/dev/null < "/proc/$p/comm" || continue
      [ "$comm" = nnmpi ] || continue
      mapfile -d '' args 2>/dev/null < "/proc/$p/cmdline" || continue
      case " ${args[*]} " in *"$1"*) echo "$node $p";; esac
    done
  done
}

# mem_snapshot MATCH: stop (SIGSTOP) every nnmpi process of the run matching MATCH on the nodes,
# append "NODE PID RSS PSS PSS_ANON PSS_SHMEM" (kB, /proc/PID/smaps_rollup) of each to mem.txt,
# and let them continue (SIGCONT). Call it once the run has loaded its data (its "data:" line).
# Stopped, the ranks cannot exit or change their mappings while they are measured.
mem_snapshot() {
  local list node p k v rss pss anon shm pids=()
  list=$(job_pids "$1")
  for p in $(echo "$list" | awk '{ print $2 }'); do pids+=("$p"); done
  [ ${#pids[@]} -gt 0 ] || return 1
  kill -STOP "${pids[@]}" 2>/dev/null
  while read -r node p; do
    rss= pss= anon= shm=
    while read -r k v _; do
      case $k in Rss:) rss=$v;; Pss:) pss=$v;; Pss_Anon:) anon=$v;; Pss_Shmem:) shm=$v;; esac
    done 2>/dev/null < "/proc/$p/smaps_rollup"
    [ -n "$shm" ] && echo "$node $p $rss $pss $anon $shm"
  done <<< "$list" >> mem.txt
  kill -CONT "${pids[@]}" 2>/dev/null
  return 0
}

# node_shmem_copies NODE RANKS BLOCK_KB: how many copies of a BLOCK_KB block the RANKS nnmpi
# processes of NODE in mem.txt hold in shared memory: the sum of their Pss_Shmem over BLOCK_KB
# (proportional set size: a page mapped by k processes counts 1/k in each, so the sum over a
# node's ranks counts each shared page once). Prints "COPIES MAX_PRIVATE_KB".
node_shmem_copies() {
  awk -v node="$1" -v want="$2" -v block="$3" '$1 == node { n++; shm += $6; if ($5 > priv) priv = $5 }
    END { if (n != want) exit 1; printf "%.2f %d\n", shm / block, priv }' mem.txt
}

# readlog_wrapper FILE: an executable ./nnmpi-readlog that runs $NNMPI with tests/cluster/readlog.c
# preloaded, logging every read of FILE per process into reads/<host>.<pid> ("OFFSET BYTES").
readlog_wrapper() {
  local file; file=$(readlink -f "$1")
  ldd "$NNMPI" 2>/dev/null | grep -q libasan && skip "nnmpi is built with ASan: LD_PRELOAD of the read logger would fail"
  cc -O2 -shared -fPIC -o readlog.so "$CL/readlog.c" -ldl || fail "cc readlog.c"
  mkdir -p reads
  cat > nnmpi-readlog <<SH
#!/bin/sh
export LD_PRELOAD=$T/readlog.so NN_READLOG_FILE=$file NN_READLOG_DIR=$T/reads
exec $NNMPI "\$@"
SH
  chmod +x nnmpi-readlog
}
# read_bytes LOG: bytes read in LOG (one process).
read_bytes() { awk '{ s += $2 } END { print s + 0 }' "$1"; }
