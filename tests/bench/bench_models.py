#!/usr/bin/python3
"""BERT-base-sized forward passes (issue 13): attnd serving a Hugging Face folder beside PyTorch
running the same forward on the same weights, in the same run, one measurement at a time.

The folder (12 layers, hidden 768, 12 heads, intermediate 3072, vocab 30522, 512 positions;
random weights from a fixed seed, F32) is written at bench time into a temporary directory with
tests/fixtures/make_hf_fixtures.py's writer and never committed. For L = 128 and 512, with every
layer's attentions returned and without them, it times POST /v1/models/bert/attention ({"ids"})
end to end (HTTP, JSON encoding of the attentions included) and the forward alone (meta.compute_ms),
and PyTorch's float32 forward (make_hf_fixtures.bert_forward, the reference of the tests) at each
thread count 1..nproc, keeping PyTorch's best. Then the daemon's RSS against the mapped weights.

Prints a Markdown table and writes JSON (--out). Standard library plus Debian's python3-torch.
Usage: /usr/bin/python3 tests/bench/bench_models.py [--build build] [--out build/bench_models.json]
                                                    [--repeat 5] [--quick]
"""
import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))

import torch  # noqa: E402

import make_hf_fixtures as hf  # noqa: E402

CONFIG = dict(hf.bert_config(12, "gelu", E=768, H=12, I=3072, V=30522),
              max_position_embeddings=512)


def log(msg):
    print(f"[bench_models {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def write_folder(d):
    gen = torch.Generator().manual_seed(13)
    tensors = hf.bert_tensors(CONFIG, gen, "", False)
    stored, weights = [], {}
    for n, v in tensors:
        s = v.to(torch.float32).contiguous() * (0.04 if v.dim() == 2 else 1.0)
        if n.endswith("LayerNorm.weight"):
            s = torch.ones_like(s) + 0.02 * s
        stored.append((n, s, "F32"))
        weights[n] = s
    hf.write_safetensors(os.path.join(d, "model.safetensors"), stored)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(CONFIG, f)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        f.write("".join(w + "\n" for w in words + ["w%d" % i for i in range(30522 - 5)]))
    return weights


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/bert/attention",
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


def torch_forward(w, ids, attentions):
    types = [0] * len(ids)
    with torch.no_grad():
        a, h = hf.bert_forward(CONFIG, w, ids, types)
    return a if attentions else h[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="L 128 only, 3 repeats")
    a = ap.parse_args()
    lens = [128] if a.quick else [128, 512]
    repeat = 3 if a.quick else a.repeat
    tmp = tempfile.mkdtemp(prefix="attnd-bench-bert-")
    results = {"config": {k: CONFIG[k] for k in ("num_hidden_layers", "hidden_size",
                                                  "num_attention_heads", "intermediate_size",
                                                  "vocab_size")}, "rows": []}
    daemon = None
    try:
        log("writing the BERT-base folder")
        w = write_folder(tmp)
        weights_bytes = os.path.getsize(os.path.join(tmp, "model.safetensors"))
        port = free_port()
        daemon = subprocess.Popen([os.path.join(a.build, "attnd"), "--port", str(port),
                                   "--model", "bert=" + tmp], stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).read()
                break
            except Exception:
                time.sleep(0.1)
        rss_loaded = rss_kb(daemon.pid)
        nproc = os.cpu_count() or 1
        wt = {k: v.to(torch.float32) for k, v in w.items()}
        rng = random.Random(1)
        for L in lens:
            ids = [2] + [rng.randrange(5, 30522) for _ in range(L - 2)] + [3]
            for weights in (True, False):
                body = json.dumps({"ids": ids, "return_weights": weights}).encode()
                post(port, body)  # warm-up
                wall, comp = [], []
                for _ in range(repeat):
                    t, data = post(port, body)
                    wall.append(t)
                    comp.append(json.loads(data)["meta"]["compute_ms"] / 1e3)
                best_torch, best_threads = None, 0
                for th in range(1, nproc + 1):
                    torch.set_num_threads(th)
                    torch_forward(wt, ids, weights)
                    ts = []
                    for _ in range(repeat):
                        t0 = time.perf_counter()
                        torch_forward(wt, ids, weights)
                        ts.append(time.perf_counter() - t0)
                    m = statistics.median(ts)
                    if best_torch is None or m < best_torch:
                        best_torch, best_threads = m, th
                row = {"L": L, "attentions": weights, "attnd_http_ms": statistics.median(wall) * 1e3,
                       "attnd_forward_ms": statistics.median(comp) * 1e3,
                       "torch_ms": best_torch * 1e3, "torch_threads": best_threads,
                       "bytes": len(data)}
                row["speedup_forward"] = row["torch_ms"] / row["attnd_forward_ms"]
                row["speedup_http"] = row["torch_ms"] / row["attnd_http_ms"]
                results["rows"].append(row)
                log(json.dumps(row))
        rss_after = rss_kb(daemon.pid)
        results["memory"] = {"weights_mb": weights_bytes / 2**20, "rss_loaded_mb": rss_loaded / 1024,
                             "rss_after_mb": rss_after / 1024,
                             "rss_over_weights_mb": rss_after / 1024 - weights_bytes / 2**20}
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("| L | attentions | attnd forward ms | attnd HTTP ms | PyTorch ms (threads) | "
          "speed-up (forward / HTTP) | response bytes |")
    print("|---|---|---|---|---|---|---|")
    for r in results["rows"]:
        print(f"| {r['L']} | {'all' if r['attentions'] else 'none'} | {r['attnd_forward_ms']:.1f} | "
              f"{r['attnd_http_ms']:.1f} | {r['torch_ms']:.1f} ({r['torch_threads']}) | "
              f"{r['speedup_forward']:.2f}x / {r['speedup_http']:.2f}x | {r['bytes']} |")
    m = results["memory"]
    print(f"\nweights {m['weights_mb']:.0f} MB mapped; daemon RSS {m['rss_loaded_mb']:.0f} MB after "
          f"loading, {m['rss_after_mb']:.0f} MB after the runs ({m['rss_over_weights_mb']:+.0f} MB "
          f"over the weights; goal <= +64 MB)")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
