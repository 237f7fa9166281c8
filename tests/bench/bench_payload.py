#!/usr/bin/python3
"""Tensors on the wire: what a request's bytes cost end to end, binary against JSON.

1. Large payload, small compute (issue 12): one query over 65,536 keys and values of d 64
   (32 MiB of float32 key + value), self-contained in each request. Times the whole round trip
   over loopback on one keep-alive connection, as tensor megabytes per second (the float32
   bytes of query, key and value over the seconds): attnd's Open Inference Protocol with binary
   tensors (POST /v2/models/attention/infer, Inference-Header-Content-Length), the same protocol
   with JSON `data`, attnd's /v1 JSON, and the FastAPI + PyTorch peer's JSON; beside them the
   wire's ceiling, bare libmicrohttpd (peers/mhd_hello.c) reading and dropping the binary body
   from the same client. Rounds interleave the targets; each figure is the best round's median.
2. Medium requests (issue 15, goal 4): H8 L128 d64 self-attention with the weights returned,
   wrk -t2 -c32, on v2 binary (inputs and outputs) against /v1 JSON; rounds interleave them.

Before timing, each form's context is checked against numpy's (max abs difference printed), so
the rates compare requests that computed the same thing.

Standard library plus numpy (Debian's python3-numpy). Prints Markdown tables and writes JSON.
Usage: /usr/bin/python3 tests/bench/bench_payload.py [--build build] [--out FILE]
                                                     [--blas-core NAME] [--quick]
"""
import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BARE = "bare libmicrohttpd (the wire)"
PEERS = os.path.join(HERE, "peers")


