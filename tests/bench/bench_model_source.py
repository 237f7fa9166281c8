#!/usr/bin/python3
"""Decoding step by step against a model's stored source (issue 15, part 2).

A decoder asks one token per step against the same source. Each case times, on one keep-alive
connection, 32 steps of POST /v1/models/{name}/attention naming the source with "source_id"
(after one PUT /v1/sources/{id} with {"model", "source"}, timed apart) against the same 32 steps
sending the source inline each time. Every stored step's response must equal the inline one's
byte for byte but compute_ms. Best of --rounds rounds for each figure.

Standard library only. Starts build/attnd --threads 2 on a free port and stops it.
Usage: /usr/bin/python3 tests/bench/bench_model_source.py [--build build] [--rounds 5]
                                                          [--blas-core NAME]
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

STEPS = 32
ZH = "欢迎来北京我在北京工作你们好吃饭喝茶红色蓝色三个两本书"
CASES = [  # model, source, the words asked one per step
    ("zh-en", {"text": (ZH * 3)[:60]}, ["welcome", "to", "Beijing", "I", "work", "in"]),
    ("default", {"text": " ".join("w%d" % i for i in range(2048))}, ["alpha", "beta", "gamma"]),
    ("default", {"text": " ".join("w%d" % i for i in range(16384))}, ["alpha", "beta", "gamma"]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--blas-core", default="auto")
    args = ap.parse_args()
    log = tempfile.TemporaryFile(mode="w+")
    # As the other sections run attnd: its own choice of OpenBLAS kernels, not the environment's.
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    daemon = subprocess.Popen([f"{args.build}/attnd", "--host", "127.0.0.1", "--port", "0",
                               "--threads", "2", "--blas-core", args.blas_core], stderr=log,
                              env=env)
    try:
        port = None
        for _ in range(1000):  # up to 10 s
            log.seek(0)
            m = re.search(r"msg=listening url=http://127.0.0.1:(\d+)/", log.read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.01)
        if not port:
            sys.exit("attnd did not start")
        run(port, args.rounds)
    finally:
        daemon.terminate()
        daemon.wait()


def run(port, rounds):
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def send(method, path, body):
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
        return data

    def strip(b):
        return re.sub(rb'"compute_ms":[0-9.]+', b"", b)

    print("| model | S | PUT ms | 32 steps stored ms | 32 steps inline ms | steps x | "
          "with PUT x | body inline / stored B |")
    print("|---|---|---|---|---|---|---|---|")
    for model, source, words in CASES:
        steps = [words[i % len(words)] for i in range(STEPS)]
        put = json.dumps({"model": model, "source": source}, ensure_ascii=False).encode()
        inline = [json.dumps({"text": w, "source": source, "return_weights": False},
                             ensure_ascii=False).encode() for w in steps]
        stored = [json.dumps({"text": w, "source_id": "dec", "return_weights": False}).encode()
                  for w in steps]
        path = f"/v1/models/{model}/attention"
        best = {"put": 1e30, "stored": 1e30, "inline": 1e30}
        for _ in range(rounds):
            t0 = time.perf_counter()
            send("PUT", "/v1/sources/dec", put)
            t1 = time.perf_counter()
            a = [send("POST", path, b) for b in stored]
            t2 = time.perf_counter()
            b = [send("POST", path, b) for b in inline]
            t3 = time.perf_counter()
            if any(strip(x) != strip(y) for x, y in zip(a, b)):
                raise RuntimeError("a step against the stored source differs from the inline one")
            best["put"] = min(best["put"], (t1 - t0) * 1e3)
            best["stored"] = min(best["stored"], (t2 - t1) * 1e3)
            best["inline"] = min(best["inline"], (t3 - t2) * 1e3)
        s = json.loads(send("GET", "/v1/sources/dec", None))["source_length"]
        print(f"| {model} | {s} | {best['put']:.2f} | {best['stored']:.2f} | "
              f"{best['inline']:.2f} | {best['inline'] / best['stored']:.1f} | "
              f"{best['inline'] / (best['put'] + best['stored']):.1f} | "
              f"{len(inline[0])} / {len(stored[0])} |")


if __name__ == "__main__":
    main()
