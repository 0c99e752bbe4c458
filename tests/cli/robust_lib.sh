# Helpers of the issue-11 regression tests (tests/cli/robust_*.sh), sourced after lib.sh.
# Keyword checks are case-insensitive (the wording of most messages is not fixed, only the key
# words). Checks that need h5py or root are counted as skipped, visibly, when those are missing.
SKIPS=0
skip() { SKIPS=$((SKIPS + 1)); echo "SKIP: $*"; }

# run CMD...: runs CMD; RC = its exit code, stdout in so.txt, stderr in se.txt, both in out.txt.
run() {
  RC=0 SHOWN=0
  "$@" >"$WORK/so.txt" 2>"$WORK/se.txt" || RC=$?
  cat "$WORK/so.txt" "$WORK/se.txt" >"$WORK/out.txt"
}

# show: the end of the last command's output, after its first failed check.
show() {
  [ "${SHOWN:-0}" -eq 1 ] && return 0
  SHOWN=1
  tail -n "${1:-12}" "$WORK/out.txt" | sed 's/^/    | /'
}

# rc_is WANT DESC: the exit code of the last run is WANT (a signal is named as such).
rc_is() {
  if [ "$RC" -eq "$1" ]; then pass "$2 (exit $RC)"
  else
    local sig=""
    [ "$RC" -gt 128 ] && [ "$RC" -lt 160 ] && sig=" = signal $((RC - 128)) ($(kill -l $((RC - 128)) 2>/dev/null || echo ?))"
    fail "$2: exit $RC$sig, expected $1"; show
  fi
}

# expect WANT DESC CMD...: run + rc_is.
expect() { local want=$1 desc=$2; shift 2; run "$@"; rc_is "$want" "$desc"; }

# no_signal DESC: the last run did not end by a signal (exit codes 124 and > 128 count as such).
no_signal() {
  if [ "$RC" -lt 124 ]; then pass "$1: not a signal (exit $RC)"
  else fail "$1: exit $RC (signal $((RC > 128 ? RC - 128 : 0)) or timeout)"; show; fi
}

# has [-e] TEXT DESC / lacks TEXT DESC: the last output (stdout+stderr; -e: stderr only)
# contains / does not contain TEXT, case-insensitively.
has() {
  local f="$WORK/out.txt"; [ "$1" = -e ] && { f="$WORK/se.txt"; shift; }
  if grep -qiF -- "$1" "$f"; then pass "$2"; else fail "$2: output lacks '$1'"; show; fi
}
lacks() {
  if grep -qiF -- "$1" "$WORK/out.txt"; then fail "$2: output contains '$1'"; grep -iF -- "$1" "$WORK/out.txt" | head -3 | sed 's/^/    | /'
  else pass "$2"; fi
}
# has_re [-e] ERE DESC: some line of the last output matches the extended regex (case-insensitive).
has_re() {
  local f="$WORK/out.txt"; [ "$1" = -e ] && { f="$WORK/se.txt"; shift; }
  if grep -qiE -- "$1" "$f"; then pass "$2"; else fail "$2: no line matches /$1/"; show; fi
}

# verifies PATH: `nnmpi inspect` accepts the checkpoint (exit 0).
verifies() { [ -f "$1" ] && "$NNMPI" inspect "$1" >/dev/null 2>&1; }

# last_written: the checkpoint the last run reported last ("checkpoint P (step ..." progress lines
# or "checkpoint P written at step" of a stop); empty when there is none.
last_written() {
  sed -nE 's/^checkpoint ([^ ]+) \(step .*/\1/p; s/.*checkpoint ([^ ]+) written at step.*/\1/p' "$WORK/out.txt" | tail -n 1
}

# newest_top DIR: the checkpoint with the highest step directly in DIR (not in subdirectories).
newest_top() { find "$1" -maxdepth 1 -name 'ckpt-*.h5' -type f -printf '%f\n' | sort | tail -n 1 | sed "s|^|$1/|"; }

# Processes: started by the test itself, found only as children of its launcher, signalled by pid.
LEFT=""   # pids to SIGCONT + SIGKILL when the script ends
cleanup() {
  set +e
  for p in $LEFT; do kill -CONT "$p"; kill -KILL "$p"; done 2>/dev/null
  [ -n "${MOUNTED:-}" ] && umount "$MOUNTED" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
# gone PID: the process has exited (a zombie waiting for its parent counts as exited)
gone() {
  kill -0 "$1" 2>/dev/null || return 0
  local pid state rest
  read -r pid rest <"/proc/$1/stat" 2>/dev/null || return 0
  state=${rest##*) }; state=${state%% *}
  [ "$state" = Z ]
}
# wait_for FILE TEXT SECONDS: until FILE contains TEXT (false after SECONDS)
wait_for() { local end=$((SECONDS + $3)); while [ $SECONDS -lt $end ]; do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# wait_gone SECONDS PID...: until all PIDs have exited (false after SECONDS)
wait_gone() {
  local end=$((SECONDS + $1)) p all; shift
  while :; do
    all=1; for p in "$@"; do gone "$p" || { all=0; break; }; done
    [ $all -eq 1 ] && return 0
    [ $SECONDS -ge $end ] && return 1
    sleep 0.1
  done
}

# NN_TEST_NO_H5PY=1 exercises the skip paths on a machine that has h5py
have_h5py() { [ -z "${NN_TEST_NO_H5PY:-}" ] && /usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1; }
py() { /usr/bin/python3 - "$@"; }

finish_robust() {
  echo "$PASSES passed, $FAILS failed, $SKIPS skipped"
  [ "$FAILS" -eq 0 ]
}
