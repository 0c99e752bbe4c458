#!/usr/bin/python3
"""Side-by-side: nnmpi vs PyTorch (single process and DDP over gloo) on the same MLP.

784-256-128-10 ReLU, softmax cross-entropy, Adam lr 1e-3 (constant), global batch 128,
Fashion-MNIST from data/fashion-mnist.h5, one BLAS/intra-op thread per process, EPOCHS epochs of
training (no evaluation, no checkpoints). Each configuration runs REPS times, alternating, and
the medians of the training-loop wall times are compared in the same run. Writes
bench/results/torch-compare.txt. Optional: needs Debian's python3-torch and python3-h5py.

    /usr/bin/python3 bench/torch_compare.py [BUILD_DIR] [REPS] [EPOCHS]

One single-process run for bench/scaling.sh (TORCH=1), printing one JSON line {"wall", "samples",
"steady_samples_per_s"}: the same MLP family, Adam, global batch, step count and thread count:

    /usr/bin/python3 bench/torch_compare.py --one LAYERS BATCH STEPS     (LAYERS like 784-256-128-10)
"""
import json, os, statistics, subprocess, sys, tempfile, time

import h5py
import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONE = len(sys.argv) > 1 and sys.argv[1] == "--one"
BUILD = sys.argv[1] if len(sys.argv) > 1 and not ONE else os.path.join(ROOT, "build")
REPS = int(sys.argv[2]) if len(sys.argv) > 2 and not ONE else 3
EPOCHS = int(sys.argv[3]) if len(sys.argv) > 3 and not ONE else 2
DATA = os.path.join(ROOT, "data", "fashion-mnist.h5")
B = 128


def load():
    with h5py.File(DATA, "r") as f:
        X = f["/train/X"][...].astype(np.float32) / 255.0
        y = f["/train/y"][...].astype(np.int64)
    return torch.from_numpy(X), torch.from_numpy(y)


def model():
    return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                               torch.nn.ReLU(), torch.nn.Linear(128, 10))


def train(rank, world, out, port):
    torch.set_num_threads(1)
    torch.manual_seed(1)
    X, y = load()
    net = model()
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
        net = torch.nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(1)
    per = B // world
    t0 = time.perf_counter()
    for _ in range(EPOCHS):
        perm = torch.randperm(len(X), generator=g)
        for k in range(0, len(X), B):
            idx = perm[k:k + B][rank * per:(rank + 1) * per]
            opt.zero_grad(set_to_none=True)
            lossf(net(X[idx]), y[idx]).backward()
            opt.step()
    if world > 1:
        dist.barrier()
    t = time.perf_counter() - t0
    if rank == 0:
        with open(out, "w") as f:
            f.write(str(t))
    if world > 1:
        dist.destroy_process_group()


def torch_run(world, port):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        out = f.name
    if world == 1:
        train(0, 1, out, port)
    else:
        mp.spawn(train, args=(world, out, port), nprocs=world)
    t = float(open(out).read())
    os.unlink(out)
    return t


def nnmpi_run(np_):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    with tempfile.TemporaryDirectory() as d:
        sets = ["data.path=" + DATA, "train.epochs=%d" % EPOCHS, "train.eval_every=0", "optim.schedule=constant",
                "optim.warmup_steps=0", "optim.lr=0.001", "checkpoint.every_epoch=false", "checkpoint.at_end=false",
                "log.progress=none", "log.run_dir=" + d]
        cmd = ["mpirun", "-np", str(np_), os.path.join(BUILD, "src", "nnmpi"), "train", "-c",
               os.path.join(ROOT, "configs", "fashion-mnist.ini")]
        for s in sets:
            cmd += ["--set", s]
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        for line in open(os.path.join(d, "metrics.jsonl")):
            ev = json.loads(line)
            if ev.get("event") == "summary":
                return ev["wall"]
    raise RuntimeError("no summary in metrics.jsonl")


def one(layers, batch, steps):
    """Single process, one intra-op thread: `steps` Adam steps of an MLP of `layers` (ReLU hidden,
    softmax cross-entropy) on Fashion-MNIST batches of `batch` random rows; wall time of the loop and
    the rate after the first 10 % of the steps (no warm-up)."""
    torch.set_num_threads(1)
    torch.manual_seed(1)
    X, y = load()
    sizes = [int(v) for v in layers.split("-")]
    mods = []
    for a, b in zip(sizes, sizes[1:]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*mods[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(1)
    perm, k, warm = torch.randperm(len(X), generator=g), 0, max(1, steps // 10)
    t0 = time.perf_counter()
    for s in range(steps):
        if s == warm:
            t1 = time.perf_counter()
        if k + batch > len(X):
            perm, k = torch.randperm(len(X), generator=g), 0
        idx = perm[k:k + batch]
        k += batch
        opt.zero_grad(set_to_none=True)
        lossf(net(X[idx]), y[idx]).backward()
        opt.step()
    t2 = time.perf_counter()
    steady = (steps - warm) * batch / (t2 - t1) if steps > warm else float("nan")
    print(json.dumps({"wall": t2 - t0, "samples": steps * batch, "steady_samples_per_s": steady,
                      "torch": torch.__version__}))


def main():
    if ONE:
        one(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    runs = {k: [] for k in ("nnmpi np=1", "nnmpi np=2", "torch 1 process", "torch DDP 2 processes")}
    for r in range(REPS):
        runs["nnmpi np=1"].append(nnmpi_run(1))
        runs["torch 1 process"].append(torch_run(1, 29500 + r))
        runs["nnmpi np=2"].append(nnmpi_run(2))
        runs["torch DDP 2 processes"].append(torch_run(2, 29600 + r))
        print("rep", r + 1, {k: round(v[-1], 2) for k, v in runs.items()}, flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    samples = EPOCHS * 60000
    lines = ["# bench/torch_compare.py: 784-256-128-10 MLP, Adam, batch 128, %d epochs of Fashion-MNIST, "
             "1 thread per process, %d reps alternating; torch %s" % (EPOCHS, REPS, torch.__version__),
             "# %s, %d cores" % (time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), os.cpu_count()),
             "# configuration              median_train_s  samples_per_s  all_runs_s"]
    for k, v in runs.items():
        lines.append("%-28s %10.2f %14.0f   %s" % (k, med[k], samples / med[k], " ".join("%.2f" % x for x in v)))
    lines.append("# nnmpi speedup over torch, 1 process: %.2fx; 2 processes (DDP): %.2fx" %
                 (med["torch 1 process"] / med["nnmpi np=1"], med["torch DDP 2 processes"] / med["nnmpi np=2"]))
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "torch-compare.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
