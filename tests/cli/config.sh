#!/bin/bash
# `nnmpi config`: the effective config as INI (parsed back by nnmpi itself), --doc, and its
# usage errors with exit code 2 and nothing on stdout.
source "$(dirname "$0")/lib.sh"

expect_rc 0 "config with --set and --set=" "$NNMPI" config --set optim.lr=0.5 --set=train.epochs=3
expect_out "lr = 0.5" "--set optim.lr=0.5 is in the effective config"
expect_out "epochs = 3" "--set=train.epochs=3 is in the effective config"
cp "$WORK/out.txt" printed.ini
expect_rc 0 "the printed config is a valid config" "$NNMPI" config -c printed.ini
cmp -s printed.ini "$WORK/out.txt" && pass "printing is a fixed point" || fail "config -c printed.ini prints something else"

expect_rc 0 "config --doc" "$NNMPI" config --doc
expect_out "# Configuration reference" "--doc prints the reference"

for args in "--bogus" "-c" "--set optim.lr=abc"; do
  rc=0; "$NNMPI" config $args >stdout.txt 2>"$WORK/out.txt" || rc=$?
  [ "$rc" = 2 ] && pass "config $args: exit 2" || fail "config $args: exit $rc, expected 2"
  [ -s stdout.txt ] && fail "config $args printed to stdout" || pass "config $args: nothing on stdout"
done
"$NNMPI" config --bogus 2>"$WORK/out.txt" >/dev/null || true
expect_out "unknown option '--bogus'" "unknown option named"
"$NNMPI" config -c 2>"$WORK/out.txt" >/dev/null || true
expect_out "-c needs an argument" "missing argument named"
"$NNMPI" config --set optim.lr=abc 2>"$WORK/out.txt" >/dev/null || true
expect_out '--set optim.lr=abc: optim.lr: expected a number, got "abc"' "bad --set value named"
expect_rc 0 "config --help" "$NNMPI" config --help
expect_out "usage: nnmpi config" "--help prints usage"
finish
