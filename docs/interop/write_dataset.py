"""numpy arrays -> an nnmpi dataset file (docs/interop.md). Run with /usr/bin/python3.

    /usr/bin/python3 write_dataset.py classes|binary|regression|uint8 OUT.h5

The example arrays below are made up; put yours in their place.
"""
import sys

import h5py
import numpy as np


def write_split(f, group, X, y=None, Y=None, scale=None, offset=0.0):
    """One split: X (N, D) float32, or uint8 with x = v * scale + offset;
    y (N,) integer class labels, or Y (N, K) float regression targets."""
    X = np.asarray(X)
    if X.dtype != np.uint8:
        X = X.astype(np.float32)
    rows = max(1, min(len(X), 262144 // max(1, X[0].nbytes)))  # chunks of whole rows, ~256 KiB
    filters = dict(shuffle=True, compression="gzip", compression_opts=4, fletcher32=True)
    g = f.create_group(group)
    x = g.create_dataset("X", data=X, chunks=(rows, X.shape[1]), maxshape=(None, X.shape[1]), **filters)
    if X.dtype == np.uint8:
        x.attrs["scale"] = np.float32(scale)
        x.attrs["offset"] = np.float32(offset)
    if y is not None:
        g.create_dataset("y", data=np.asarray(y, np.int32), chunks=(rows,), maxshape=(None,), **filters)
    else:
        Y = np.asarray(Y, np.float32).reshape(len(X), -1)
        g.create_dataset("Y", data=Y, chunks=(rows, Y.shape[1]), maxshape=(None, Y.shape[1]), **filters)


def write_dataset(path, splits, num_classes, class_names=None):
    """splits: {"/train": dict(X=..., y=...), "/test": ...}; num_classes = 0 for regression."""
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_("nnmpi-dataset")  # fixed-length strings, as nnmpi writes them
        f.attrs["format_version"] = np.int32(1)
        f.attrs["num_classes"] = np.int32(num_classes)
        if class_names:
            f.attrs["class_names"] = np.bytes_(",".join(class_names))
        f.attrs["source"] = np.bytes_("h5py " + h5py.__version__ + ", docs/interop/write_dataset.py")
        for group, arrays in splits.items():
            write_split(f, group, **arrays)


def example(kind, n=1200, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "classes":  # 3 Gaussian blobs in 4-D, labels 0..2
        centres = rng.normal(0, 3, (3, 4))
        y = np.arange(n) % 3
        X = centres[y] + rng.normal(0, 1, (n, 4))
        return dict(X=X, y=y), 3, ["red", "green", "blue"]
    if kind == "binary":  # inside (1) or outside (0) the unit circle; one sigmoid output
        X = rng.uniform(-1.5, 1.5, (n, 2))
        return dict(X=X, y=(np.hypot(X[:, 0], X[:, 1]) < 1).astype(np.int32)), 2, None
    if kind == "regression":  # 2 real-valued targets of 4 inputs
        X = rng.normal(0, 1, (n, 4))
        Y = np.stack([np.sin(X[:, 0]) + X[:, 1] * X[:, 2], np.abs(X[:, 3]) - 0.5 * X[:, 0]], axis=1)
        return dict(X=X, Y=Y), 0, None
    if kind == "uint8":  # 8x8 "images" of 4 classes, stored as bytes: x = v / 255 - 0.5
        y = np.arange(n) % 4
        img = rng.integers(0, 200, (n, 8, 8))
        for c in range(4):  # class c has a bright row band at rows 2c, 2c+1
            img[y == c, 2 * c:2 * c + 2, :] += 40
        v = img.reshape(n, 64).astype(np.uint8)
        return dict(X=v, y=y, scale=1 / 255, offset=-0.5), 4, None
    raise SystemExit(f"unknown kind {kind!r}: classes, binary, regression or uint8")


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    arrays, num_classes, names = example(kind)
    cut = len(arrays["X"]) * 4 // 5  # first 80 % of the rows train, the rest test
    train = {k: v[:cut] if k in ("X", "y", "Y") else v for k, v in arrays.items()}
    test = {k: v[cut:] if k in ("X", "y", "Y") else v for k, v in arrays.items()}
    write_dataset(out, {"/train": train, "/test": test}, num_classes, names)
    print(f"{out}: {kind}, {cut} train and {len(arrays['X']) - cut} test rows")
