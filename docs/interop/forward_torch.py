"""An nnmpi checkpoint -> a PyTorch nn.Sequential, compared with `nnmpi predict` (docs/interop.md).

    /usr/bin/python3 forward_torch.py CKPT.h5 DATA.h5:/test PREDS.h5

Needs Debian's python3-torch; uses load_model, read_X and read_predictions of forward_numpy.py
(keep both files in one directory). Exits 1 when the largest difference exceeds 1e-5.
"""
import sys

import numpy as np
import torch
from torch import nn

from forward_numpy import load_model, read_X, read_predictions


def activation(name, slope):
    return {"sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "relu": nn.ReLU(),
            "leaky_relu": nn.LeakyReLU(slope), "linear": nn.Identity(),
            "softmax": nn.Softmax(dim=1)}[name]


def to_torch(model):
    """nn.Sequential of nn.Linear + activation per layer. nn.Linear computes x @ weight.T + bias
    with weight (fan_out, fan_in), so weight = W.T."""
    mods = []
    for i, (W, b) in enumerate(model["layers"]):
        lin = nn.Linear(W.shape[0], W.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.from_numpy(b))
        last = i == len(model["layers"]) - 1
        mods += [lin, activation(model["output"] if last else model["hidden"], model["leaky_slope"])]
    return nn.Sequential(*mods)


if __name__ == "__main__":
    ckpt, data, preds = sys.argv[1:4]
    net = to_torch(load_model(ckpt)).eval()
    with torch.no_grad():
        ours = net(torch.from_numpy(read_X(data))).numpy()
    theirs, _ = read_predictions(preds)
    diff = float(np.abs(ours.astype(np.float64) - theirs).max())
    print(net)
    print(f"max |torch - nnmpi predict| = {diff:.3g}")
    sys.exit(0 if diff <= 1e-5 else 1)
