#!/usr/bin/python3
"""Data-parallel scaling sweep of nnmpi (issue 9, "measure first"); run it as bench/scaling.sh.

For every configuration (model x global batch x rank count x variant) one short training run of
configs/fashion-mnist.ini with train.max_steps, no evaluation and no checkpoints, a fresh run
directory each time. Runs alternate: rep-major order, so each rep runs every configuration once
and drift of the machine hits all configurations alike. From each run's own metrics.jsonl it
reads the `summary` event (samples, wall, and the per-phase time split data / forward /
backward / allreduce / optimizer, means over ranks) and the `step` events (rank 0's samples/s
per log interval: the rate without the first interval is the "steady" rate, free of warm-up).

Writes OUT.txt (default bench/results/scaling.txt: medians per configuration, ratios np=N/np=1
and variant/baseline measured side by side, the issue's targets) and OUT-runs.csv (every run).
Settings come from the environment or the flags below (flags win); see docs/performance.md.

  REPS=3  NPS="1 2 4"  MODELS="784-256-128-10 784-2048-2048-10"  BATCHES="128 512"
  VARIANTS="fast:train.reduce=fast exact:train.reduce=exact shard:train.shard_optimizer=true"
      name:key=value[,key=value...]; the first variant is the baseline of the variant ratios;
      a variant whose keys this build does not know is reported and skipped
  WORK=3e10 (parameters x samples per run: steps = WORK / (P*B), within MIN_STEPS..MAX_STEPS)
  MIN_STEPS=20  MAX_STEPS=4000  STEPS= (a fixed step count for every configuration)
  SETS="key=value ..." (extra --set for every run)  MPIRUN_ARGS=""  RUN_TIMEOUT=900
  CONFIG=configs/fashion-mnist.ini  DATA=data/fashion-mnist.h5  OUT=bench/results/scaling
  PERF=stat|record (after the sweep, one run of PERF_CONFIG="MODEL BATCH NP VARIANT" under perf)
"""
import argparse, csv, datetime, json, math, os, re, shlex, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASES = ["data", "forward", "backward", "allreduce", "optimizer", "eval", "checkpoint"]
FIELDS = (["rep", "order", "model", "params", "batch", "np", "oversubscribed", "variant", "sets", "steps", "status",
           "started_utc", "loadavg1", "process_s", "samples", "wall_s", "samples_per_s", "steady_samples_per_s"] +
          [p + "_s" for p in PHASES] + ["other_s", "run_dir_note"])
DEFAULT_VARIANTS = "fast:train.reduce=fast exact:train.reduce=exact shard:train.shard_optimizer=true"


def env(name, default):
    v = os.environ.get(name)
    return v if v not in (None, "") else default


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", nargs="?", default=env("BUILD", "build"), help="build directory (default build)")
    ap.add_argument("--reps", type=int, default=int(env("REPS", "3")))
    ap.add_argument("--nps", default=env("NPS", "1 2 4"))
    ap.add_argument("--models", default=env("MODELS", "784-256-128-10 784-2048-2048-10"))
    ap.add_argument("--batches", default=env("BATCHES", "128 512"))
    ap.add_argument("--variants", default=env("VARIANTS", DEFAULT_VARIANTS))
    ap.add_argument("--work", type=float, default=float(env("WORK", "3e10")))
    ap.add_argument("--min-steps", type=int, default=int(env("MIN_STEPS", "20")))
    ap.add_argument("--max-steps", type=int, default=int(env("MAX_STEPS", "4000")))
    ap.add_argument("--steps", type=int, default=int(env("STEPS", "0")))
    ap.add_argument("--sets", default=env("SETS", ""))
    ap.add_argument("--mpirun-args", default=env("MPIRUN_ARGS", ""))
    ap.add_argument("--run-timeout", type=float, default=float(env("RUN_TIMEOUT", "900")))
    ap.add_argument("--config", default=env("CONFIG", "configs/fashion-mnist.ini"))
    ap.add_argument("--data", default=env("DATA", "data/fashion-mnist.h5"))
    ap.add_argument("--out", default=env("OUT", "bench/results/scaling"))
    ap.add_argument("--torch", default=env("TORCH", "auto"), choices=["auto", "0", "1"],
                    help="also run PyTorch in one process (bench/torch_compare.py --one) at np=1 for every model and "
                    "batch, in the same alternation; auto = when /usr/bin/python3 can import torch")
    ap.add_argument("--perf", default=env("PERF", ""), choices=["", "0", "1", "stat", "record"])
    ap.add_argument("--perf-config", default=env("PERF_CONFIG", ""))
    ap.add_argument("--report-only", action="store_true", help="rewrite OUT.txt from OUT-runs.csv, run nothing")
    ap.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    return ap.parse_args()


