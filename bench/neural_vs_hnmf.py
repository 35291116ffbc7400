#!/usr/bin/env python3
"""Default Neural NMF against `--method hnmf` on the full 20 Newsgroups, side by side in one run
(issue 14's measure): ranks 20,6, super-topic labels of the train split known, the test split
hidden; per seed, each method's fit time (report.json `timings.fit_s`: initialization and
training, not the file reading), the ratio of the two in the same seed's pair, the number of
epochs and why they stopped, and the held-out accuracy and relative error of each layer.
Extra variants of the Neural NMF fit are given as --variant NAME='FLAGS' (e.g.
--variant no-validation='--validation 0').

Usage (repository root; reads ../shared/data/20news, which is not bundled):
  OMP_WAIT_POLICY=passive python3 bench/neural_vs_hnmf.py --nnmf build/src/cli/nnmf \
      --data ../shared/data/20news --seeds 0,1,2 --threads 1
Check the machine's load (`uptime`) before and report it with the figures.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile


def fit(nnmf, data, work, name, seed, threads, flags):
    out = os.path.join(work, f"{name}-{seed}")
    cmd = [nnmf, "--threads", str(threads), "fit", os.path.join(data, "X_tfidf.mtx.gz"),
           "--ranks", "20,6", "--labels", os.path.join(data, "super_labels.txt"),
           "--known", os.path.join(work, "known_train.txt"), "--seed", str(seed), "--quiet",
           "-o", out] + flags
    subprocess.run(cmd, check=True)
    with open(os.path.join(out, "report.json")) as fh:
        return json.load(fh)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nnmf", required=True)
    ap.add_argument("--data", default="../shared/data/20news")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variant", action="append", default=[], help="NAME='extra fit flags'")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.data, "X_tfidf.mtx.gz")):
        sys.exit(f"neural_vs_hnmf: {a.data}/X_tfidf.mtx.gz not found (the full 20 Newsgroups is "
                 "not bundled; point --data at ../shared/data/20news)")
    runs = [("hnmf", ["--method", "hnmf"]), ("neural", [])]
    for v in a.variant:
        name, _, flags = v.partition("=")
        runs.append((name, shlex.split(flags)))
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(a.data, "split.txt")) as fh:
            known = ["1" if line.strip() == "0" else "0" for line in fh if line.strip()]
        with open(os.path.join(work, "known_train.txt"), "w") as fh:
            fh.write("\n".join(known) + "\n")
        rows, ratios = [], {name: [] for name, _ in runs}
        for seed in (int(s) for s in a.seeds.split(",")):
            base = None
            for name, flags in runs:
                r = fit(a.nnmf, a.data, work, name, seed, a.threads, flags)
                t = r["timings"]["fit_s"]
                base = t if name == "hnmf" else base
                ratios[name].append(t / base)
                acc = " / ".join(f"{l['accuracy_unlabeled']:.4f}" for l in r["layers"])
                err = " / ".join(f"{l['rel_error']:.5f}" for l in r["layers"])
                stop = f"{r['timings']['epochs']}, {r.get('stop_reason', '-')}"
                rows.append(f"| {seed} | {name} | {t:.2f} s | {t / base:.2f} | {stop} | {acc} | {err} |")
    print("| seed | fit | fit time | / hnmf (same seed) | epochs, stop | held-out accuracy layer 0 / 1 "
          "| rel. error layer 0 / 1 |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    for name, r in ratios.items():
        print(f"{name}: median ratio to hnmf {statistics.median(r):.2f} (range {min(r):.2f}-{max(r):.2f})")


if __name__ == "__main__":
    main()
