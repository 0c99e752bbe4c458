#!/usr/bin/python3
"""Step-time model of nnmpi's data-parallel training, fitted to this machine, used to predict
scaling on cluster networks (issue 9, "beyond this machine, on paper"; docs/performance.md).

    t(N) = compute(B/N) + optimizer(P, N) + allreduce(P, N) + other

  allreduce(P, N) = 2(N-1)·α + 2·(N-1)/N · n·β        ring allreduce of n = 4·(P + 8) bytes
  compute(b)      = c0 + c1·b                         data + forward + backward of b rows per rank
  optimizer(P, N) = o1·P   (replicated: every rank updates all P parameters, today), o1 per model
                  = o1·P/N (sharded: each rank updates 1/N; reduce-scatter + allgather then move
                            the same bytes as the ring allreduce, so the α-β term is unchanged)
  other           = the rest of a step (bookkeeping), a constant per model

Fits α, β per rank count to bench/results/allreduce.txt (bench/allreduce.sh), compute and
optimizer to the per-phase split of bench/results/scaling-runs.csv (bench/scaling.sh; np = 1
and 2, baseline variant), validates predicted against measured step times for every np in the
sweep (np > cores: ranks time-share a core, so compute and optimizer count N/cores times), then
predicts the efficiency E(N) = t(1) / (N·t(N)) (same global batch B) for N = 8 ... 1024 on 25 and
100 Gb/s networks. Standard library + numpy; run with /usr/bin/python3:

    bench/model.py [--allreduce bench/results/allreduce.txt] [--scaling bench/results/scaling-runs.csv]
                   [--out-md docs/scaling-model.md] [--out-svg docs/scaling-efficiency.svg]
                   [--out-txt bench/results/model.txt] [--png]   (--png: rsvg-convert the SVG)
"""
import argparse, csv, datetime, math, os, shutil, subprocess, sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAD_EXTRA = 8  # NN_GRAD_EXTRA floats ride along in the gradient allreduce (include/nnmpi/net.h)
NS = [8, 16, 32, 64, 128, 256, 512, 1024]
BATCHES = [128, 512, 4096, 32768]
# Cluster networks: one rank per node (or a hierarchical allreduce, so that a node's link carries
# one rank's ring traffic); links at 90 % of line rate. Latencies α are one-way (half round trip)
# MPI message latencies:
#  - 25 Gb/s Ethernet with MPI over the kernel's TCP stack: about 10 µs at best (J. Squyres, Cisco
#    HPC blog post on MPI over TCP, "ain't your father's TCP", copy at
#    fr.hi-network.com/aint-your-fathers-tcp.html: ~10 µs half-round-trip MPI ping-pong with NetPIPE).
#  - 100 Gb/s with OS bypass (InfiniBand EDR or RoCE): about 2 µs (J. Squyres, "MPI over 40Gb
#    Ethernet", blogs.cisco.com/performance/mpi-over-40gb-ethernet: 1.93 µs half round trip with
#    Open MPI over OS-bypass usNIC, 37.23 of 40 Gb/s; InfiniBand MPI latencies are 1-2 µs).
NETWORKS = [("25 Gb/s Ethernet, TCP", "25G", 10e-6, 25e9 * 0.9 / 8),
            ("100 Gb/s InfiniBand/RoCE", "100G", 2e-6, 100e9 * 0.9 / 8)]
MODELS = {"784-256-128-10": "default", "784-2048-2048-10": "wide"}


def params_of(model):
    ls = [int(x) for x in model.split("-")]
    return sum((a + 1) * b for a, b in zip(ls, ls[1:]))


def ring(N, nbytes, alpha, beta):
    return 0.0 if N <= 1 else 2 * (N - 1) * alpha + 2 * (N - 1) / N * nbytes * beta


