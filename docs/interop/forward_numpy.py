"""An nnmpi checkpoint -> a numpy forward pass, compared with `nnmpi predict` (docs/interop.md).

    /usr/bin/python3 forward_numpy.py CKPT.h5 DATA.h5:/test PREDS.h5

PREDS.h5 comes from `nnmpi predict --model CKPT.h5 --data DATA.h5:/test --out PREDS.h5`.
Prints the largest difference and exits 1 when it exceeds 1e-5.
"""
import sys

import h5py
import numpy as np


def text(a):  # nnmpi writes fixed-length strings: h5py returns bytes
    return a.decode() if isinstance(a, bytes) else str(a)


def load_model(path):
    """Layers [(W (fan_in, fan_out), b (fan_out,))], activation names and leaky_slope."""
    with h5py.File(path, "r") as f:
        m = f["/model"]
        L = len(m.attrs["sizes"]) - 1
        layers = [(m[f"layer_{i:03d}/W"][...], m[f"layer_{i:03d}/b"][...]) for i in range(L)]
        return dict(layers=layers, hidden=text(m.attrs["hidden"]), output=text(m.attrs["output"]),
                    loss=text(m.attrs["loss"]), leaky_slope=float(m.attrs["leaky_slope"]))


def activate(name, Z, slope):
    if name == "sigmoid":
        return np.exp(-np.logaddexp(0, -Z)).astype(Z.dtype)  # 1 / (1 + e^-z) without overflow
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, slope * Z).astype(Z.dtype)
    if name == "linear":
        return Z
    if name == "softmax":  # per row, shifted by the row's max
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)
    raise ValueError(f"unknown activation {name}")


def forward(model, X):
    """Output activations (N, K): Z = A @ W + b, A = g(Z), float32 like nnmpi."""
    A = np.asarray(X, np.float32)
    for i, (W, b) in enumerate(model["layers"]):
        last = i == len(model["layers"]) - 1
        A = activate(model["output"] if last else model["hidden"], A @ W + b, model["leaky_slope"])
    return A


def read_X(spec):
    """X of "FILE.h5:/group" as float32, uint8 scaled as nnmpi does: v * scale + offset."""
    path, group = spec.rsplit(":", 1)
    with h5py.File(path, "r") as f:
        x = f[group]["X"]
        X = x[...]
        if X.dtype == np.uint8:
            scale = np.float32(x.attrs.get("scale", 1))
            offset = np.float32(x.attrs.get("offset", 0))
            X = X.astype(np.float32) * scale + offset
        return X.astype(np.float32)


def read_predictions(path):
    """/outputs (N, K) float32 and, for classifiers, /predicted (N,) int32 (else None)."""
    with h5py.File(path, "r") as f:
        predicted = f["predicted"][...] if "predicted" in f else None
        return f["outputs"][...], predicted


if __name__ == "__main__":
    ckpt, data, preds = sys.argv[1:4]
    model = load_model(ckpt)
    ours = forward(model, read_X(data))
    theirs, predicted = read_predictions(preds)
    diff = float(np.abs(ours.astype(np.float64) - theirs).max())
    sizes = [model["layers"][0][0].shape[0]] + [W.shape[1] for W, _ in model["layers"]]
    print(f"{ckpt}: {sizes} {model['hidden']}/{model['output']}, {len(ours)} rows")
    print(f"max |numpy - nnmpi predict| = {diff:.3g}")
    if predicted is not None:  # argmax, or output > 0.5 for one sigmoid unit
        cls = ours.argmax(axis=1) if ours.shape[1] > 1 else (ours[:, 0] > 0.5).astype(np.int32)
        print(f"predicted classes agree on {int((cls == predicted).sum())} of {len(cls)} rows")
    sys.exit(0 if diff <= 1e-5 else 1)
