#!/bin/bash
# Issue 11, the command line: empty --resume (4) and log.run_dir (9), options given twice and
# hexadecimal numbers (14), FIFOs where files are expected never block (11), and a file the user
# may not read is reported as "Permission denied" (13; root only, via setpriv).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/robust_lib.sh"
one() { "$NNMPI" "$@"; }   # one rank, no launcher

# ---- 4. --resume ""
expect 2 '4: train --resume ""' one train --resume "" --set train.epochs=1 --set log.run_dir=r4
has -e "--resume" "4: the message names --resume"

# ---- 9. --set log.run_dir= (empty)
expect 2 "9: train --set log.run_dir= (empty)" one train --set log.run_dir= --set train.epochs=1
has -e "log.run_dir" "9: the message names log.run_dir"

# ---- 14. options given twice, hexadecimal numbers
printf '[train]\nepochs = 1\n' > a.ini
printf '[train]\nepochs = 2\n' > b.ini
expect 2 "14: train -c a.ini -c b.ini" one train -c a.ini -c b.ini --set log.run_dir=r14c
has_re -e "(^|[^-[:alnum:]])-c([^[:alnum:]]|$)" "14: the message names -c"
has_re -e "twice|more than once" "14: ... and says it was given twice"
expect 2 "14: train --resume auto --resume never" one train --resume auto --resume never --set train.epochs=1 \
  --set log.run_dir=r14r
expect 2 "14: --set optim.lr=0x10 (hexadecimal)" one train --set optim.lr=0x10 --set train.epochs=1 --set log.run_dir=r14x
has -e "0x10" "14: the message quotes 0x10"
printf '[optim]\nlr = 0x10\n' > hex.ini
expect 2 "14: lr = 0x10 in an INI file (hexadecimal)" one train -c hex.ini --set train.epochs=1 --set log.run_dir=r14h
has -e "0x10" "14: the message quotes 0x10"

# ---- 11. FIFOs never block: all cases run at once (each bounded by timeout 20, 124 = it blocked)
mkfifo f-config f-inspect f-eval f-resume
mkdir -p r11d/checkpoints && mkfifo r11d/checkpoints/ckpt-99999999.h5
fifo_case() { # NAME CMD...: in the background; rc and milliseconds to fifo-NAME.rc
  local name=$1; shift
  ( t0=$(date +%s%N); rc=0
    timeout -k 5 20 "$@" >"$WORK/fifo-$name.out" 2>&1 || rc=$?
    echo "$rc $((($(date +%s%N) - t0) / 1000000))" >"$WORK/fifo-$name.rc" ) 2>/dev/null &
}
fifo_case config "$NNMPI" train -c f-config --set log.run_dir=r11a
fifo_case inspect "$NNMPI" inspect f-inspect
fifo_case eval "$NNMPI" eval --model f-eval
fifo_case resume "$NNMPI" train --resume f-resume --set train.epochs=1 --set log.run_dir=r11b
fifo_case ckptdir "$NNMPI" train --set train.epochs=1 --set log.run_dir=r11d --set log.progress=lines
wait
for c in "config 2 train -c FIFO" "inspect 3 inspect FIFO" "eval 4 eval --model FIFO" "resume 4 train --resume FIFO" \
         "ckptdir 0 train, FIFO ckpt-99999999.h5 in the checkpoint dir"; do
  set -- $c; name=$1 want=$2; shift 2
  read -r RC ms <"$WORK/fifo-$name.rc"
  cp "$WORK/fifo-$name.out" "$WORK/out.txt"; : >"$WORK/se.txt"; SHOWN=0
  if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then fail "11: $*: blocked (killed by timeout after $ms ms)"
  else rc_is "$want" "11: $* ($ms ms)"; fi
  [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ] && [ "$ms" -le 10000 ] && pass "11: $*: returned within 10 s" \
    || fail "11: $*: took $ms ms"
done
cp "$WORK/fifo-ckptdir.out" "$WORK/out.txt"
if grep "ckpt-99999999.h5" "$WORK/out.txt" | grep -qviE '^(resumed from|checkpoint) '; then pass "11: a warning names the FIFO ckpt-99999999.h5"
else fail "11: no warning naming ckpt-99999999.h5"; fi

# ---- 13. a dataset file the user may not read: "Permission denied", not "not an HDF5 file"
if [ "$(id -u)" -ne 0 ]; then skip "13: permission denied (needs root to run as another user)"
elif ! command -v setpriv >/dev/null; then skip "13: permission denied (setpriv missing)"
else
  nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$WORK/perm")
  chmod 0755 "$WORK"; mkdir -p perm; chmod 0777 perm
  "$NNMPI" data synth --kind spirals --n 200 --out perm/secret.h5 >/dev/null
  chmod 0600 perm/secret.h5
  if ! "${nobody[@]}" "$NNMPI" --version >/dev/null 2>&1; then
    skip "13: permission denied (uid 65534 cannot run $NNMPI)"
  else
    cd perm
    run "${nobody[@]}" "$NNMPI" inspect secret.h5
    [ "$RC" -ne 0 ] && pass "13: inspect of a 0600 root file as uid 65534 fails (exit $RC)" || fail "13: inspect as uid 65534: exit 0"
    has "Permission denied" "13: inspect says Permission denied"
    lacks "not an HDF5 file" "13: inspect does not say 'not an HDF5 file'"
    run "${nobody[@]}" "$NNMPI" train --set data.path=secret.h5 --set train.epochs=1 --set log.run_dir="$WORK/perm/run"
    [ "$RC" -ne 0 ] && pass "13: train on it as uid 65534 fails (exit $RC)" || fail "13: train as uid 65534: exit 0"
    has "Permission denied" "13: train says Permission denied"
    lacks "not an HDF5 file" "13: train does not say 'not an HDF5 file'"
    cd "$WORK"
  fi
fi

finish_robust