def layers_of(model):
    ls = [int(x) for x in model.replace(",", "-").split("-")]
    if len(ls) < 2 or min(ls) < 1:
        raise SystemExit("bad model %r: want sizes like 784-256-128-10" % model)
    return ls


def params_of(model):
    ls = layers_of(model)
    return sum((a + 1) * b for a, b in zip(ls, ls[1:]))


def split_sets(spec):
    """'a.b=1,2,c.d=x' -> ['a.b=1,2', 'c.d=x']: a comma starts a new setting only before key=."""
    return [s for s in re.split(r",(?=[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_]+=)", spec) if s]


def parse_variants(text):
    out = []
    for tok in text.split():
        name, _, spec = tok.partition(":")
        if not name:
            raise SystemExit("bad variant %r: want name:key=value[,key=value...]" % tok)
        out.append((name, split_sets(spec)))
    if len({n for n, _ in out}) != len(out):
        raise SystemExit("variant names must differ: %s" % text)
    return out


def median(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return statistics.median(xs) if xs else float("nan")


def mpi_env():
    e = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    if os.geteuid() == 0:
        e.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return e


def ensure_data(nnmpi, data):
    if os.path.exists(data):
        return
    src = "/usr/share/datasets/fashion-mnist"
    if data != "data/fashion-mnist.h5" or not os.path.exists(src + "/train-images-idx3-ubyte.gz"):
        raise SystemExit("%s missing (scripts/quickstart makes data/fashion-mnist.h5)" % data)
    print("importing Fashion-MNIST from %s into %s" % (src, data), flush=True)
    os.makedirs("data", exist_ok=True)
    part = data + ".part"
    for split, pre, extra in (("/train", "train", []), ("/test", "t10k", ["--append"])):
        subprocess.run([nnmpi, "data", "import-idx", "--images", "%s/%s-images-idx3-ubyte.gz" % (src, pre), "--labels",
                        "%s/%s-labels-idx1-ubyte.gz" % (src, pre), "--out", part, "--split", split] + extra,
                       check=True, stdout=subprocess.DEVNULL)
    os.rename(part, data)


def base_sets(a, model, batch, steps, run_dir):
    return (["data.path=" + a.data, "model.layers=" + ",".join(map(str, layers_of(model))), "train.batch_size=%d" % batch,
             "train.max_steps=%d" % steps, "train.epochs=100000", "train.eval_every=0", "checkpoint.every_epoch=false",
             "checkpoint.at_end=false", "checkpoint.every_seconds=0", "checkpoint.every_steps=0",
             # lines, not none: under mpirun the ranks see a pty, and then step events would follow the
             # progress bar's 0.25 s cadence instead of log.every_steps (the output goes to the run's log)
             "log.progress=lines",
             "log.every_steps=%d" % max(1, steps // 10), "log.run_dir=" + run_dir] + a.sets.split())


def check_variant(nnmpi, a, sets):
    """None when this build accepts the settings, else the reason it does not."""
    cmd = [nnmpi, "config", "-c", a.config]
    for s in ["data.path=" + a.data] + a.sets.split() + sets:
        cmd += ["--set", s]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode == 0:
        return None
    msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "exit %d" % p.returncode
    if "unknown key" in msg:
        return "variant not supported by this build (%s)" % msg
    return "variant rejected by this build (%s)" % msg


def mpirun_cmd(a, np_, cores):
    cmd = ["mpirun"]
    if np_ > cores:
        cmd.append("--oversubscribe")
    return cmd + shlex.split(a.mpirun_args) + ["-np", str(np_)]


def read_metrics(path):
    start = summary = None
    steps = []
    with open(path) as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            kind = ev.get("event")
            if kind == "start":
                start = ev
            elif kind == "step":
                steps.append(ev)
            elif kind == "summary":
                summary = ev
    return start, steps, summary


def steady_rate(steps, batch):
    """samples/s over the step events after the first (the first interval holds the warm-up)."""
    samples = seconds = 0.0
    for prev, ev in zip(steps, steps[1:]):
        rate = ev.get("samples_per_s") or 0
        n = (ev["step"] - prev["step"]) * batch
        if rate > 0 and n > 0:
            samples += n
            seconds += n / rate
    return samples / seconds if seconds > 0 else float("nan")


def run_one(a, nnmpi, work, cfg, rep, order, cores, log):
    model, batch, np_, (vname, vsets), steps = cfg
    run_dir = os.path.join(work, "run-%04d" % order)
    if vsets is None:  # PyTorch, one process (bench/torch_compare.py --one)
        cmd = ["/usr/bin/python3", os.path.join(ROOT, "bench", "torch_compare.py"), "--one", model, str(batch), str(steps)]
    else:
        cmd = mpirun_cmd(a, np_, cores) + [nnmpi, "train", "-c", a.config, "--resume", "never", "--force"]
        for s in base_sets(a, model, batch, steps, run_dir) + vsets:
            cmd += ["--set", s]
    row = dict(rep=rep, order=order, model=model, params=params_of(model), batch=batch, np=np_,
               oversubscribed=int(np_ > cores), variant=vname, sets=" ".join(vsets or ["pytorch"]), steps=steps,
               started_utc=datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
               loadavg1=open("/proc/loadavg").read().split()[0], run_dir_note="")
    with open(os.path.join(work, "run-%04d.log" % order), "w") as out:
        out.write(" ".join(shlex.quote(c) for c in cmd) + "\n")
        out.flush()
        t_proc = time.time()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=mpi_env(), cwd=ROOT,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=a.run_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            rc = "timeout"
    row["process_s"] = time.time() - t_proc
    if vsets is None:
        out_lines = open(os.path.join(work, "run-%04d.log" % order)).read().strip().splitlines()
        res = None
        try:
            res = json.loads(out_lines[-1])
        except (ValueError, IndexError):
            pass
        if rc != 0 or not res:
            row["status"] = "failed (exit %s): %s" % (rc, " | ".join(out_lines[-3:])[:300])
            log.write("  FAILED: %s\n" % row["status"])
            return row
        row.update(status="ok", samples=res["samples"], wall_s=res["wall"], samples_per_s=res["samples"] / res["wall"],
                   steady_samples_per_s=res["steady_samples_per_s"], run_dir_note="torch " + res.get("torch", "?"),
                   **{ph + "_s": float("nan") for ph in PHASES + ["other"]})
        return row
    metrics = os.path.join(run_dir, "metrics.jsonl")
    start, evs, summary = read_metrics(metrics) if os.path.exists(metrics) else (None, [], None)
    if rc != 0 or summary is None:
        tail = open(os.path.join(work, "run-%04d.log" % order)).read().strip().splitlines()[-3:]
        row["status"] = "failed (exit %s): %s" % (rc, " | ".join(tail)[:300])
        log.write("  FAILED: %s\n" % row["status"])
        return row
    if start and start.get("params") != row["params"]:
        row["run_dir_note"] = "params %s != %s" % (start.get("params"), row["params"])
    wall = summary["wall"]
    row.update(status="ok", samples=summary["samples"], wall_s=wall,
               samples_per_s=summary["samples"] / wall if wall > 0 else float("nan"),
               steady_samples_per_s=steady_rate(evs, batch))
    for ph in PHASES:
        row[ph + "_s"] = summary.get(ph, float("nan"))
    row["other_s"] = wall - sum(summary.get(ph, 0) for ph in PHASES)
    shutil.rmtree(run_dir, ignore_errors=True)
    return row


def git(*args):
    try:
        return subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def header_lines(a, nnmpi, cores, command, skipped, plan_steps, extra=None):
    cpu = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    try:
        ver = subprocess.run([nnmpi, "--version"], capture_output=True, text=True).stdout.splitlines()
    except OSError:
        ver = []
    dirty = "" if not git("status", "--porcelain", "--", "src", "include") else " (src/include modified)"
    lines = ["# bench/scaling.sh: nnmpi data-parallel scaling sweep (issue 9); medians of %d rep(s), rep-major "
             "alternating order" % a.reps,
             "# date: %s" % datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%MZ"),
             "# machine: %d cores (nproc), %s; %s" % (cores, cpu, "%d GiB RAM" % round(
                 os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30)),
             "# nnmpi: %s; git %s%s (branch %s)" % (ver[0] if ver else "?", git("rev-parse", "--short", "HEAD") or "?",
                                                     dirty, git("rev-parse", "--abbrev-ref", "HEAD") or "?"),
             "# %s" % (ver[1] if len(ver) > 1 else "MPI: ?"),
             "# %s; OPENBLAS_CORETYPE=%s" % (next((v for v in ver if v.startswith("BLAS:")), "BLAS: ?"),
                                            os.environ.get("OPENBLAS_CORETYPE", "(unset)")),
             "# command: %s" % command,
             "# base: %s, Adam, 1 BLAS thread per rank, no eval, no checkpoints; np > %d is OVERSUBSCRIBED "
             "(%d cores)" % (a.config, cores, cores),
             "# steps per run (same for every np and variant): " +
             ", ".join("%s B=%d: %d" % (m, b, s) for (m, b), s in plan_steps.items())]
    for name, why in skipped:
        lines.append("# skipped variant %s: %s" % (name, why))
    return lines + (extra or [])


def fmt(x, spec="%.0f"):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else spec % x


def report(a, rows, header, variants_order, cores):
    ok = [r for r in rows if r["status"] == "ok"]
    key = lambda r: (r["model"], int(r["batch"]), int(r["np"]), r["variant"])
    groups = {}
    for r in ok:
        groups.setdefault(key(r), []).append(r)
    models = list(dict.fromkeys(r["model"] for r in rows))
    batches = sorted({int(r["batch"]) for r in rows})
    nps = sorted({int(r["np"]) for r in rows})
    variants = [v for v in variants_order if v != "torch" and any(r["variant"] == v for r in rows)]
    has_torch = any(r["variant"] == "torch" for r in ok)
    base = variants[0] if variants else None
    npl = lambda n: "%d%s" % (n, "*" if n > cores else "")
    L = list(header)
    L += ["", "## Medians per configuration (ms are per step: phase time of the summary event / steps)",
          "#  np* = oversubscribed (%d cores). samples/s = samples / wall of the run (min-max over reps in brackets);"
          " steady = rank 0's rate after the first log interval (no warm-up)." % cores,
          "#  phases are means over ranks; 'other' = wall - all phases (step bookkeeping, replica check at the end)."]
    hdr = "%-17s %4s %4s %-6s %5s %8s %-15s %8s %8s %6s %6s %6s %7s %6s %6s %4s" % (
        "model", "B", "np", "variant", "steps", "samp/s", "[min-max]", "steady", "step_ms", "data", "fwd", "bwd",
        "allred", "optim", "other", "n")
    L += [hdr, "-" * len(hdr)]
    med = {}
    for m in models:
        for b in batches:
            for v in variants + (["torch"] if has_torch else []):
                for n in (nps if v != "torch" else [1]):
                    g = groups.get((m, b, n, v))
                    if not g:
                        fails = [r for r in rows if key(r) == (m, b, n, v)]
                        if fails:
                            L.append("%-17s %4d %4s %-6s  all %d run(s) failed: %s" % (m, b, npl(n), v, len(fails),
                                                                                     fails[0]["status"][:80]))
                        continue
                    sps = [float(r["samples_per_s"]) for r in g]
                    st = int(g[0]["steps"])
                    ms = {ph: 1e3 * median([float(r[ph + "_s"]) for r in g]) / st for ph in PHASES + ["other"]}
                    med[(m, b, n, v)] = dict(sps=median(sps), steady=median([float(r["steady_samples_per_s"]) for r in g]),
                                             step_ms=1e3 * median([float(r["wall_s"]) for r in g]) / st, **ms)
                    d = med[(m, b, n, v)]
                    L.append("%-17s %4d %4s %-6s %5d %8s %-15s %8s %8.2f %6s %6s %6s %7s %6s %6s %4d" % (
                        m, b, npl(n), v, st, fmt(d["sps"]), "[%s-%s]" % (fmt(min(sps)), fmt(max(sps))), fmt(d["steady"]),
                        d["step_ms"], fmt(d["data"], "%.2f"), fmt(d["forward"], "%.2f"), fmt(d["backward"], "%.2f"),
                        fmt(d["allreduce"], "%.2f"), fmt(d["optimizer"], "%.2f"), fmt(d["other"], "%.2f"), len(g)))
    # paired ratios: within one rep, the two runs were taken minutes apart at most
    byrep = {}
    for r in ok:
        byrep[key(r) + (int(r["rep"]),)] = float(r["samples_per_s"])

    def paired(k1, k2):
        rs = [byrep[k1 + (rep,)] / byrep[k2 + (rep,)] for rep in range(1, a.reps + 1)
              if k1 + (rep,) in byrep and k2 + (rep,) in byrep]
        return rs

    L += ["", "## Speed-up np=N / np=1 (samples/s, same model, global batch and variant)",
          "#  ratio of medians; 'paired' = median of the per-rep ratios [min-max]; np* oversubscribed"]
    hdr = "%-17s %4s %-6s %4s %8s %8s %-15s %10s" % ("model", "B", "variant", "np", "ratio", "paired", "[min-max]",
                                                      "efficiency")
    L += [hdr, "-" * len(hdr)]
    speedups = {}
    for m in models:
        for b in batches:
            for v in variants:
                one = med.get((m, b, 1, v))
                for n in nps:
                    if n == 1 or not one or (m, b, n, v) not in med:
                        continue
                    ratio = med[(m, b, n, v)]["sps"] / one["sps"]
                    pr = paired((m, b, n, v), (m, b, 1, v))
                    speedups[(m, b, n, v)] = ratio
                    L.append("%-17s %4d %-6s %4s %8.2f %8s %-15s %9.0f%%" % (
                        m, b, v, npl(n), ratio, fmt(median(pr), "%.2f"),
                        "[%s-%s]" % (fmt(min(pr), "%.2f"), fmt(max(pr), "%.2f")) if pr else "", 100 * ratio / n))
    vt = {}
    if len(variants) > 1:
        L += ["", "## Variant time / baseline time (%s) at equal np: median samples/s of %s / of the variant "
              "(> 1 = the variant is slower)" % (base, base)]
        hdr = "%-17s %4s %4s %-6s %8s %8s %-15s" % ("model", "B", "np", "variant", "t_ratio", "paired", "[min-max]")
        L += [hdr, "-" * len(hdr)]
        for m in models:
            for b in batches:
                for n in nps:
                    for v in variants[1:]:
                        if (m, b, n, v) in med and (m, b, n, base) in med:
                            t = med[(m, b, n, base)]["sps"] / med[(m, b, n, v)]["sps"]
                            pr = paired((m, b, n, base), (m, b, n, v))
                            vt[(m, b, n, v)] = t
                            L.append("%-17s %4d %4s %-6s %8.2f %8s %-15s" % (
                                m, b, npl(n), v, t, fmt(median(pr), "%.2f"),
                                "[%s-%s]" % (fmt(min(pr), "%.2f"), fmt(max(pr), "%.2f")) if pr else ""))
    vs_torch = {}
    if has_torch:
        L += ["", "## nnmpi (%s) samples/s / PyTorch samples/s, PyTorch in one process with one thread (same model, "
              "Adam, global batch, steps)" % base, "#  > 1 = nnmpi faster; np* oversubscribed"]
        hdr = "%-17s %4s %4s %8s %8s %-15s" % ("model", "B", "np", "ratio", "paired", "[min-max]")
        L += [hdr, "-" * len(hdr)]
        for m in models:
            for b in batches:
                for n in nps:
                    if (m, b, n, base) in med and (m, b, 1, "torch") in med:
                        t = med[(m, b, n, base)]["sps"] / med[(m, b, 1, "torch")]["sps"]
                        pr = paired((m, b, n, base), (m, b, 1, "torch"))
                        vs_torch[(m, b, n)] = t
                        L.append("%-17s %4d %4s %8.2f %8s %-15s" % (
                            m, b, npl(n), t, fmt(median(pr), "%.2f"),
                            "[%s-%s]" % (fmt(min(pr), "%.2f"), fmt(max(pr), "%.2f")) if pr else ""))
    # the targets, where this sweep measured them
    L += ["", "## Issue 9 targets (ratios of medians from this sweep)"]
    dm, wm = "784-256-128-10", "784-2048-2048-10"

    def target(label, value, op, goal):
        if value is None:
            L.append("  %-62s not measured in this sweep" % label)
        else:
            good = value >= goal if op == ">=" else value <= goal
            L.append("  %-62s %5.2f (target %s %.2f: %s)" % (label, value, op, goal, "met" if good else "NOT met"))

    fast = "fast" if "fast" in variants else base
    target("default model B=128 %s: samples/s np=2 / np=1" % fast, speedups.get((dm, 128, 2, fast)), ">=", 1.6)
    target("default model B=128 %s: samples/s np=2 / PyTorch 1 process" % base, vs_torch.get((dm, 128, 2)), ">=", 1.6)
    target("wide model B=512 %s: samples/s np=2 / np=1" % fast, speedups.get((wm, 512, 2, fast)), ">=", 1.85)
    ex = vt.get((dm, 128, 2, "exact")) if fast == base else None
    target("default model B=128 np=2: time exact / time %s" % fast, ex, "<=", 1.3)
    return "\n".join(L) + "\n"


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("%.6g" % v if isinstance(v, float) else v) for k, v in r.items()})


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def perf_run(a, nnmpi, work, cfgs, variants, cores, out_path):
    spec = (a.perf_config or "784-2048-2048-10 512 2 %s" % variants[0][0]).split()
    model, batch, np_, vname = spec[0], int(spec[1]), int(spec[2]), spec[3]
    vsets = dict(variants).get(vname)
    if vsets is None:
        raise SystemExit("PERF_CONFIG variant %s is not among the variants run" % vname)
    steps = next((c[4] for c in cfgs if c[0] == model and c[1] == batch), a.steps or a.min_steps)
    run_dir = os.path.join(work, "perf-run")
    mode = "stat" if a.perf in ("1", "stat") else "record"
    wrap = os.path.join(work, "perf-wrap.sh")
    if mode == "stat":
        tool = 'perf stat -e task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions -o "%s/perf-$R.txt" --' % work
    else:
        tool = 'perf record -g -o "%s/perf-$R.data" --' % work
    with open(wrap, "w") as f:
        f.write('#!/bin/sh\nR=${OMPI_COMM_WORLD_RANK:-0}\nexec %s "$@"\n' % tool)
    os.chmod(wrap, 0o755)
    cmd = mpirun_cmd(a, np_, cores) + [wrap, nnmpi, "train", "-c", a.config, "--resume", "never", "--force"]
    for s in base_sets(a, model, batch, steps, run_dir) + vsets:
        cmd += ["--set", s]
    print("perf %s: %s B=%d np=%d %s, %d steps" % (mode, model, batch, np_, vname, steps), flush=True)
    subprocess.run(cmd, env=mpi_env(), cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
    L = ["# bench/scaling.sh PERF=%s: %s B=%d np=%d%s variant %s (%s), %d steps; %s" % (
        mode, model, batch, np_, " (oversubscribed)" if np_ > cores else "", vname, " ".join(vsets) or "-", steps,
        datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%MZ"))]
    _, _, summary = read_metrics(os.path.join(run_dir, "metrics.jsonl"))
    L.append("# summary event: " + json.dumps(summary))
    for r in range(np_):
        L.append("\n## rank %d (the whole process: MPI start, data loading and setup too)" % r)
        if mode == "stat":
            L += [l for l in open(os.path.join(work, "perf-%d.txt" % r)).read().splitlines() if l.strip()]
        else:
            rep = subprocess.run(["perf", "report", "-i", os.path.join(work, "perf-%d.data" % r), "--stdio",
                                  "--no-children", "-g", "none", "--percent-limit", "1", "--sort", "dso,symbol"],
                                 capture_output=True, text=True).stdout
            L += [re.sub(r"(\s+-)+\s*$", "", l) for l in rep.splitlines() if l.strip() and not l.startswith("#")][:40]
    with open(out_path, "w") as f:
        f.write("\n".join(L) + "\n")
    print("wrote %s" % out_path)


def main():
    a = parse_args()
    os.chdir(ROOT)
    cores = os.cpu_count() or 1
    nnmpi = os.path.abspath(os.path.join(a.build, "src", "nnmpi"))
    out_txt, out_csv = a.out + ".txt", a.out + "-runs.csv"
    variants = parse_variants(a.variants)
    command = "%s bench/scaling.sh %s" % (" ".join("%s=%s" % (k, shlex.quote(os.environ[k])) for k in
                                                   ("REPS", "NPS", "MODELS", "BATCHES", "VARIANTS", "WORK", "STEPS",
                                                    "MIN_STEPS", "MAX_STEPS", "SETS", "MPIRUN_ARGS", "PERF",
                                                    "PERF_CONFIG", "OUT") if os.environ.get(k)),
                                          " ".join(shlex.quote(x) for x in sys.argv[1:]))
    command = command.strip()
    if a.report_only:
        rows = read_csv(out_csv)
        plan = {}
        for r in rows:
            plan[(r["model"], int(r["batch"]))] = int(r["steps"])
        a.reps = max(int(r["rep"]) for r in rows)
        hdr = header_lines(a, nnmpi, cores, command + "  (report regenerated from %s)" % out_csv, [], plan)
        text = report(a, rows, hdr, list(dict.fromkeys(r["variant"] for r in rows)), cores)
        open(out_txt, "w").write(text)
        print(text, end="")
        return
    if not os.access(nnmpi, os.X_OK):
        raise SystemExit("%s missing: cmake -S . -B %s && cmake --build %s -j2" % (nnmpi, a.build, a.build))
    ensure_data(nnmpi, a.data)
    models, batches = a.models.split(), [int(b) for b in a.batches.split()]
    nps = [int(n) for n in a.nps.split()]
    plan = {}
    for m in models:
        for b in batches:
            s = a.steps or int(min(a.max_steps, max(a.min_steps, round(a.work / (params_of(m) * b)))))
            plan[(m, b)] = s
    skipped, run_variants = [], []
    for name, sets in variants:
        why = check_variant(nnmpi, a, sets)
        if why:
            print("variant %s: %s; skipped" % (name, why), flush=True)
            skipped.append((name, why))
        else:
            run_variants.append((name, sets))
    cfgs = [(m, b, n, v, plan[(m, b)]) for m in models for b in batches for v in run_variants for n in nps]
    use_torch = a.torch == "1"
    if a.torch == "auto":
        use_torch = subprocess.run(["/usr/bin/python3", "-c", "import torch, h5py"], capture_output=True).returncode == 0
        if not use_torch:
            print("PyTorch (python3-torch, python3-h5py) not importable: no torch runs", flush=True)
    if use_torch:
        cfgs = [c for m in models for b in batches for c in
                [x for x in cfgs if x[0] == m and x[1] == b] + [(m, b, 1, ("torch", None), plan[(m, b)])]]
    print("%d configuration(s) x %d rep(s) = %d runs; steps: %s" % (
        len(cfgs), a.reps, len(cfgs) * a.reps, ", ".join("%s B=%d: %d" % (m, b, s) for (m, b), s in plan.items())),
        flush=True)
    if a.dry_run or not cfgs:
        return
    os.makedirs(os.path.dirname(os.path.abspath(out_txt)), exist_ok=True)
    work = tempfile.mkdtemp(prefix="nnmpi-scaling-")
    rows, order, t0 = [], 0, time.time()
    load0 = open("/proc/loadavg").read().split()[:3]
    try:
        for rep in range(1, a.reps + 1):
            for cfg in cfgs:
                order += 1
                m, b, n, (vname, _), s = cfg
                sys.stdout.write("[%d/%d %4.0fs] rep %d %s B=%d np=%d%s %s: " % (
                    order, len(cfgs) * a.reps, time.time() - t0, rep, m, b, n, "*" if n > cores else "", vname))
                sys.stdout.flush()
                row = run_one(a, nnmpi, work, cfg, rep, order, cores, sys.stdout)
                rows.append(row)
                if row["status"] == "ok":
                    print("%.0f samples/s (wall %.2f s%s)" % (
                        row["samples_per_s"], row["wall_s"], "" if vname == "torch" else
                        "; allreduce %.1f ms/step" % (1e3 * row["allreduce_s"] / s)), flush=True)
                write_csv(out_csv, rows)  # after every run: an interrupted sweep keeps what it measured
        if rows:  # REPS=0 with PERF: only the perf run
            load1 = open("/proc/loadavg").read().split()[:3]
            over = [r["process_s"] - r["wall_s"] for r in rows if r["status"] == "ok" and r["variant"] != "torch"]
            extra = ["# sweep: %d runs in %.0f s (%.0f s of it training; launch, data loading and setup %.1f s per "
                     "run on average); load average (1/5/15 min) at start %s, at end %s" % (
                         len(rows), time.time() - t0, sum(r["wall_s"] for r in rows if r["status"] == "ok"),
                         statistics.mean(over) if over else float("nan"), "/".join(load0), "/".join(load1))]
            hdr = header_lines(a, nnmpi, cores, command, skipped, plan, extra)
            text = report(a, rows, hdr, [v for v, _ in run_variants], cores)
            with open(out_txt, "w") as f:
                f.write(text)
            print(text, end="")
            print("wrote %s and %s" % (out_txt, out_csv))
        if a.perf not in ("", "0"):
            perf_run(a, nnmpi, work, cfgs, run_variants, cores, a.out + "-perf.txt")
    finally:
        failed = [r for r in rows if r["status"] != "ok"]
        if failed:
            print("%d run(s) failed; logs kept in %s" % (len(failed), work))
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
