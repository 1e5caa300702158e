#!/usr/bin/env python3
"""Independent numpy reference of the adalens budget engine (issue 5), and its parity fixture.

Written from the procedure's description (AdaFocusV3 §3.4 eq. 7, MSDNet-style dynamic
evaluation), not from the Rust code:

* criterion per sample and step: entropy -sum p log p of the softmax (exit when <= eta_t) or the
  largest softmax probability (exit when >= tau_t);
* for a geometric parameter p, exit shares q_t ~ p**t; planned exits per step on the fitting split
  are the differences of the rounded cumulative counts N_t = floor(n * sum_{s<=t} q_s + 1/2);
* thresholds: step by step, the planned number of still-running samples with the surest criterion
  stop, the threshold is the criterion of the last one taken ("everybody" when the plan stops all
  that are still running); the last step takes everyone left;
* a budget B (mean GFLOPs/video on the fitting split) is met by the largest p whose plan costs at
  most B (plain bisection on log p here); B outside [always step 0, always last step] is clamped;
* evaluation: each sample stops at the first step whose criterion passes; top-1/top-5, mAP with
  scikit-learn's average_precision_score (macro over classes), expected GFLOPs, exit shares.

Random logits come from SplitMix64 exactly as `adalens::decision::synthetic` makes them (the
generator is the shared *input*; everything computed from it is independent).

Usage:
    python scripts/budget_reference.py            # write tests/fixtures/budget/parity.json
    python scripts/budget_reference.py --bench    # time solve+eval and the 19-budget curve

Needs numpy and scikit-learn (e.g. the venv /opt/pyenv-budget).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MASK = (1 << 64) - 1


# --------------------------------------------------------------------------- generator

def splitmix_uniform(seed, count):
    """Draws 1..count of SplitMix64 seeded with `seed`, as floats in [0, 1) (53 bits)."""
    with np.errstate(over="ignore"):
        k = np.arange(1, count + 1, dtype=np.uint64)
        z = np.uint64(seed) + k * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / float(1 << 53))


def splitmix_scalar(seed, count):
    """Plain-Python SplitMix64 (used to cross-check the vectorised version)."""
    out, state = [], seed
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def generate(samples, steps, classes, seed, max_labels, step_costs, per_sample_costs, fit_samples):
    """Per sample: [label-count draw, max_labels label draws, difficulty, cost jitter,
    steps*classes noise draws]; logit = 3(2u-1) (+ 8(1-d)(t+1)/steps on label classes), f32."""
    block = 3 + max_labels + steps * classes
    u = splitmix_uniform(seed, samples * block).reshape(samples, block)
    u_count = u[:, 0]
    u_labels = u[:, 1:1 + max_labels]
    d = u[:, 1 + max_labels]
    jitter = u[:, 2 + max_labels]
    noise = u[:, 3 + max_labels:].reshape(samples, steps, classes)
    cls = np.minimum((u_labels * classes).astype(np.int64), classes - 1)
    if max_labels == 1:
        label_sets = [[int(c)] for c in cls[:, 0]]
    else:
        k = 1 + np.minimum((u_count * max_labels).astype(np.int64), max_labels - 1)
        label_sets = [sorted(set(int(c) for c in cls[i, :k[i]])) for i in range(samples)]
    y = np.zeros((samples, classes), dtype=bool)
    for i, ls in enumerate(label_sets):
        y[i, ls] = True
    t1 = np.arange(1, steps + 1, dtype=np.float64)
    strength = 8.0 * (1.0 - d)[:, None] * t1[None, :] / float(steps)  # (n, S)
    z = 3.0 * (2.0 * noise - 1.0)
    z = np.where(y[:, None, :], z + strength[:, :, None], z)
    logits = z.astype(np.float32)
    base = np.asarray(step_costs, dtype=np.float64)
    if per_sample_costs:
        costs = base[None, :] * (0.75 + 0.5 * jitter)[:, None]
    else:
        costs = np.broadcast_to(base, (samples, steps)).copy()
    if fit_samples is None:
        fit = np.ones(samples, dtype=bool)
        ev = np.ones(samples, dtype=bool)
    else:
        fit = np.arange(samples) < fit_samples
        ev = ~fit
    return dict(logits=logits, labels=label_sets, y=y, costs=costs, fit=fit, eval=ev)


# --------------------------------------------------------------------------- procedure

def softmax(logits):
    x = logits.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def criterion_values(probs):
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(probs > 0, probs * np.log(probs), 0.0)
    return {"entropy": -plogp.sum(axis=-1), "confidence": probs.max(axis=-1)}


def surety(values, criterion):
    """Larger = surer, for both criteria."""
    return -values if criterion == "entropy" else values


def to_natural(threshold_surety, criterion):
    return -threshold_surety if criterion == "entropy" else threshold_surety


def topk_hits(logits, y, k):
    """(n, S) bool: some label is among the k best classes (ties -> lower class index first)."""
    order = np.argsort(-logits, axis=-1, kind="stable")[..., :k]
    n = logits.shape[0]
    rows = np.arange(n)[:, None, None]
    return y[rows, order].any(axis=-1)


def exit_counts_plan(p, n, steps):
    if p == 0:
        q = np.zeros(steps)
        q[0] = 1.0
    elif math.isinf(p):
        q = np.zeros(steps)
        q[-1] = 1.0
    else:
        logw = np.arange(steps) * math.log(p)
        w = np.exp(logw - logw.max())
        q = w / w.sum()
    cum = np.floor(n * np.cumsum(q) + 0.5).astype(np.int64)
    cum = np.minimum(np.maximum.accumulate(cum), n)
    cum[-1] = n
    return np.diff(np.concatenate([[0], cum]))


def fit_thresholds(s, orders, counts):
    """s: (n, S) surety on the fitting split, orders: (S, n) indices by descending surety (stable).
    Returns (thresholds in surety units, planned exit step per sample)."""
    n, steps = s.shape
    exit_step = np.full(n, steps - 1, dtype=np.int64)
    running = np.ones(n, dtype=bool)
    thr = np.full(steps, np.inf)
    for t in range(steps - 1):
        m = int(counts[t])
        if m == 0:
            continue
        order = orders[t]
        take = order[running[order]][:m]
        # everyone still running stops here: the rule is "everybody", not a criterion value
        thr[t] = -np.inf if m >= running.sum() else s[take[-1], t]
        exit_step[take] = t
        running[take] = False
    thr[-1] = -np.inf
    return thr, exit_step


def plan_cost(costs, exit_step):
    return float(costs[np.arange(len(exit_step)), exit_step].mean())


def apply_thresholds(s, thr):
    passed = s >= thr[None, :]
    passed[:, -1] = True
    return passed.argmax(axis=1)


class Reference:
    def __init__(self, data):
        self.data = data
        probs = softmax(data["logits"])
        self.probs = probs
        self.values = criterion_values(probs)
        self.top1 = topk_hits(data["logits"], data["y"], 1)
        self.top5 = topk_hits(data["logits"], data["y"], 5)
        self.fit = data["fit"]
        self.ev = data["eval"]
        self.steps = data["logits"].shape[1]
        self.fit_costs = data["costs"][self.fit]
        # A per-step cost table lets the bisection price a plan from its counts alone.
        self.step_costs = (self.fit_costs[0] if np.all(self.fit_costs == self.fit_costs[0:1])
                           else None)
        self.fit_surety, self.fit_orders = {}, {}
        for criterion, v in self.values.items():
            s = surety(v[self.fit], criterion)
            self.fit_surety[criterion] = s
            self.fit_orders[criterion] = np.argsort(-s, axis=0, kind="stable").T.copy()

    def solve_p(self, criterion, p):
        s = self.fit_surety[criterion]
        counts = exit_counts_plan(p, s.shape[0], self.steps)
        thr, exit_step = fit_thresholds(s, self.fit_orders[criterion], counts)
        return dict(p=p, counts=counts, thr=thr, fit_cost=plan_cost(self.fit_costs, exit_step))

    def plan_cost_for_p(self, criterion, p):
        if self.step_costs is not None:
            counts = exit_counts_plan(p, self.fit_costs.shape[0], self.steps)
            return float(counts @ self.step_costs) / self.fit_costs.shape[0]
        return self.solve_p(criterion, p)["fit_cost"]

    def solve_budget(self, criterion, budget):
        lo_cost, hi_cost = self.fit_costs[:, 0].mean(), self.fit_costs[:, -1].mean()
        if budget < lo_cost:
            sol = self.solve_p(criterion, 0.0)
            sol["clamp"] = "below_minimum"
            return sol
        if budget >= hi_cost:
            sol = self.solve_p(criterion, math.inf)
            sol["clamp"] = "above_maximum" if budget > hi_cost else "none"
            return sol
        a, b = math.log(1e-12), math.log(1e12)
        for _ in range(200):
            mid = 0.5 * (a + b)
            if self.plan_cost_for_p(criterion, math.exp(mid)) <= budget:
                a = mid
            else:
                b = mid
            if b - a < 1e-13:
                break
        sol = self.solve_p(criterion, math.exp(a))
        sol["clamp"] = "none"
        return sol

    def evaluate(self, criterion, thr, with_map=False, rows=None):
        rows = self.ev if rows is None else rows
        s = surety(self.values[criterion][rows], criterion)
        ex = apply_thresholds(s, thr)
        return self.metrics(ex, rows, with_map)

    def metrics(self, ex, rows, with_map):
        n = len(ex)
        r = np.arange(n)
        out = dict(
            exit=ex,
            counts=np.bincount(ex, minlength=self.steps),
            gflops=float(self.data["costs"][rows][r, ex].mean()),
            top1=float(self.top1[rows][r, ex].mean()),
            top5=float(self.top5[rows][r, ex].mean()),
        )
        if with_map:
            out["map"] = sklearn_map(self.data["y"][rows], self.probs[rows][r, ex])
        return out

    def random_exit(self, counts, seed, rows=None):
        rows = self.ev if rows is None else rows
        n = int(rows.sum())
        perm = np.random.default_rng(seed).permutation(n)
        ex = np.empty(n, dtype=np.int64)
        ex[perm] = np.repeat(np.arange(self.steps), counts)
        return self.metrics(ex, rows, False)


def sklearn_map(y, scores):
    from sklearn.metrics import average_precision_score
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(average_precision_score(y.astype(int), scores, average="macro"))


# --------------------------------------------------------------------------- fixture

def uniadafocus_gflops(steps=17):
    """Per-step cumulative GFLOPs of Uni-AdaFocus (MobileNetV2 glance, ResNet-50 on 128px
    patches), as tabulated by the official early-exit script; non-round numbers on purpose."""
    out = []
    for k in range(steps):
        g = 0.299511328 * 16 + 1.334601664 * k
        g += (5.246976 * 16 + 8.392704 * k + 0.8192 * 16 + 1.6384 * k) * 1e-3
        if k > 0:
            g += 0.00412992 + 0.822485376
        out.append(g)
    return out


def nat(thr, criterion):
    return [None if not math.isfinite(v) else float(to_natural(v, criterion)) for v in thr]


def case(spec, with_map):
    data = generate(**spec)
    ref = Reference(data)
    steps = spec["steps"]
    costs_fit = data["costs"][data["fit"]]
    lo, hi = float(costs_fit[:, 0].mean()), float(costs_fit[:, -1].mean())
    out = {"spec": spec, "fit_cost_range": [lo, hi], "per_p": [], "per_budget": [], "fixed_step": []}
    for criterion in ("entropy", "confidence"):
        for k in range(1, 20):
            p = k / 20
            sol = ref.solve_p(criterion, p)
            ev = ref.evaluate(criterion, sol["thr"], with_map)
            out["per_p"].append(dict(
                criterion=criterion, p=p,
                planned_counts=[int(c) for c in sol["counts"]],
                thresholds=nat(sol["thr"], criterion),
                fit_gflops=sol["fit_cost"],
                eval_counts=[int(c) for c in ev["counts"]],
                gflops=ev["gflops"], top1=ev["top1"], top5=ev["top5"],
                map=ev.get("map"),
            ))
        budgets = [lo - 0.5, lo] + [lo + (hi - lo) * j / 20 for j in range(1, 20)] + [hi, hi + 1.0]
        for b in budgets:
            sol = ref.solve_budget(criterion, b)
            ev = ref.evaluate(criterion, sol["thr"], False)
            out["per_budget"].append(dict(
                criterion=criterion, budget=b, clamp=sol["clamp"],
                planned_counts=[int(c) for c in sol["counts"]],
                thresholds=nat(sol["thr"], criterion),
                fit_gflops=sol["fit_cost"],
                eval_counts=[int(c) for c in ev["counts"]],
                top1=ev["top1"],
            ))
    n_eval = int(data["eval"].sum())
    for t in range(steps):
        ex = np.full(n_eval, t)
        m = ref.metrics(ex, data["eval"], with_map)
        out["fixed_step"].append(dict(step=t, gflops=m["gflops"], top1=m["top1"], top5=m["top5"],
                                      map=m.get("map")))
    return out


def write_fixture(path):
    assert splitmix_scalar(0, 2) == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]
    seed = 20240605
    v = splitmix_uniform(seed, 1000)
    s = [(x >> 11) * (1.0 / float(1 << 53)) for x in splitmix_scalar(seed, 1000)]
    assert np.array_equal(v, np.array(s)), "vectorised splitmix disagrees with the scalar one"
    main = dict(samples=2000, steps=17, classes=200, seed=seed, max_labels=1,
                step_costs=uniadafocus_gflops(17), per_sample_costs=False, fit_samples=None)
    multi = dict(samples=600, steps=6, classes=30, seed=seed + 1, max_labels=3,
                 step_costs=uniadafocus_gflops(6), per_sample_costs=True, fit_samples=360)
    fixture = {
        "about": "generated by scripts/budget_reference.py (numpy reference, scikit-learn mAP)",
        "versions": {"numpy": np.__version__, "sklearn": __import__("sklearn").__version__},
        "splitmix_first_u64": ["%016x" % x for x in splitmix_scalar(seed, 4)],
        "splitmix_first_uniforms": [float(x) for x in v[:4]],
        "main": case(main, with_map=True),
        "multilabel": case(multi, with_map=True),
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# --------------------------------------------------------------------------- bench

def median_time(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def bench(samples, steps, classes, reps):
    spec = dict(samples=samples, steps=steps, classes=classes, seed=7, max_labels=1,
                step_costs=uniadafocus_gflops(steps), per_sample_costs=False, fit_samples=None)
    data = generate(**spec)
    t0 = time.perf_counter()
    ref = Reference(data)
    t_prep = time.perf_counter() - t0
    lo, hi = data["costs"][:, 0].mean(), data["costs"][:, -1].mean()
    budget = lo + 0.4 * (hi - lo)
    budgets = [lo + (hi - lo) * j / 20 for j in range(1, 20)]

    def one():
        sol = ref.solve_budget("entropy", budget)
        return ref.evaluate("entropy", sol["thr"])

    def curve():
        for i, b in enumerate(budgets):
            sol = ref.solve_budget("entropy", b)
            ev = ref.evaluate("entropy", sol["thr"])
            ref.random_exit(ev["counts"], i)
        for t in range(steps):
            ref.metrics(np.full(samples, t), ref.ev, False)

    sol = ref.solve_budget("entropy", budget)
    ev = ref.evaluate("entropy", sol["thr"])
    r = np.arange(samples)
    probs_at_exit = ref.probs[r, ev["exit"]]
    t_one = median_time(one, reps)
    t_curve = median_time(curve, max(3, reps // 10))
    t_map = median_time(lambda: sklearn_map(data["y"], probs_at_exit), max(3, reps // 10))
    print(f"python reference, {samples}x{steps}x{classes} (numpy {np.__version__})")
    print(f"  prepare (softmax, criteria, top-k)     {t_prep * 1e3:10.2f} ms (once)")
    print(f"  solve budget + evaluate accuracy       {t_one * 1e3:10.3f} ms (median of {reps})")
    print(f"  19-budget curve (+random, fixed-step)  {t_curve * 1e3:10.3f} ms")
    print(f"  mAP (sklearn, {classes} classes)           {t_map * 1e3:10.3f} ms")
    print(f"  top-1 at budget {budget:.3f}: {ev['top1']:.4f}, gflops {ev['gflops']:.3f}")
    return dict(prepare=t_prep, one=t_one, curve=t_curve, map=t_map)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--steps", type=int, default=17)
    ap.add_argument("--classes", type=int, default=200)
    ap.add_argument("--reps", type=int, default=30)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "budget", "parity.json"))
    args = ap.parse_args()
    if args.bench:
        bench(args.samples, args.steps, args.classes, args.reps)
    else:
        write_fixture(os.path.normpath(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
