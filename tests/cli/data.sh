#!/bin/bash
# Data and model files through the executable: import the real Fashion-MNIST (Debian's
# dataset-fashion-mnist) and CSV, inspect (good, damaged, checkpoints), train on a file, then
# eval and predict distributed over ranks, with their exit codes.
source "$(dirname "$0")/lib.sh"

fm=/usr/share/datasets/fashion-mnist
if [ -f $fm/t10k-images-idx3-ubyte.gz ]; then
  expect_rc 0 "import-idx of Fashion-MNIST t10k" "$NNMPI" data import-idx --images $fm/t10k-images-idx3-ubyte.gz \
    --labels $fm/t10k-labels-idx1-ubyte.gz --out fm.h5 --split /test
  expect_rc 0 "inspect the import" "$NNMPI" inspect fm.h5
  expect_out "X  (10000, 784) uint8" "inspect shows shape and dtype"
  expect_out "0: 1000" "inspect shows class balance"
else
  echo "SKIP (visible): Fashion-MNIST import, $fm not installed (scripts/install-deps installs it)"
fi

# a CSV regression set: features in columns 1-3, target in column 4
{ echo "a,b,c,t"; for i in $(seq 0 199); do echo "$i,$((i % 7)),0.5,$((i % 3))"; done; } > reg.csv
expect_rc 0 "import-csv with header and a target column" "$NNMPI" data import-csv --in reg.csv --out reg.h5 --header --target-cols 4
printf 'a,b\n1,2\n3\n' > ragged.csv
expect_rc 3 "ragged CSV" "$NNMPI" data import-csv --in ragged.csv --out bad.h5 --header --label-col 2
expect_out "ragged.csv:3: 1 columns, expected 2" "ragged row named by file:line"
expect_rc 2 "import-csv without --out" "$NNMPI" data import-csv --in reg.csv

# train on a file, checkpoint, then inspect / eval / predict
expect_rc 0 "synth blobs" "$NNMPI" data synth --kind blobs --n 3000 --n-test 600 --out blobs.h5
expect_rc 0 "train on blobs.h5, 2 ranks" mpi 2 train --set data.path=blobs.h5 --set model.layers=2,16,3 \
  --set train.epochs=3 --set log.run_dir=run
ck=$(newest_ckpt run)
expect_rc 0 "data.path = FILE:/group selects the training split" mpi 1 train --set data.path=blobs.h5:/test \
  --set model.layers=2,16,3 --set train.epochs=1 --set log.run_dir=run-spec
expect_out "600 rows" "trained on the 600 rows of /test"
expect_out "data: blobs.h5:/test: 600 rows" "the start line names the split trained on (not data.train)"
expect_rc 0 "inspect a checkpoint" "$NNMPI" inspect "$ck"
expect_out "step" "checkpoint summary shows the step"
for np in 1 3; do
  expect_rc 0 "eval on $np rank(s)" mpi $np eval --model "$ck" --data blobs.h5:/test
  grep '^accuracy' out.txt > acc$np.txt
done
cmp -s acc1.txt acc3.txt && pass "eval: same accuracy on 1 and 3 ranks ($(cat acc1.txt))" || fail "eval differs across ranks"
acc=$(last_eval run accuracy); grep -q "$(printf '%.4f' "$acc")" acc1.txt && pass "eval matches the training run's last eval" \
  || fail "eval $(cat acc1.txt) vs training $acc"
expect_rc 0 "predict on 2 ranks" mpi 2 predict --model "$ck" --data blobs.h5:/test --out preds.h5
expect_out "600 rows x 3 outputs" "predict wrote every row"
h5dump -H preds.h5 > h.txt 2>&1 && grep -q "predicted" h.txt && grep -q "( 600, 3 )" h.txt \
  && pass "preds.h5 has /outputs (600, 3) and /predicted" || fail "preds.h5 layout"
expect_rc 0 "predict on 1 rank" mpi 1 predict --model "$ck" --data blobs.h5:/test --out preds1.h5
h5diff -q preds.h5 preds1.h5 /outputs /outputs && pass "predictions identical on 1 and 2 ranks" || fail "predictions differ"
expect_rc 0 "inspect a predictions file" "$NNMPI" inspect preds.h5
expect_out "outputs      (600, 3) float32" "inspect summarises the predictions"
expect_rc 4 "eval of a missing checkpoint" mpi 1 eval --model nope.h5 --data blobs.h5:/test
expect_rc 2 "eval without --model" "$NNMPI" eval --data blobs.h5:/test
expect_rc 3 "eval on a split with other features" mpi 1 eval --model "$ck" --data reg.h5:/train

# damaged files: a flipped byte in a dataset chunk, a truncated checkpoint
cp blobs.h5 flip.h5
size=$(stat -c %s flip.h5)
printf '\xff\xff\xff\xff' | dd of=flip.h5 bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_rc 3 "inspect a byte-flipped dataset" "$NNMPI" inspect flip.h5
head -c 5000 "$ck" > trunc.h5
expect_rc 4 "inspect a truncated checkpoint" "$NNMPI" inspect trunc.h5
expect_rc 3 "inspect a missing file" "$NNMPI" inspect missing.h5
finish
