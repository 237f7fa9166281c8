#!/usr/bin/python3
"""Token models beside PyTorch's forward of the same weights (issue 15, goal 5), in one run.

Two models, each at L = 128 and 512, with the attention weights returned and without them:
  - "bert": a BERT-base-sized Hugging Face folder (12 layers, hidden 768, 12 heads, intermediate
    3072, vocab 30522, 512 positions; random weights from a fixed seed, F32), written at bench
    time into a temporary directory with tests/fixtures/make_hf_fixtures.py's writer and never
    committed. PyTorch runs make_hf_fixtures.bert_forward (the reference of the tests).
  - "default": attnd's built-in model (hashing embeddings, sinusoidal positions, one
    nn.MultiheadAttention(64, 4)), rebuilt in PyTorch from its specification by
    tests/fixtures/make_model_fixture.py; PyTorch runs the embedding lookup, the positions and
    nn.MultiheadAttention (need_weights as the row says, per-head weights).
Every round times, one after the other, attnd's POST /v1/models/{name}/attention ({"ids"}) end
to end (HTTP and JSON included) with its forward alone (meta.compute_ms), and PyTorch's float32
forward at each thread count 1..nproc; each figure is the best of the rounds. The goal line of a
row is PyTorch's best thread count over attnd's forward (>= 1.5x); the HTTP ratio is printed
beside it. Then the daemon's RSS against the mapped weights.

OpenBLAS: the daemon and PyTorch (whose BLAS is the system OpenBLAS) run the same core. Without
--blas-core, OPENBLAS_CORETYPE is removed from the daemon's environment so that attnd decides,
and the core it reports is set for PyTorch before torch is imported (run_bench.py passes it).

Prints a Markdown table and writes JSON (--out). Standard library plus Debian's python3-torch.
Usage: /usr/bin/python3 tests/bench/bench_models.py [--build build] [--out build/bench_models.json]
                                                    [--rounds 5] [--quick] [--only bert|default]
"""
import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))


def log(msg):
    print(f"[bench_models {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_daemon(build, models, errpath, blas_core):
    """attnd on a free port; with --blas-core auto, without OPENBLAS_CORETYPE in its environment,
    so that attnd decides. Returns (process, port, the OpenBLAS core it reports)."""
    env = dict(os.environ)
    if blas_core == "auto":
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    port = free_port()
    cmd = [os.path.join(build, "attnd"), "--host", "127.0.0.1", "--port", str(port),
           "--blas-core", blas_core]
    for m in models:
        cmd += ["--model", m]
    with open(errpath, "wb") as errf:
        p = subprocess.Popen(cmd, stderr=errf, stdout=subprocess.DEVNULL, env=env)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).read()
            break
        except Exception:
            if p.poll() is not None:
                raise RuntimeError("attnd exited: " + open(errpath, errors="replace").read()[-800:])
            time.sleep(0.1)
    m = re.search(r"msg=blas core=(\S+)", open(errpath, errors="replace").read())
    return p, port, m.group(1) if m else None


