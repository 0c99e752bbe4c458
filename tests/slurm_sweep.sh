# slurm_sweep: jobs/sweep.sbatch as a job array over an override table: every task runs in its
# own run dir (runs/sweep-<array job>/<task>, or its own log.run_dir with %A/%a expanded by
# nnmpi) with its line's overrides in the effective config (config.ini) and its epochs trained.
. "$(dirname "$0")/slurm/lib.sh"
need_trainer
slurm_up
export CONFIG=$SRC/configs/spirals.ini
cat > table.txt <<'T'
# lr / optimizer sweep for the test
optim.lr=0.02 train.epochs=3

optim.name=sgd optim.lr=0.1 train.epochs=2
optim.name=momentum optim.lr=0.05 train.epochs=2 log.run_dir=runs/custom-%A-%a
T

log "sweep.sbatch --array=1-3"
id=$(SWEEP=table.txt sbatch --parsable --array=1-3 "$SRC/jobs/sweep.sbatch" --set model.seed=7) || fail "sbatch"
st=$(job_wait "$id" 300) || fail "array job $id ended $st"
check() { # TASK RUN_DIR OPTIMIZER LR EPOCHS
  local f=$2/config.ini
  [ -f "$f" ] || fail "task $1: no $f"
  [ "$(ini_get "$f" optim name)" = "$3" ] || fail "task $1: $f has optim.name=$(ini_get "$f" optim name), expected $3"
  [ "$(ini_get "$f" optim lr)" = "$4" ] || fail "task $1: $f has optim.lr=$(ini_get "$f" optim lr), expected $4"
  [ "$(ini_get "$f" train epochs)" = "$5" ] || fail "task $1: $f has train.epochs=$(ini_get "$f" train epochs), expected $5"
  [ "$(ini_get "$f" model seed)" = 7 ] || fail "task $1: the extra argument --set model.seed=7 was not applied"
  evals_once "$2/metrics.jsonl" "$5"
  grep -q "sweep task $1 " "nnmpi-sweep-${id}_$1.out" || fail "task $1: no output nnmpi-sweep-${id}_$1.out"
}
check 1 "runs/sweep-$id/1" adam 0.02 3
check 2 "runs/sweep-$id/2" sgd 0.1 2
check 3 "runs/custom-$id-3" momentum 0.05 2
[ -d "runs/sweep-$id/3" ] && fail "task 3 also wrote runs/sweep-$id/3"
[ "$(ls "runs/sweep-$id")" = "$(printf '1\n2')" ] || fail "runs/sweep-$id holds $(ls "runs/sweep-$id" | tr '\n' ' ')"
echo "slurm_sweep: all checks passed"
