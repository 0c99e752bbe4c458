#!/bin/sh
# Scaling sweep of issue 9: np = 1, 2, 4 (4 oversubscribed on 2 cores, labelled so) x models x
# global batches x variants, rep-major alternating runs, medians, ratios np=N/np=1 and
# variant/baseline, per-phase time split from each run's own summary event. Writes
# bench/results/scaling.txt and bench/results/scaling-runs.csv. Not part of the test suite.
#   bench/scaling.sh [BUILD_DIR] [--reps N] [--nps "1 2 4"] ... [--report-only] [--dry-run]
# Settings by environment or flags (bench/scaling.py --help lists them all), e.g.
#   REPS=5 VARIANTS="fast:train.reduce=fast shard:train.shard_optimizer=true" bench/scaling.sh
#   REPS=1 STEPS=5 OUT=/tmp/smoke bench/scaling.sh          # a quick check of the tool itself
#   PERF=record PERF_CONFIG="784-2048-2048-10 512 2 fast" bench/scaling.sh
# Needs /usr/bin/python3 (standard library only) and data/fashion-mnist.h5 (imported from
# Debian's dataset-fashion-mnist when missing). See docs/performance.md.
exec /usr/bin/python3 "$(dirname "$0")/scaling.py" "$@"
