"""A predictions file and a run's metrics.jsonl, read with h5py and plain json (docs/interop.md).

    /usr/bin/python3 read_results.py PREDS.h5 RUN_DIR/metrics.jsonl
"""
import json
import sys

import h5py
import numpy as np

from forward_numpy import read_predictions, text


def targets(spec):
    """y (N,) or Y (N, K) of "FILE.h5:/group"."""
    path, group = spec.rsplit(":", 1)
    with h5py.File(path, "r") as f:
        g = f[group]
        return g["y"][...] if "y" in g else g["Y"][...]


def read_metrics(path):
    """Every event of metrics.jsonl (one JSON object per line) as a dict."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


if __name__ == "__main__":
    preds, metrics = sys.argv[1:3]
    outputs, predicted = read_predictions(preds)
    with h5py.File(preds, "r") as f:  # which model and data made it
        model, data = text(f.attrs["model"]), text(f.attrs["data"])
    t = targets(data)
    print(f"{preds}: {outputs.shape[0]} rows x {outputs.shape[1]} outputs of {model} on {data}")
    if predicted is not None:
        print(f"accuracy {np.mean(predicted == t):.4f}")
    else:
        err = outputs.astype(np.float64) - t
        print(f"mse {np.mean(err ** 2):.6g}\nmae {np.mean(np.abs(err)):.6g}")

    events = read_metrics(metrics)
    for e in events:
        if e["event"] == "eval":  # accuracy for classifiers, mse and mae for regression
            metric = f"accuracy {e['accuracy']:.4f}" if "accuracy" in e else f"mse {e['mse']:.6g}"
            print(f"eval epoch {e['epoch']:3d} step {e['step']:6d} loss {e['loss']:.6f} {metric}")
    s = [e for e in events if e["event"] == "summary"][-1]
    print(f"summary: {s['epoch']} epochs, {s['step']} steps, {s['samples']} samples in {s['wall']:.2f} s")
