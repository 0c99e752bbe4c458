# slurm_train: jobs/train.sbatch on 2 tasks with configs/spirals.ini under the private cluster:
# the run dir named after the job (%j) holds config.ini, metrics.jsonl and checkpoints, every
# epoch was evaluated once, the final accuracy is printed and good, the checkpoint holds the model.
. "$(dirname "$0")/slurm/lib.sh"
need_trainer
slurm_up
export CONFIG=$SRC/configs/spirals.ini

log "train.sbatch, 2 tasks, spirals"
id=$(sbatch --parsable -n 2 --time=10 "$SRC/jobs/train.sbatch" --set train.epochs=10) || fail "sbatch"
st=$(job_wait "$id" 180) || fail "job $id ended $st"
out=nnmpi-train-$id.out
run=runs/spirals-$id
[ -f "$out" ] || fail "no output file $out (--output=%x-%j.out)"
grep -q "nnmpi train: 2 rank(s)" "$out" || fail "$out: not 2 ranks"
grep -q '^done: epoch 10, step 630,' "$out" || fail "$out: no 'done: epoch 10, step 630' line"
grep -q 'nnmpi exited with 0' "$out" || fail "$out: exit code line missing"
[ -f "$run/config.ini" ] && [ -f "$run/metrics.jsonl" ] || fail "$run: config.ini / metrics.jsonl missing (log.run_dir %j -> $id?)"
grep -q '^epochs = 10$' "$run/config.ini" || fail "$run/config.ini: the --set override train.epochs=10 is not in the effective config"
evals_once "$run/metrics.jsonl" 10
ck=$(newest_ckpt "$run"); [ "$(ckpt_step "$ck")" = 630 ] || fail "$run: newest checkpoint '$ck', expected step 630"
acc=$(sed -n 's/^done:.*last eval (epoch 10) loss [0-9.]* accuracy \([0-9.]*\)$/\1/p' "$out")
[ -n "$acc" ] || fail "$out: final accuracy not printed"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || fail "final accuracy $acc < 0.9 on spirals after 10 epochs"
h5dump -H -d /model/layer_000/W "$ck" > w.txt 2>&1 && grep -q "DATASPACE  SIMPLE { ( 2, 64 )" w.txt ||
  fail "$ck: no /model/layer_000/W of shape (2, 64): $(cat w.txt)"
log "final accuracy $acc, checkpoint $ck"

log "a config error fails the job with exit 2"
id=$(sbatch --parsable -n 1 "$SRC/jobs/train.sbatch" --set optim.lr=banana) || fail "sbatch"
st=$(job_wait "$id" 60) && fail "job with a bad --set reported COMPLETED"
[ "$(job_field "$id" ExitCode)" = 2:0 ] || fail "job $id: ExitCode $(job_field "$id" ExitCode), expected 2:0"
grep -q 'optim.lr' "nnmpi-train-$id.out" || fail "nnmpi-train-$id.out: the message does not name optim.lr"
echo "slurm_train: all checks passed"