def interp(points, nbytes):
    """Measured time at nbytes, interpolated log-log between the sizes of the sweep."""
    pts = sorted(points)
    if not pts or nbytes < pts[0][0] or nbytes > pts[-1][0]:
        return float("nan")
    xs, ys = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.exp(np.interp(math.log(nbytes), xs, ys)))


# ---------------------------------------------------------------- inputs

def read_allreduce(path):
    """{np: {op: [(bytes, median_s), ...]}} from bench/allreduce.sh output."""
    out = {}
    for line in open(path):
        f = line.split()
        if not f or line.startswith("#") or len(f) < 5:
            continue
        try:
            n, b, op, med = int(f[0]), int(f[1]), f[2], float(f[4]) * 1e-6
        except ValueError:
            continue
        out.setdefault(n, {}).setdefault(op, []).append((b, med))
    return out


def read_runs(path):
    rows = [r for r in csv.DictReader(open(path)) if r["status"] == "ok"]
    for r in rows:
        for k in ("params", "batch", "np", "steps", "rep", "oversubscribed"):
            r[k] = int(r[k])
        for k in ("wall_s", "samples_per_s", "data_s", "forward_s", "backward_s", "allreduce_s", "optimizer_s",
                  "other_s"):
            r[k] = float(r[k])
    return rows


def median_by_config(rows):
    """{(model, B, np, variant): {phase: median seconds per step}}."""
    groups = {}
    for r in rows:
        groups.setdefault((r["model"], r["batch"], r["np"], r["variant"]), []).append(r)
    out = {}
    for k, g in groups.items():
        st = g[0]["steps"]
        med = lambda f: float(np.median([f(r) for r in g])) / st
        out[k] = dict(step=med(lambda r: r["wall_s"]), compute=med(lambda r: r["data_s"] + r["forward_s"] + r["backward_s"]),
                      allreduce=med(lambda r: r["allreduce_s"]), optimizer=med(lambda r: r["optimizer_s"]),
                      other=med(lambda r: r["other_s"]), params=g[0]["params"], sets=g[0]["sets"], n=len(g),
                      oversub=g[0]["oversubscribed"])
    return out


# ---------------------------------------------------------------- fits

PIECE = 8 << 20  # src/dist.c: nnmpi's allreduce runs in pieces of at most 8 MiB


def fit_alpha_beta(points, N, small=256, large=64 * 1024, largest=PIECE):
    """t = 2(N-1)α + 2(N-1)/N·n·β in two regimes, as latency and bandwidth are usually measured: α from
    the sizes <= `small` bytes (median of t / 2(N-1)), then β by least squares of the relative error
    over the sizes from `large` to `largest` bytes with α fixed (above 8 MiB nnmpi cuts the
    allreduce in pieces, because Open MPI 4.1.4 slows down tenfold above 16-32 MB in one call).
    Returns α, β and [(bytes, measured, fitted)]."""
    pts = sorted(points)
    lat = [t / (2 * (N - 1)) for b, t in pts if b <= small] or [pts[0][1] / (2 * (N - 1))]
    alpha = float(np.median(lat))
    big = [(b, t) for b, t in pts if large <= b <= largest] or pts[-2:]
    x = np.array([2 * (N - 1) / N * b for b, _ in big], float)
    y = np.array([t - 2 * (N - 1) * alpha for _, t in big], float)
    w = 1 / np.array([t for _, t in big], float)
    beta = max(0.0, float(np.sum(w * w * x * y) / np.sum(w * w * x * x)))
    return alpha, beta, [(b, t, ring(N, b, alpha, beta)) for b, t in pts]


