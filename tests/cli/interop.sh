#!/bin/bash
# The Python recipes of docs/interop.md, end to end with the built nnmpi:
#   interop.sh numpy   the doc's code blocks equal docs/interop/*.py; numpy arrays -> dataset files
#                      (float32 + int32 y, regression Y, uint8 + scale/offset) -> inspect -> train
#                      -> predict; a numpy forward pass of each checkpoint equals /outputs within
#                      1e-5; accuracy/mse from the predictions file equal `nnmpi eval`.
#   interop.sh torch   the same models loaded into a PyTorch nn.Sequential, within 1e-5.
# Python is Debian's (/usr/bin/python3, or $NN_PYTHON). Without h5py/numpy (numpy) or torch
# (torch) the test prints SKIP and exits 77, which CTest reports as skipped.
source "$(dirname "$0")/lib.sh"
mode=${1:?usage: interop.sh numpy|torch}
PY=${NN_PYTHON:-/usr/bin/python3}
R=$SRC/docs/interop
export OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1  # torch on one thread; no __pycache__ in the source tree

skip() { echo "SKIP (visible): $*"; exit 77; }
[ -x "$PY" ] || skip "$PY not found (Debian's python3; scripts/install-deps installs python3-h5py and python3-numpy)"

if [ "$mode" = numpy ]; then
  # what the doc shows is what this test runs (stdlib only, so it runs even without numpy)
  expect_rc 0 "docs/interop.md code blocks equal docs/interop/*.py" "$PY" "$SRC/tests/cli/doc_includes.py" docs/interop.md
  cat out.txt
  if ! "$PY" -c "import h5py, numpy" 2>/dev/null; then
    finish || exit 1
    skip "python3-h5py or python3-numpy not importable by $PY (scripts/install-deps installs them)"
  fi
  run_recipe() { "$PY" "$R/forward_numpy.py" "$@"; }
  what=numpy
else
  "$PY" -c "import h5py, numpy" 2>/dev/null || skip "python3-h5py or python3-numpy not importable by $PY"
  "$PY" -c "import torch" 2>/dev/null || skip "PyTorch not importable by $PY (apt-get install python3-torch, or NN_WITH_TORCH=1 scripts/install-deps)"
  run_recipe() { "$PY" "$R/forward_torch.py" "$@"; }
  what=torch
fi

# 1. numpy arrays -> nnmpi dataset files, which nnmpi inspects without complaint
for kind in classes binary regression uint8; do
  expect_rc 0 "write_dataset.py $kind" "$PY" "$R/write_dataset.py" $kind $kind.h5
  expect_rc 0 "nnmpi inspect $kind.h5" "$NNMPI" inspect $kind.h5
  expect_out "format       nnmpi-dataset, version 1" "$kind.h5: format attributes read"
  expect_out "verdict      ok: 2 splits verified" "$kind.h5: both splits verify"
  case $kind in
    classes) expect_out "class_names  red,green,blue" "class_names read"; expect_out "X  (960, 4) float32" "float32 X";;
    regression) expect_out "num_classes  0" "regression: num_classes 0"; expect_out "Y  (960, 2) float32" "Y targets";;
    uint8) expect_out "X  (960, 64) uint8" "uint8 X"; expect_out "x = v * 0.00392157 + -0.5" "scale and offset read";;
  esac
done

# 2. train each model (a few seconds in all), predict /test, run the recipe against /outputs
#    name      data        layers      hidden      output   loss           extra --set
models="softmax   classes     4,16,16,3   relu        softmax  cross_entropy  -
bce       binary      2,16,1      sigmoid     sigmoid  bce            -
reg_tanh  regression  4,16,16,2   tanh        linear   mse            -
reg_leaky regression  4,16,16,2   leaky_relu  linear   mse            model.leaky_slope=0.2
uint8     uint8       64,32,4     relu        softmax  cross_entropy  -"
summary=""
while read -r -u 3 name data layers hidden output loss extra; do
  sets=(--set data.path=$data.h5 --set model.layers=$layers --set model.hidden_activation=$hidden
        --set model.output_activation=$output --set model.loss=$loss --set train.epochs=4
        --set train.batch_size=32 --set optim.lr=0.01 --set log.run_dir=run-$name)
  [ "$extra" != - ] && sets+=(--set "$extra")
  expect_rc 0 "$name: train on 2 ranks" mpi 2 train "${sets[@]}"
  ck=$(newest_ckpt run-$name)
  expect_rc 0 "$name: predict /test on 2 ranks" mpi 2 predict --model "$ck" --data $data.h5:/test --out $name-preds.h5
  expect_rc 0 "$name: $what forward pass equals nnmpi predict within 1e-5" run_recipe "$ck" $data.h5:/test $name-preds.h5
  cat out.txt
  diff=$(sed -n -E 's/^max \|[a-z]+ - nnmpi predict\| = (.*)$/\1/p' out.txt)
  summary+="  $name ($layers $hidden/$output, $loss): max |$what - predict| = ${diff:-?}"$'\n'
  if [ $mode = numpy ] && [ $loss != mse ]; then
    grep -qE "agree on ([0-9]+) of \1 rows" out.txt && pass "$name: numpy argmax equals /predicted on every row" \
      || fail "$name: predicted classes differ"
  fi
  # a check that can fail: the first epoch's checkpoint does not reproduce the last one's outputs
  # (torch: for the first model only, each start of PyTorch costs 2 s of CPU)
  if [ $mode = numpy ] || [ $name = softmax ]; then
    first=$(ls run-$name/checkpoints/ckpt-*.h5 | head -n 1)
    expect_rc 1 "$name: $what forward pass of an earlier checkpoint is told apart" run_recipe "$first" $data.h5:/test $name-preds.h5
  fi
  if [ $mode = numpy ]; then  # the predictions file and metrics.jsonl, read with h5py and json
    expect_rc 0 "$name: read_results.py" "$PY" "$R/read_results.py" $name-preds.h5 run-$name/metrics.jsonl
    cp out.txt results.txt
    expect_out "eval epoch   4 step " "$name: metrics.jsonl eval events read"
    expect_rc 0 "$name: nnmpi eval" mpi 1 eval --model "$ck" --data $data.h5:/test
    for m in accuracy mse mae; do
      ours=$(sed -n "s/^$m //p" results.txt); theirs=$(sed -n "s/^$m //p" out.txt)
      [ -z "$theirs" ] && continue
      awk -v a="$ours" -v b="$theirs" 'BEGIN{d=a-b; if(d<0)d=-d; exit !(a != "" && d <= 1e-4 * (1 + (b<0?-b:b)))}' \
        && pass "$name: $m from the predictions file ($ours) equals nnmpi eval ($theirs)" \
        || fail "$name: $m from the predictions file ($ours) vs nnmpi eval ($theirs)"
    done
  fi
done 3<<<"$models"

echo "measured ($what recipe vs nnmpi predict on the 240 /test rows):"
printf '%s' "$summary"
finish