def post(port, model, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/{model}/attention",
                                 data=body, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        data = r.read()
    return time.perf_counter() - t0, data


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bert_weights(torch, hf, folder=None):
    """The BERT-base weights (name -> float32 tensor) from a fixed seed; with `folder`, also
    written there as a Hugging Face folder (model.safetensors, config.json, vocab.txt)."""
    cfg = dict(hf.bert_config(12, "gelu", E=768, H=12, I=3072, V=30522),
               max_position_embeddings=512)
    gen = torch.Generator().manual_seed(13)
    stored, weights = [], {}
    for n, v in hf.bert_tensors(cfg, gen, "", False):
        s = v.to(torch.float32).contiguous() * (0.04 if v.dim() == 2 else 1.0)
        if n.endswith("LayerNorm.weight"):
            s = torch.ones_like(s) + 0.02 * s
        stored.append((n, s, "F32"))
        weights[n] = s
    if folder:
        hf.write_safetensors(os.path.join(folder, "model.safetensors"), stored)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f)
        with open(os.path.join(folder, "vocab.txt"), "w") as f:
            words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
            f.write("".join(w + "\n" for w in words + ["w%d" % i for i in range(30522 - 5)]))
    return weights


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default=None)
    ap.add_argument("--rounds", "--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="L 128 only, 3 rounds")
    ap.add_argument("--only", choices=["bert", "default"], default=None)
    ap.add_argument("--blas-core", default="auto", help="attnd's --blas-core (auto: its choice)")
    ap.add_argument("--write-folder", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--lens", default=None, help="comma-separated lengths (default 128,512)")
    a = ap.parse_args()
    if a.write_folder:
        import torch

        import make_hf_fixtures as hf
        bert_weights(torch, hf, a.write_folder)
        return
    lens = [128] if a.quick else [128, 512]
    if a.lens:
        lens = [int(x) for x in a.lens.split(",")]
    rounds = 3 if a.quick else a.rounds
    tmp = tempfile.mkdtemp(prefix="attnd-bench-models-")
    daemon = None
    try:
        # The folder is written by a child (it needs torch), then the daemon starts, and torch
        # is imported here only once the core the daemon reports can be set for its OpenBLAS.
        models = []
        if a.only != "default":
            log("writing the BERT-base folder")
            subprocess.run([sys.executable, os.path.abspath(__file__), "--write-folder", tmp],
                           check=True)
            models.append("bert=" + tmp)
        daemon, port, core = start_daemon(a.build, models, os.path.join(tmp, "attnd.err"),
                                          a.blas_core)
        if core:
            os.environ["OPENBLAS_CORETYPE"] = core
            os.environ.pop("OPENBLAS_L2_SIZE", None)
        log(f"OpenBLAS core of attnd and PyTorch: {core}")
        import numpy as np
        import torch

        import make_hf_fixtures as hf
        import make_model_fixture as mf
        rss_loaded = rss_kb(daemon.pid)
        nproc = os.cpu_count() or 1
        rows = []
        rng = random.Random(1)

        if a.only != "default":
            w = bert_weights(torch, hf)
            cfg = dict(hf.bert_config(12, "gelu", E=768, H=12, I=3072, V=30522),
                       max_position_embeddings=512)
            for L in lens:
                ids = [2] + [rng.randrange(5, 30522) for _ in range(L - 2)] + [3]
                for weights in (True, False):
                    def tf(ids=ids, weights=weights):
                        with torch.no_grad():
                            at, h = hf.bert_forward(cfg, w, ids, [0] * len(ids))
                        return at if weights else h[-1]
                    rows.append({"model": "bert", "L": L, "attentions": weights,
                                 "body": json.dumps({"ids": ids, "return_weights": weights}).encode(),
                                 "torch": tf})
        if a.only != "bert":
            dm = mf.default_model()
            mha = torch.nn.MultiheadAttention(dm["E"], dm["H"])
            with torch.no_grad():
                for n, p in (("in_proj_weight", mha.in_proj_weight), ("in_proj_bias", mha.in_proj_bias),
                             ("out_proj.weight", mha.out_proj.weight),
                             ("out_proj.bias", mha.out_proj.bias)):
                    p.copy_(torch.from_numpy(dm["weights"][n]))
            mha.eval()
            for L in lens:
                ids = [rng.randrange(1, 1 << 31) for _ in range(L)]
                table = torch.from_numpy(
                    np.stack([mf.hashed_vector(mf.DEFAULT_SEED, i, dm["E"])
                                               for i in ids]))
                pe = torch.from_numpy(mf.positions(L, dm["E"])).float()
                idx = torch.arange(L)
                for weights in (True, False):
                    def tf(weights=weights, table=table, pe=pe, idx=idx):
                        with torch.no_grad():
                            x = torch.nn.functional.embedding(idx, table) + pe
                            return mha(x, x, x, need_weights=weights, average_attn_weights=False)
                    rows.append({"model": "default", "L": L, "attentions": weights,
                                 "body": json.dumps({"ids": ids, "return_weights": weights,
                                                     "return_context": True}).encode(),
                                 "torch": tf, "check": (tf, weights)})

        # Warm-up and a check that both sides compute the same thing (default model).
        for r in rows:
            _, data = post(port, r["model"], r["body"])
            got = json.loads(data)
            r["bytes"] = len(data)
            if r["model"] == "default":
                ctx, wts = r["torch"]()
                d = float(np.max(np.abs(np.array(got["context"]) - ctx.numpy())))
                if r["attentions"]:
                    d = max(d, float(np.max(np.abs(np.array(got["weights"]) - wts.numpy()))))
                r["max_abs_diff"] = d
                if d > 1e-3:
                    raise RuntimeError(f"default L{r['L']}: attnd and PyTorch differ by {d}")
            for th in range(1, nproc + 1):
                torch.set_num_threads(th)
                r["torch"]()
            r.update(http=float("inf"), fwd=float("inf"),
                     torch={th: float("inf") for th in range(1, nproc + 1)}, tf=r["torch"])

        # Rounds: every measurement of every row once per round, so load bursts hit all alike.
        for rnd in range(rounds):
            for r in rows:
                # Calls per round: enough that a short call is timed more than once.
                n = 20 if r["model"] == "default" else 3 if r["L"] <= 128 else 1
                for _ in range(n):
                    t, data = post(port, r["model"], r["body"])
                    r["http"] = min(r["http"], t)
                    r["fwd"] = min(r["fwd"], json.loads(data)["meta"]["compute_ms"] / 1e3)
                for th in range(1, nproc + 1):
                    torch.set_num_threads(th)
                    for _ in range(n):
                        t0 = time.perf_counter()
                        r["tf"]()
                        r["torch"][th] = min(r["torch"][th], time.perf_counter() - t0)
            log(f"round {rnd + 1}/{rounds} done")

        results = {"config": {"bert": {"num_hidden_layers": 12, "hidden_size": 768,
                                       "num_attention_heads": 12, "intermediate_size": 3072,
                                       "vocab_size": 30522},
                              "default": {"embed_dim": 64, "num_heads": 4}},
            "blas_core": {"attnd": core, "torch": os.environ.get("OPENBLAS_CORETYPE")},
            "rounds": rounds, "rows": []}
        for r in rows:
            best_th = min(r["torch"], key=lambda th: r["torch"][th])
            row = {"model": r["model"], "L": r["L"], "attentions": r["attentions"],
                   "attnd_http_ms": r["http"] * 1e3, "attnd_forward_ms": r["fwd"] * 1e3,
                   "torch_ms_by_threads": {str(k): v * 1e3 for k, v in r["torch"].items()},
                   "torch_ms": r["torch"][best_th] * 1e3, "torch_threads": best_th,
                   "bytes": r["bytes"]}
            if "max_abs_diff" in r:
                row["max_abs_diff"] = r["max_abs_diff"]
            row["speedup_forward"] = row["torch_ms"] / row["attnd_forward_ms"]
            row["speedup_http"] = row["torch_ms"] / row["attnd_http_ms"]
            results["rows"].append(row)
            log(json.dumps(row))
        if a.only != "default":
            rss_after = rss_kb(daemon.pid)
            wb = os.path.getsize(os.path.join(tmp, "model.safetensors"))
            results["memory"] = {"weights_mb": wb / 2**20, "rss_loaded_mb": rss_loaded / 1024,
                                 "rss_after_mb": rss_after / 1024,
                                 "rss_over_weights_mb": rss_after / 1024 - wb / 2**20}
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"Best of {rounds} rounds; OpenBLAS core {core}. attnd forward = meta.compute_ms; "
          "ratio = PyTorch's best thread count / attnd.\n")
    print("| model | L | weights | attnd forward ms | attnd HTTP ms | PyTorch ms by threads | "
          "ratio forward | ratio HTTP | response bytes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results["rows"]:
        by = ", ".join(f"{k}: {v:.2f}" for k, v in r["torch_ms_by_threads"].items())
        print(f"| {r['model']} | {r['L']} | {'all' if r['attentions'] else 'none'} | "
              f"{r['attnd_forward_ms']:.2f} | {r['attnd_http_ms']:.2f} | {by} | "
              f"{r['speedup_forward']:.2f}x | {r['speedup_http']:.2f}x | {r['bytes']} |")
    print("\nGoals (attnd's forward >= 1.5x PyTorch's best thread count):")
    for r in results["rows"]:
        ok = r["speedup_forward"] >= 1.5
        print(f"  {'MET ' if ok else 'MISS'}  {r['model']} L{r['L']} weights "
              f"{'all' if r['attentions'] else 'none'}: {r['speedup_forward']:.2f}x forward "
              f"({r['attnd_forward_ms']:.2f} ms vs {r['torch_ms']:.2f} ms on "
              f"{r['torch_threads']} thread(s)); end to end {r['speedup_http']:.2f}x")
    m = results.get("memory")
    if m:
        print(f"\nweights {m['weights_mb']:.0f} MB mapped; daemon RSS {m['rss_loaded_mb']:.0f} MB "
              f"after loading, {m['rss_after_mb']:.0f} MB after the runs "
              f"({m['rss_over_weights_mb']:+.0f} MB over the weights; goal <= +64 MB)")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
