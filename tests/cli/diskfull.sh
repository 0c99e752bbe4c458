#!/bin/bash
# A checkpoint directory on a full disk: training stops with exit 4 and a clear message, no file
# appears under a final name; with checkpoint.continue_on_error it warns and finishes. Needs root
# to mount a small tmpfs; skipped visibly otherwise.
source "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: not root, cannot mount a small tmpfs"; exit 77; fi
mkdir -p full
if ! mount -t tmpfs -o size=32k tmpfs full 2>/dev/null; then echo "SKIP: mounting a tmpfs failed"; exit 77; fi
trap 'umount "$WORK/full" 2>/dev/null; rm -rf "$WORK"' EXIT
expect_rc 4 "checkpoint on a full disk stops training" mpi 2 train --set train.epochs=2 --set log.run_dir=run \
  --set checkpoint.dir="$WORK/full"
expect_out "No space left on device" "message gives the cause"
ls full/ckpt-*.h5 >/dev/null 2>&1 && fail "a file appeared under a final name" || pass "no checkpoint under a final name"
ls full/*.tmp >/dev/null 2>&1 && fail "a .tmp was left behind" || pass "no .tmp left behind"
expect_rc 0 "continue_on_error finishes the run" mpi 2 train --set train.epochs=2 --set log.run_dir=run2 \
  --set checkpoint.dir="$WORK/full" --set checkpoint.continue_on_error=true
expect_out "training continues" "each failed checkpoint is reported"
expect_out "eval epoch 2" "training went on to the end"
finish