def log(msg):
    print(f"[bench_payload {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, url, env=None, cwd=None, timeout=60):
    """Starts a server with os.environ and `env` (a value of None removes the variable) and
    waits for its /healthz."""
    e = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    p = subprocess.Popen(cmd, cwd=cwd, env=e, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    t0 = time.time()
    while time.time() - t0 < timeout:
        if p.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited: {p.stderr.read().decode()[-500:]}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", int(url.split(":")[-1]), timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return p
        except OSError:
            pass
        time.sleep(0.1)
    p.kill()
    raise RuntimeError(f"{cmd[0]} did not answer /healthz")


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


# ---- the Open Inference Protocol's binary tensor extension, as tritonclient frames it ----

def v2_binary(inputs, outputs, binary_output=True):
    """The body and Inference-Header-Content-Length of a v2 request whose inputs are all binary:
    the JSON header, then each input's raw little-endian bytes in order."""
    header = {"inputs": [], "outputs": [{"name": n, "parameters": {"binary_data": binary_output}}
                                        for n in outputs]}
    blobs = []
    for name, arr in inputs:
        raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header["inputs"].append({"name": name, "shape": list(arr.shape), "datatype": "FP32",
                                 "parameters": {"binary_data_size": len(raw)}})
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    return text + b"".join(blobs), len(text)


def json_text(a):
    """A float32 array as nested JSON arrays of 7-digit numbers (what a client that prints
    float32 sensibly sends; Python's own repr would print 17 digits of the double)."""
    if a.ndim == 1:
        return "[" + ",".join("%.7g" % x for x in a) + "]"
    return "[" + ",".join(json_text(x) for x in a) + "]"


def v2_json(inputs, outputs):
    """A v2 request with every tensor as flat JSON `data`."""
    return ('{"inputs":[%s],"outputs":[%s]}' % (
        ",".join('{"name":"%s","shape":%s,"datatype":"FP32","data":%s}' %
                 (n, json.dumps(list(a.shape)), json_text(a.ravel())) for n, a in inputs),
        ",".join('{"name":"%s"}' % n for n in outputs))).encode()


def v2_outputs(headers, body):
    """The outputs of a v2 response as numpy arrays: the JSON header (all of the body, or its
    first Inference-Header-Content-Length bytes), then the binary section walked in output
    order by summing binary_data_size, as tritonclient does."""
    hlen = headers.get("inference-header-content-length")
    hlen = int(hlen) if hlen is not None else len(body)
    doc = json.loads(body[:hlen])
    out, at = {}, hlen
    for o in doc["outputs"]:
        size = (o.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            out[o["name"]] = np.frombuffer(body[at:at + size], dtype="<f4").reshape(o["shape"])
            at += size
        else:
            out[o["name"]] = np.asarray(o["data"], dtype=np.float32).reshape(o["shape"])
    if at != len(body):
        raise RuntimeError(f"binary section: {len(body) - at} bytes left over")
    return out


def reference(q, k, v):
    s = (q @ k.T) / np.sqrt(q.shape[-1])
    s = np.exp(s - s.max(axis=-1, keepdims=True))
    w = s / s.sum(axis=-1, keepdims=True)
    return w @ v


# ---- timing ----

class Target:
    """One way of sending the request: a path, a body, headers and a decoder of the answer."""

    def __init__(self, name, port, path, body, headers, decode):
        self.name, self.port, self.path, self.body = name, port, path, body
        self.headers, self.decode = headers, decode
        self.conn = None

    def once(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        self.conn.request("POST", self.path, body=self.body, headers=self.headers)
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{self.name}: HTTP {r.status}: {data[:300]!r}")
        return {k.lower(): v for k, v in r.getheaders()}, data

    def context(self):
        return self.decode(*self.once())

    def timed(self, n):
        """The median of n round trips on a fresh keep-alive connection (a server may have
        closed an idle one while the other targets ran)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.once()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)


def wrk_rps(url, lua, seconds):
    out = subprocess.run(["wrk", "--latency", "-s", lua, "-t2", "-c32", f"-d{seconds}s",
                          "--timeout", "30s", url], capture_output=True, text=True,
                         timeout=300).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m and int(m.group(1)):
        raise RuntimeError(f"wrk {url}: {m.group(1)} non-2xx responses")
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return rps, p99.group(1) if p99 else "?"


def write_lua(path, body_path, headers):
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n')
        for k, v in headers.items():
            f.write(f'wrk.headers["{k}"] = "{v}"\n')
        f.write(f'local f = assert(io.open("{body_path}", "rb"))\n'
                'wrk.body = f:read("*a")\nf:close()\n')


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda r: "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |"
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] +
                     [line(r) for r in rows])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default="build/bench_payload.json")
    ap.add_argument("--blas-core", default="auto")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    rounds, reps, wrk_secs = (1, 2, 2) if a.quick else (3, 5, 5)
    rng = np.random.default_rng(12)
    lk, d = 65536, 64
    q = rng.uniform(-1, 1, (1, d)).astype(np.float32)
    k = rng.uniform(-1, 1, (lk, d)).astype(np.float32)
    v = rng.uniform(-1, 1, (lk, d)).astype(np.float32)
    tensor_mb = (q.nbytes + k.nbytes + v.nbytes) / 1e6
    want = reference(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64))

    port = free_port()
    # JSON of 8.4M floats is about 100 MB: room for it, the same limits for every form.
    attnd = start([f"{a.build}/attnd", "--host", "127.0.0.1", "--port", str(port), "--threads",
                   "2", "--http-threads", "2", "--log-level", "warn", "--blas-core", a.blas_core,
                   "--max-body-bytes", str(256 << 20), "--max-body-memory", str(1 << 30),
                   "--max-elements", str(64 << 20)], f":{port}",
                  env={"OPENBLAS_CORETYPE": None})
    # The wire's ceiling: bare libmicrohttpd reading (and dropping) the same bytes.
    bare_port = free_port()
    try:
        bare = start([f"{a.build}/bench/peer_mhd_hello", str(bare_port), "2"], f":{bare_port}")
    except (RuntimeError, OSError):
        stop(attnd)
        raise
    peer, peer_port = None, free_port()
    try:
        peer = start(["/usr/bin/python3", "fastapi_torch_server.py", str(peer_port), "1"],
                     f":{peer_port}", env={"OMP_NUM_THREADS": "1"}, cwd=PEERS)
    except (RuntimeError, OSError) as e:
        log(f"FastAPI peer not started: {e}")
    try:
        ctx_v1 = lambda h, b: np.asarray(json.loads(b)["context"], dtype=np.float32)
        ctx_v2 = lambda h, b: v2_outputs(h, b)["context"]
        bin_body, hlen = v2_binary([("query", q), ("key", k), ("value", v)], ["context"])
        v1_body = ('{"query":%s,"key":%s,"value":%s,"return_weights":false}' %
                   (json_text(q), json_text(k), json_text(v))).encode()
        targets = [
            Target("attnd v2 binary", port, "/v2/models/attention/infer", bin_body,
                   {"Inference-Header-Content-Length": str(hlen)}, ctx_v2),
            Target("attnd v2 JSON", port, "/v2/models/attention/infer",
                   v2_json([("query", q), ("key", k), ("value", v)], ["context"]),
                   {"Content-Type": "application/json"}, ctx_v2),
            Target("attnd v1 JSON", port, "/v1/attention", v1_body,
                   {"Content-Type": "application/json"}, ctx_v1),
        ]
        if peer:
            targets.append(Target("FastAPI + PyTorch JSON", peer_port, "/v1/attention", v1_body,
                                  {"Content-Type": "application/json"}, ctx_v1))
        ceiling = Target(BARE, bare_port, "/v2/models/attention/infer", bin_body,
                         {"Inference-Header-Content-Length": str(hlen)}, None)
        targets.append(ceiling)
        errors = {BARE: None}
        for t in targets:
            if t is ceiling:
                t.once()
                continue
            got = t.context().reshape(want.shape)
            errors[t.name] = float(np.abs(got - want).max())
            log(f"{t.name}: body {len(t.body) / 1e6:.1f} MB, max |context - numpy| "
                f"{errors[t.name]:.2e}")
            if errors[t.name] > 1e-4:
                raise RuntimeError(f"{t.name} computed another context")
        best = {t.name: float("inf") for t in targets}
        for r in range(rounds):
            for t in targets:
                best[t.name] = min(best[t.name], t.timed(reps))
                log(f"round {r + 1}: {t.name} {best[t.name] * 1e3:.1f} ms")
        base = best["attnd v1 JSON"]
        rows1 = [[t.name, f"{len(t.body) / 1e6:.1f}", f"{best[t.name] * 1e3:.1f}",
                  f"{tensor_mb / best[t.name]:.0f}", f"{base / best[t.name]:.2f}x",
                  "-" if errors[t.name] is None else f"{errors[t.name]:.1e}"] for t in targets]

        # Medium: H8 L128 d64 with the weights, wrk, interleaved.
        tmp = tempfile.mkdtemp(prefix="attnd-payload-")
        mq = rng.uniform(-1, 1, (8, 128, 64)).astype(np.float32)
        mbin, mhlen = v2_binary([("query", mq)], ["context", "weights"])
        mjson = ('{"query":%s}' % json_text(mq)).encode()
        forms = {"v2 binary": ("/v2/models/attention/infer", mbin,
                               {"Inference-Header-Content-Length": str(mhlen)}),
                 "v1 JSON": ("/v1/attention", mjson, {"Content-Type": "application/json"})}
        medium = {}
        for name, (path, body, headers) in forms.items():
            t = Target(name, port, path, body, headers,
                       ctx_v2 if name.startswith("v2") else ctx_v1)
            got = t.context().reshape(8, 128, 64)
            err = float(np.abs(got - reference_heads(mq)).max())
            if err > 1e-4:
                raise RuntimeError(f"medium {name}: context differs from numpy by {err}")
            bp = os.path.join(tmp, name.replace(" ", "_") + ".body")
            with open(bp, "wb") as f:
                f.write(body)
            lua = bp + ".lua"
            write_lua(lua, bp, headers)
            medium[name] = {"lua": lua, "url": f"http://127.0.0.1:{port}{path}", "rps": 0.0,
                            "p99": "?", "body_mb": len(body) / 1e6}
        for r in range(rounds):
            for name, m in medium.items():
                rps, p99 = wrk_rps(m["url"], m["lua"], wrk_secs)
                if rps > m["rps"]:
                    m["rps"], m["p99"] = rps, p99
                log(f"round {r + 1}: medium {name} {rps:.0f} req/s p99 {p99}")
        for name in os.listdir(tmp):
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)
    finally:
        stop(attnd)
        stop(bare)
        if peer:
            stop(peer)

    mratio = medium["v2 binary"]["rps"] / medium["v1 JSON"]["rps"]
    bin_mbs = tensor_mb / best["attnd v2 binary"]
    bin_ratio = base / best["attnd v2 binary"]
    wire = best[BARE] / best["attnd v2 binary"]
    goals = [
        {"goal": "large payload: v2 binary >= 0.5x the wire (bare libmicrohttpd reading the same "
                 "bytes from the same client)",
         "met": wire >= 0.5, "figure": f"{wire:.2f}x ({bin_mbs:.0f} MB/s against "
                                       f"{tensor_mb / best[BARE]:.0f} MB/s)"},
        {"goal": "large payload: v2 binary >= 3x attnd's own JSON (v1)",
         "met": bin_ratio >= 3, "figure": f"{bin_ratio:.1f}x"},
        {"goal": "medium H8 L128 d64 with weights: v2 binary >= 5x v1 JSON req/s",
         "met": mratio >= 5, "figure": f"{mratio:.1f}x"},
    ]
    print(f"\n6a. Large payload, small compute: 1 query over {lk} keys and values of d {d} "
          f"({tensor_mb:.1f} MB of float32 tensors a request), one keep-alive connection, "
          f"median of {reps} round trips, best of {rounds} interleaved round(s)\n")
    print(table(["form", "body MB", "ms / request", "tensor MB/s", "x attnd v1 JSON",
                 "max |err|"], rows1))
    print(f"\n6b. Medium requests (H8 L128 d64, weights returned), wrk -t2 -c32 -d{wrk_secs}s, "
          f"best of {rounds} interleaved round(s)\n")
    print(table(["form", "body MB", "req/s", "p99", "x v1 JSON"],
                [[n, f"{m['body_mb']:.2f}", f"{m['rps']:.0f}", m["p99"],
                  f"{m['rps'] / medium['v1 JSON']['rps']:.2f}x"] for n, m in medium.items()]))
    doc = {"tensor_mb": tensor_mb, "large_seconds": best, "large_errors": errors,
           "medium": {n: {k_: m[k_] for k_ in ("rps", "p99", "body_mb")}
                      for n, m in medium.items()}, "goals": goals}
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def reference_heads(q):
    return np.stack([reference(h.astype(np.float64), h.astype(np.float64), h.astype(np.float64))
                     for h in q])


if __name__ == "__main__":
    main()