def fit_line(xs, ys):
    """y = a + b·x, least squares of the relative error (small b matters as much as large b, which
    is what extrapolating to B/N rows at large N needs); a line through the origin when x does not
    vary or the intercept comes out negative."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    w = 1 / ys
    origin = lambda: (0.0, float(np.sum(w * w * xs * ys) / np.sum(w * w * xs * xs)))
    if len(set(xs)) < 2:
        return origin()
    A = np.stack([np.ones_like(xs), xs], axis=1) * w[:, None]
    (a, b), *_ = np.linalg.lstsq(A, ys * w, rcond=None)
    return origin() if a < 0 else (float(a), float(b))


class Model:
    def __init__(self, ab, comp, opt, other, cores, ar_op):
        self.ab, self.comp, self.opt, self.other, self.cores, self.ar_op = ab, comp, opt, other, cores, ar_op

    def compute(self, model, b):
        c0, c1 = self.comp[model]
        return c0 + c1 * b

    def optimizer(self, model, N=1, sharded=False):
        P = params_of(model)
        return self.opt[model] * (P / N if sharded else P)

    def local(self, model, B, N, op, sharded=False):
        """Predicted step on this machine (np ranks on `cores` cores, α-β measured at that np)."""
        P = params_of(model)
        k = max(1.0, N / self.cores)  # ranks per core when oversubscribed
        comp, opt = k * self.compute(model, B / N), k * self.optimizer(model, N, sharded)
        ar = 0.0
        if N > 1:
            if (N, op) not in self.ab:
                return None
            alpha, beta = self.ab[(N, op)][:2]
            ar = ring(N, 4 * (P + GRAD_EXTRA), alpha, beta)
        return dict(compute=comp, optimizer=opt, allreduce=ar, other=self.other[model],
                    step=comp + opt + ar + self.other[model])

    def cluster(self, model, B, N, alpha, bw, sharded=False):
        P = params_of(model)
        comp, opt = self.compute(model, B / N), self.optimizer(model, N, sharded)
        ar = ring(N, 4 * (P + GRAD_EXTRA), alpha, 1.0 / bw)
        return dict(compute=comp, optimizer=opt, allreduce=ar, other=self.other[model],
                    step=comp + opt + ar + self.other[model])

    def efficiency(self, model, B, N, alpha, bw, sharded=False):
        if B / N < 1:
            return None  # fewer than one row per rank
        t1 = self.cluster(model, B, 1, alpha, bw)["step"]
        return t1 / (N * self.cluster(model, B, N, alpha, bw, sharded)["step"])


# ---------------------------------------------------------------- output

def svg_figure(m, models, path):
    """Efficiency vs N, one panel per (model, optimizer), a curve per (batch, network)."""
    panels = [(mod, sh) for mod in models for sh in (False, True)]
    cols, rows_ = 2, (len(panels) + 1) // 2
    pw, ph = 470, 300
    left0, top0, gapx, gapy = 90, 125, 100, 130
    W = left0 + cols * pw + (cols - 1) * gapx + 40
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    dashes = {"100G": "", "25G": "7,5"}
    H = top0 + rows_ * (ph + gapy) + 20
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="DejaVu Sans, Arial, sans-serif" font-size="13">' % (W, H, W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="30" text-anchor="middle" font-size="18" font-weight="bold">Predicted data-parallel '
         'efficiency of nnmpi vs number of ranks N (same global batch B)</text>' % (W / 2),
         '<text x="%d" y="54" text-anchor="middle" font-size="13" fill="#444">E(N) = t(1) / (N·t(N)),  '
         't = compute(B/N) + optimizer + ring allreduce (α-β) + other: compute and optimizer fitted on this '
         'machine,</text>' % (W / 2),
         '<text x="%d" y="72" text-anchor="middle" font-size="13" fill="#444">network α and bandwidth assumed '
         '(docs/performance.md); one rank per node</text>' % (W / 2)]
    xs = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    for i, (mod, sh) in enumerate(panels):
        x0 = left0 + (i % cols) * (pw + gapx)
        y0 = top0 + (i // cols) * (ph + gapy)
        X = lambda n: x0 + pw * math.log2(n) / 10
        Y = lambda e: y0 + ph * (1 - e)
        o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>' % (x0, y0, pw, ph))
        for n in xs:
            o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (X(n), y0, X(n), y0 + ph))
            o.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (X(n), y0 + ph + 18, n))
        for e in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
            o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (x0, Y(e), x0 + pw, Y(e)))
            o.append('<text x="%d" y="%.1f" text-anchor="end">%d%%</text>' % (x0 - 6, Y(e) + 4, round(100 * e)))
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999" stroke-dasharray="2,3"/>' % (
            x0, Y(0.5), x0 + pw, Y(0.5)))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">ranks N (log2 scale)</text>' % (x0 + pw / 2, y0 + ph + 38))
        o.append('<text transform="translate(%d,%.1f) rotate(-90)" text-anchor="middle">efficiency E(N)</text>' % (
            x0 - 50, y0 + ph / 2))
        o.append('<text x="%.1f" y="%d" text-anchor="middle" font-weight="bold">%s model %s, P = %s parameters'
                 '</text>' % (x0 + pw / 2, y0 - 28, MODELS.get(mod, ""), mod, "{:,}".format(params_of(mod))))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (
            x0 + pw / 2, y0 - 10, "sharded optimizer (each rank updates P/N)" if sh else
            "replicated optimizer (today: every rank updates all P)"))
        for ci, B in enumerate(BATCHES):
            for name, tag, alpha, bw in NETWORKS:
                pts = [(n, m.efficiency(mod, B, n, alpha, bw, sh)) for n in xs]
                pts = [(n, e) for n, e in pts if e is not None]
                if len(pts) < 2:
                    continue
                d = " ".join("%s%.1f,%.1f" % ("M" if j == 0 else "L", X(n), Y(max(0.0, min(1.0, e))))
                             for j, (n, e) in enumerate(pts))
                o.append('<path d="%s" fill="none" stroke="%s" stroke-width="2.2"%s/>' % (
                    d, colors[ci], ' stroke-dasharray="%s"' % dashes[tag] if dashes[tag] else ""))
    # legend
    ly = top0 + rows_ * (ph + gapy) - 50
    lx = left0
    for ci, B in enumerate(BATCHES):
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>' % (lx, ly, lx + 30, ly, colors[ci]))
        o.append('<text x="%d" y="%d">global batch B = %d</text>' % (lx + 36, ly + 4, B))
        lx += 210
    ly += 26
    lx = left0
    for name, tag, alpha, bw in NETWORKS:
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333" stroke-width="2.2"%s/>' % (
            lx, ly, lx + 30, ly, ' stroke-dasharray="%s"' % dashes[tag] if dashes[tag] else ""))
        o.append('<text x="%d" y="%d">%s: α = %g µs, %.1f GB/s</text>' % (lx + 36, ly + 4, name, alpha * 1e6, bw / 1e9))
        lx += 420
    o.append('<text x="%d" y="%d" fill="#444">Curves end where B/N &lt; 1 row per rank. Dotted line: 50 %%.</text>' % (
        left0, ly + 28))
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def limit(m, mod, B, N, alpha, bw, sh):
    """The largest term of a predicted step that does not shrink with N, in words."""
    c = m.cluster(mod, B, N, alpha, bw, sh)
    c0, c1 = m.comp[mod]
    lat = 2 * (N - 1) * alpha
    terms = {"optimizer": c["optimizer"], "allreduce latency 2(N-1)α": lat,
             "allreduce bandwidth 2(N-1)/N·nβ": c["allreduce"] - lat, "fixed compute c0": c0, "other": c["other"]}
    k = max(terms, key=terms.get)
    return "at N=%d: %s %.2f ms vs %.2f ms of row compute c1·B/N" % (N, k, terms[k] * 1e3, c1 * B / N * 1e3)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--allreduce", default=os.path.join(ROOT, "bench/results/allreduce.txt"))
    ap.add_argument("--scaling", action="append", help="scaling-runs.csv of bench/scaling.sh; repeat to combine "
                    "sweeps, e.g. an np=1 sweep of small batches (default bench/results/scaling-runs.csv)")
    ap.add_argument("--out-txt", default=os.path.join(ROOT, "bench/results/model.txt"))
    ap.add_argument("--out-md", default=os.path.join(ROOT, "docs/scaling-model.md"))
    ap.add_argument("--out-svg", default=os.path.join(ROOT, "docs/scaling-efficiency.svg"))
    ap.add_argument("--png", action="store_true", help="also render the SVG to PNG with rsvg-convert")
    ap.add_argument("--variant", default="", help="runs to fit and validate (default: the first variant in the CSV)")
    ap.add_argument("--ar-op", default="allreduce", help="allreduce.txt op the training uses: allreduce (nnmpi's "
                    "blocking MPI_Allreduce; its watchdog is a thread) or iallreduce")
    ap.add_argument("--shard-op", default="rs+ag", help="allreduce.txt op that models a sharded optimizer's "
                    "reduce-scatter + allgather (rs+ag or rsblock+ag; default rs+ag)")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1,
                    help="cores of the machine the sweep ran on (default: this one's)")
    a = ap.parse_args()

    T = []  # text report
    say = lambda s="": (T.append(s), print(s))

    a.scaling = a.scaling or [os.path.join(ROOT, "bench/results/scaling-runs.csv")]
    ar = read_allreduce(a.allreduce)
    rows = [r for path in a.scaling for r in read_runs(path)]
    if not rows:
        sys.exit("no successful runs in %s" % " ".join(a.scaling))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    var = a.variant or variants[0]
    runs = [r for r in rows if r["variant"] == var]
    med = median_by_config(runs)
    med_all = median_by_config(rows)
    sets = runs[0]["sets"]
    op = a.ar_op
    say("# bench/model.py: %s; inputs %s and %s" % (datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%MZ"),
                                                     rel(a.allreduce), " ".join(map(rel, a.scaling))))
    say("# fitted and validated on variant %r (%s); training allreduce = bench_allreduce op %r; %d cores" % (
        var, sets or "no extra settings", op, a.cores))

    # 1. alpha-beta per np and op
    say("\n## 1. Ring allreduce α-β fits (this machine, shared memory), t = 2(N-1)α + 2(N-1)/N·n·β;"
        " α from sizes <= 256 B, β from sizes 64 KiB to 8 MiB; max_err over all sizes")
    say("%4s %-14s %10s %12s %12s %10s" % ("np", "op", "alpha_us", "beta_ns/B", "1/beta_GB/s", "max_err"))
    ab = {}
    for n in sorted(ar):
        for o_, pts in sorted(ar[n].items()):
            if o_ not in ("allreduce", "iallreduce", "rs+ag", "rsblock+ag", "allreduce_i64") or n < 2:
                continue
            alpha, beta, res = fit_alpha_beta(pts, n)
            err = max(abs(p / t - 1) for _, t, p in res)
            ab[(n, o_)] = (alpha, beta, res)
            say("%4d %-14s %10.2f %12.4f %12.2f %9.0f%%" % (n, o_, alpha * 1e6, beta * 1e9,
                                                           1 / beta / 1e9 if beta > 0 else float("inf"), 100 * err))
    for n in sorted({k[0] for k in ab}):
        if (n, op) in ab:
            say("  np=%d %s, measured vs fitted (us): %s" % (n, op, "  ".join(
                "%s:%.1f/%.1f" % (human(b), t * 1e6, p * 1e6) for b, t, p in ab[(n, op)][2])))

    # 2. compute(b) per model and optimizer(P), from np=1 and np=2 (not oversubscribed)
    fitpts = {k: v for k, v in med.items() if k[2] <= a.cores}
    comp = {}
    say("\n## 2. compute(b) = c0 + c1·b per rank (data + forward + backward per step; np <= %d runs)" % a.cores)
    say("%-17s %10s %12s %12s   points (b: ms)" % ("model", "c0_ms", "c1_us/row", "GFLOP/s"))
    for mod in dict.fromkeys(k[0] for k in med):
        pts = [(k[1] / k[2], v["compute"]) for k, v in fitpts.items() if k[0] == mod]
        if not pts:
            continue
        c0, c1 = fit_line([p[0] for p in pts], [p[1] for p in pts])
        comp[mod] = (c0, c1)
        gf = 6 * params_of(mod) / c1 / 1e9 if c1 > 0 else float("nan")
        say("%-17s %10.3f %12.3f %12.1f   %s" % (mod, c0 * 1e3, c1 * 1e6, gf, " ".join(
            "%g:%.2f" % (b, t * 1e3) for b, t in sorted(pts))))
    # per model: the optimizer state of the default model fits in cache, the wide model's does not,
    # so one cost per parameter for both would be wrong for both
    opt, other = {}, {}
    say("\n## 3. optimizer(P) = o1·P per model (replicated; gradient mean, clipping, Adam), and other per step")
    for mod in comp:
        vs = [v for k, v in fitpts.items() if k[0] == mod]
        opt[mod] = float(np.median([v["optimizer"] / v["params"] for v in vs]))
        other[mod] = float(np.median([v["other"] for v in vs]))
        say("%-17s o1 = %.3f ns per parameter (%.3f ms per step); other = %.3f ms per step" % (
            mod, opt[mod] * 1e9, opt[mod] * params_of(mod) * 1e3, other[mod] * 1e3))
    m = Model(ab, comp, opt, other, a.cores, op)

    # 4. validation
    say("\n## 4. Validation: predicted vs measured step time on this machine (ms per step; np* oversubscribed)")
    say("#  _m measured in training (summary split), _p predicted; allred_b = bench_allreduce's %s at the gradient's"
        " size (interpolated): allred_m - allred_b is time spent waiting for the other rank(s)" % op)
    hdr = "%-17s %5s %4s %9s %9s %7s | %8s %8s | %8s %8s | %8s %8s %8s" % (
        "model", "B", "np", "measured", "predicted", "error", "comp_m", "comp_p", "opt_m", "opt_p", "allred_m",
        "allred_p", "allred_b")
    say(hdr)
    say("-" * len(hdr))
    val = []
    # the baseline, and variants with a sharded optimizer (predicted with optimizer(P/N) and reduce-scatter +
    # allgather); other variants (train.reduce = exact, ...) are measured only, not modelled
    checks = [(var, False, op)] + [(v, True, a.shard_op) for v in variants
                                   if v != var and any(s_ in med_all[k]["sets"].split() for k in med_all if k[3] == v
                                                       for s_ in ("train.shard_optimizer=true", "train.shard_optimizer=1"))]
    for vname, sharded, vop in checks:
        if vname != var:
            say("-- variant %s: sharded optimizer, collective = bench_allreduce op %s" % (vname, vop))
        for (mod, B, n, vv), v in sorted(med_all.items()):
            if vv != vname or mod not in comp:
                continue
            p = m.local(mod, B, n, vop, sharded)
            if p is None:
                say("%-17s %5d %4s  no %s fit for np=%d" % (mod, B, n, vop, n))
                continue
            err = p["step"] / v["step"] - 1
            p["bench"] = interp(ar.get(n, {}).get(vop, []), 4 * (params_of(mod) + GRAD_EXTRA)) if n > 1 else 0.0
            val.append((mod if vname == var else "%s %s" % (mod, vname), B, n, v, p, err))
            say("%-17s %5d %4s %9.2f %9.2f %6.0f%% | %8.2f %8.2f | %8.2f %8.2f | %8.2f %8.2f %8.2f" % (
                mod, B, "%d%s" % (n, "*" if n > a.cores else ""), v["step"] * 1e3, p["step"] * 1e3, 100 * err,
                v["compute"] * 1e3, p["compute"] * 1e3, v["optimizer"] * 1e3, p["optimizer"] * 1e3,
                v["allreduce"] * 1e3, p["allreduce"] * 1e3, p["bench"] * 1e3))

    # 5. predictions
    mods = [mod for mod in MODELS if mod in comp] + [mod for mod in comp if mod not in MODELS]
    say("\n## 5. Predicted efficiency E(N) on cluster networks (one rank per node, one core of this machine per rank)")
    for name, tag, alpha, bw in NETWORKS:
        say("  %s: alpha = %g us, bandwidth %.2f GB/s (90%% of line rate)" % (name, alpha * 1e6, bw / 1e9))
    md_tables = []
    for sh in (False, True):
        hdr = "| model | network | B | " + " | ".join("N=%d" % n for n in NS) + " | E ≥ 50 % up to | what limits it there |"
        sep = "|" + "---|" * (4 + len(NS) + 1)
        tab = [hdr, sep]
        for mod in mods:
            for name, tag, alpha, bw in NETWORKS:
                for B in BATCHES:
                    es = [m.efficiency(mod, B, n, alpha, bw, sh) for n in NS]
                    last = 1  # the largest power of two up to which E stays >= 50 % (N = 2, 4 included)
                    for n in (2 ** k for k in range(1, 11)):
                        e = m.efficiency(mod, B, n, alpha, bw, sh)
                        if e is None or e < 0.5:
                            break
                        last = n
                    nxt = last * 2 if last < 1024 else None
                    why = "-"
                    if nxt and B / nxt >= 1:
                        why = limit(m, mod, B, nxt, alpha, bw, sh)
                    elif nxt:
                        why = "B/N < 1 row per rank beyond N=%d" % last
                    tab.append("| %s | %s | %d | %s | %s | %s |" % (
                        MODELS.get(mod, mod), tag, B, " | ".join("-" if e is None else "%.0f %%" % (100 * e) for e in es),
                        "N=%d" % last if last < 1024 else "≥ 1024", why))
        md_tables.append(tab)
        say("\n### %s optimizer" % ("sharded (1/N of the parameters per rank)" if sh else "replicated (today's nnmpi)"))
        for line in tab:
            say(line)
    # smallest batch that keeps E >= 80 %
    say("\n### Smallest global batch B (power of 2) for E(N) ≥ 80 %")
    bt = ["| model | network | optimizer | " + " | ".join("N=%d" % n for n in NS) + " |", "|" + "---|" * (3 + len(NS))]
    for mod in mods:
        for name, tag, alpha, bw in NETWORKS:
            for sh in (False, True):
                cells = []
                for n in NS:
                    B = next((2 ** k for k in range(0, 23) if 2 ** k >= n and
                              (m.efficiency(mod, 2 ** k, n, alpha, bw, sh) or 0) >= 0.8), None)
                    cells.append("%d" % B if B else "> 4 M")
                bt.append("| %s | %s | %s | %s |" % (MODELS.get(mod, mod), tag, "sharded" if sh else "replicated",
                                                     " | ".join(cells)))
    for line in bt:
        say(line)

    # outputs
    os.makedirs(os.path.dirname(os.path.abspath(a.out_txt)), exist_ok=True)
    with open(a.out_txt, "w") as f:
        f.write("\n".join(T) + "\n")
    svg_figure(m, mods, a.out_svg)
    write_md(a, m, ab, comp, opt, other, op, val, md_tables, bt, var, sets)
    print("\nwrote %s, %s, %s" % (a.out_txt, a.out_md, a.out_svg))
    if a.png:
        png = os.path.splitext(a.out_svg)[0] + ".png"
        if not shutil.which("rsvg-convert"):
            sys.exit("rsvg-convert missing (Debian: apt-get install librsvg2-bin)")
        subprocess.run(["rsvg-convert", "-o", png, a.out_svg], check=True)
        print("wrote %s" % png)


def rel(path):
    p = os.path.abspath(path)
    return os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) else p


def human(b):
    for unit, k in (("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if b >= k:
            return "%g%s" % (b / k, unit)
    return "%dB" % b


def write_md(a, m, ab, comp, opt, other, op, val, tabs, bt, var, sets):
    L = ["<!-- generated by bench/model.py from %s and %s; do not edit by hand -->" % (
        rel(a.allreduce), " ".join(map(rel, a.scaling))),
         "# Scaling model: fitted parameters, validation, predictions", "",
         "Generated %s by `bench/model.py`; the model and its assumptions are in "
         "[performance.md](performance.md)." % datetime.datetime.utcnow().strftime("%Y-%m-%d"), "",
         "## Fitted on this machine (%d cores), variant `%s` (%s)" % (a.cores, var, sets or "-"), "",
         "| term | value |", "|---|---|"]
    for (n, o_), (alpha, beta, _) in sorted(ab.items()):
        if o_ == op:
            L.append("| allreduce α, β at np=%d (`%s`%s) | α = %.2f µs, β = %.4f ns/B (%.2f GB/s) |" % (
                n, o_, ", oversubscribed" if n > a.cores else "", alpha * 1e6, beta * 1e9,
                1 / beta / 1e9 if beta > 0 else float("inf")))
    for mod, (c0, c1) in comp.items():
        L.append("| compute(b), %s | %.3f ms + %.3f µs·b (%.1f GFLOP/s per marginal row) |" % (
            mod, c0 * 1e3, c1 * 1e6, 6 * params_of(mod) / c1 / 1e9 if c1 > 0 else float("nan")))
    for mod in comp:
        L.append("| optimizer(P), %s | %.3f ns·P = %.3f ms per step |" % (mod, opt[mod] * 1e9,
                                                                       opt[mod] * params_of(mod) * 1e3))
        L.append("| other, %s | %.3f ms per step |" % (mod, other[mod] * 1e3))
    L += ["", "## Validation: predicted vs measured step time (ms) on this machine", "",
          "m = measured in training (the run's own split), p = predicted; allreduce b = `bench_allreduce` (`%s`) at "
          "the gradient's size, so m - b is time spent waiting for the other rank(s)." % op, "",
          "| model | B | np | measured | predicted | error | compute m/p | optimizer m/p | allreduce m/p/b |",
          "|---|---|---|---|---|---|---|---|---|"]
    for mod, B, n, v, p, err in val:
        L.append("| %s | %d | %d%s | %.2f | %.2f | %+.0f %% | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f / %.2f |" % (
            mod, B, n, " (oversubscribed)" if n > a.cores else "", v["step"] * 1e3, p["step"] * 1e3, 100 * err,
            v["compute"] * 1e3, p["compute"] * 1e3, v["optimizer"] * 1e3, p["optimizer"] * 1e3, v["allreduce"] * 1e3,
            p["allreduce"] * 1e3, p["bench"] * 1e3))
    L += ["", "## Predicted efficiency E(N) = t(1) / (N·t(N)), same global batch B", "",
          "Networks: " + "; ".join("%s = %s, α = %g µs, %.2f GB/s" % (tag, name, alpha * 1e6, bw / 1e9)
                                   for name, tag, alpha, bw in NETWORKS) + ".", "",
          "![Predicted efficiency vs N](%s)" % os.path.basename(a.out_svg), "",
          "### Replicated optimizer (today's nnmpi)", ""] + tabs[0] + [
          "", "### Sharded optimizer (each rank updates 1/N of the parameters)", ""] + tabs[1] + [
          "", "### Smallest global batch B (power of 2) that keeps E(N) ≥ 80 %", ""] + bt
    with open(a.out_md, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
