"""`make bench`: attnd beside its peers, measured one after the other in the same run on the
same machine, so that every figure comes with a ratio. Four parts:

1. core attention GFLOP/s beside the machine's FMA peak, the OpenBLAS sgemm ceiling, PyTorch
   (manual attention, and PyTorch formulations of the additive score and top-k selection) and,
   with --ggml, ggml's CPU flash attention (also at one query over 65,536 keys); every
   BLAS-backed program runs the OpenBLAS core attnd runs, and says which it ran;
2. JSON decode/encode of a 1M-float tensor through attnd's codec beside plain cJSON;
3. requests/s and latency under wrk beside bare libmicrohttpd and FastAPI+uvicorn+PyTorch;
4. the daemon's peak RSS serving one Lq = Lk = 16384, d = 64 request without weights.

Prints the tables (Markdown) and the goals of the issue with PASS/FAIL, each a ratio to a
ceiling or a peer timed in the same run, and writes build/bench.json.
Standard library only. The Makefile's bench target installs the packages and builds first.

Usage: python3 tests/bench/run_bench.py [--build build] [--peers tests/bench/peers]
                                        [--out build/bench.json] [--quick] [--rounds N]
                                        [--ggml build/bench/ggml_flash]
                                        [--blas-core auto|library|NAME] [--compare-core NAME]...
"""
import argparse
import json
import os
import random
import resource
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"  # Debian's python, which has python3-torch (a pyenv one may not)

# Row 1 of the issue: the shapes of the peer torch_attention_bench.py, (B, H, L, d).
CORE_SHAPES = [(1, 8, 128, 64), (1, 8, 512, 64), (1, 8, 2048, 64), (4, 12, 256, 64)]
THREADS = [1, 2]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def child_env(env):
    """os.environ with `env` applied: a value of None removes the variable."""
    full_env = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    return full_env


# Set for every BLAS-backed process once the core attnd runs is known (main).
BLAS_ENV = {}


def run(cmd, env=None, cwd=None, timeout=600):
    """Runs cmd, returns its stdout; raises with stderr on failure."""
    full_env = child_env({**BLAS_ENV, **(env or {})})
    p = subprocess.run(cmd, env=full_env, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    return p.stdout


def kv(line):
    """Parses 'a=1 b=x' into a dict (numbers as float)."""
    out = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def has_module(*mods):
    return subprocess.run([PY, "-c", "import " + ", ".join(mods)],
                          capture_output=True).returncode == 0


def cpu_model():
    try:
        for line in run(["lscpu"]).splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (RuntimeError, OSError):
        pass
    return "unknown"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------------------------------------
# 1. Core attention


class Quiet:
    """Waits, before each measurement, until the other processes of this (shared) machine use
    less than a fifth of its CPUs, at most `budget` seconds over the whole run. Counts the
    measurements that had to start on a busy machine anyway."""

    def __init__(self, budget):
        self.budget, self.waited, self.busy_starts, self.checks = budget, 0.0, 0, 0

    @staticmethod
    def busy_fraction(interval=0.25):
        def sample():
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:9]]
            return sum(v), v[3] + v[4]  # total, idle + iowait
        t0, i0 = sample()
        time.sleep(interval)
        t1, i1 = sample()
        return 1.0 - (i1 - i0) / max(1, t1 - t0)

    def __call__(self):
        self.checks += 1
        while True:
            busy = self.busy_fraction()
            if busy < 0.2:
                return
            if self.waited >= self.budget:
                self.busy_starts += 1
                return
            time.sleep(1.0)
            self.waited += 1.25


def sgemm_once(build, threads, cores):
    out = run([f"{build}/bench/peer_sgemm_peak", "1024"],
              env={"OPENBLAS_NUM_THREADS": str(threads)})
    cores["sgemm"] = re.search(r"core=(\S+)", out).group(1)
    return float(re.search(r"sgemm ([\d.]+) GFLOP/s", out).group(1))


def fma_peak_once(build, threads):
    """{threads: GFLOP/s} of the FMA peak on 1..threads threads, and the vector width used."""
    got, width = {}, None
    for _ in range(3):  # best of three short runs: a peak is only ever underestimated
        out = run([f"{build}/bench/peer_fma_peak", str(threads), "0.3"])
        for line in out.splitlines():
            r = kv(line)
            t = int(r["threads"])
            got[t] = max(got.get(t, 0.0), r["peak"])
            width = r["width"]
    return got, width


def attnd_blas_core(build, setting):
    """The OpenBLAS core the daemon runs with --blas-core `setting` in this environment (for
    auto, without the environment's own OPENBLAS_CORETYPE, so that attnd decides): (core,
    reason, by), read from its start-up log line."""
    env = {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None} if setting == "auto" else {}
    p = start([f"{build}/attnd", "--host", "127.0.0.1", "--port", "0", "--blas-core", setting],
              env=env)
    try:
        for _ in range(200):
            p.errfile.seek(0)
            text = p.errfile.read().decode(errors="replace")
            m = re.search(r"msg=blas core=(\S+) reason=(\S+) by=(\S+)", text)
            if m and "msg=listening" in text:
                return m.groups()
            if p.poll() is not None:
                raise RuntimeError(f"attnd --blas-core {setting} exited: {text[-1000:]}")
            time.sleep(0.05)
        raise RuntimeError("attnd did not report its BLAS core within 10 s")
    finally:
        stop(p)


def torch_peer_once(peers, threads, cores):
    """One run of the peer on `threads` threads: {shape: GFLOP/s} of its manual attention."""
    out = run([PY, os.path.join(peers, "torch_attention_bench.py"), str(threads)],
              env={"OMP_NUM_THREADS": str(threads)})
    m = re.search(r"^core=(\S+)", out, re.M)
    cores["PyTorch"] = m.group(1) if m else "unknown"
    got = {}
    for m in re.finditer(r"B=(\d+) H=(\d+) N=(\d+) D=(\d+): manual sdpa ([\d.]+) ms = "
                         r"([\d.]+) GFLOP/s", out):
        got["B%s H%s L%s d%s" % m.group(1, 2, 3, 4)] = float(m.group(6))
    return got


def torch_variants_once(threads, seconds):
    out = run([PY, os.path.join(HERE, "torch_variants.py"), str(threads), str(seconds), "1"],
              env={"OMP_NUM_THREADS": str(threads)})
    return {kv(line)["variant"]: kv(line)["ms"] for line in out.splitlines() if line.strip()}


def attnd_core(build, threads, extra, seconds, core=None):
    """One round of bench_core (a warm-up call, then calls for >= seconds): its key=values.
    `core` runs it on another OpenBLAS core than attnd's (the comparison columns)."""
    args = [f"{build}/bench/bench_core", f"threads={threads}", f"seconds={seconds}", "rounds=1"]
    env = {"OPENBLAS_NUM_THREADS": "1"}
    if core:
        env["OPENBLAS_CORETYPE"] = core
    out = run(args + extra, env=env)
    return kv(out.strip().splitlines()[-1])


def shape_key(b, h, l, d):
    return f"B{b} H{h} L{l} d{d}"


# ggml's CPU flash attention (peers/ggml_flash.c, built against $GGML_DIR by the Makefile) -------
# One query over 65,536 keys (d 64): the decoder's step, where only B*H = 1 work item exists.
ONE_QUERY = (1, 1, 1, 65536, 64)  # B, H, Lq, Lk, d


def one_query_key():
    b, h, lq, lk, d = ONE_QUERY
    return f"B{b} H{h} Lq{lq} Lk{lk} d{d}"


def one_query_args():
    b, h, lq, lk, d = ONE_QUERY
    return [f"B={b}", f"H={h}", f"Lq={lq}", f"Lk={lk}", f"d={d}"]


def ggml_once(ggml, threads, shape_args, seconds):
    """One round of the ggml driver (a warm-up call, then calls for >= seconds): its key=values
    (gflops, ms, kv = the key/value type it could use: f32, else f16)."""
    out = run([ggml, f"threads={threads}", f"seconds={seconds}", "rounds=1"] + shape_args,
              env={"OMP_NUM_THREADS": str(threads)})
    return kv(out.strip().splitlines()[-1])


def read_f32(path):
    import array
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return a


def ggml_agreement(build, ggml, shape_args):
    """Max |attnd - ggml| over the context of one shape (scale 1/sqrt(d), no mask), and the
    largest |attnd| for scale: shows the two compute the same thing."""
    with tempfile.TemporaryDirectory(prefix="attnd-ggml-") as tmp:
        pa, pg = os.path.join(tmp, "attnd.f32"), os.path.join(tmp, "ggml.f32")
        run([f"{build}/bench/bench_core", "threads=1", "seconds=0", "rounds=1", "weights=0",
             f"out={pa}"] + shape_args, env={"OPENBLAS_NUM_THREADS": "1"})
        r = kv(run([ggml, "threads=1", "seconds=0", "rounds=1", f"out={pg}"] + shape_args)
               .strip().splitlines()[-1])
        a, g = read_f32(pa), read_f32(pg)
    if len(a) != len(g) or not a:
        raise RuntimeError(f"context sizes differ: attnd {len(a)}, ggml {len(g)} floats")
    return {"max_abs_diff": max(abs(x - y) for x, y in zip(a, g)),
            "max_abs": max(abs(x) for x in a), "kv": r.get("kv"), "floats": len(a)}


def one_query_rows(res, have_ggml):
    """Rows of the one-query table: attnd (no weights) and ggml at 1 and 2 threads."""
    rows = []
    for t in THREADS:
        a_ = res["one_query"]["attnd"].get(t)
        g_ = res["one_query"]["ggml"].get(t) if have_ggml else None
        rows.append([one_query_key(), t, num(a_), num(g_), rx(ratio(a_, g_))])
    return rows


def ggml_round(ggml, build, res, secs, quiet, notes):
    """One round of the ggml side of the core table (every shape, 1 and 2 threads) and of the
    one-query shape for attnd and ggml; keeps the best of the rounds in res. Returns False (and
    says why in notes) when the driver fails, so that the run goes on without it."""
    for (b, h, l, d) in CORE_SHAPES:
        for t in THREADS:
            quiet()
            try:
                r = ggml_once(ggml, t, [f"B={b}", f"H={h}", f"L={l}", f"d={d}"], secs)
            except RuntimeError as e:
                notes.append(f"ggml's driver failed, its figures are skipped: {str(e)[-300:]}")
                return False
            res["ggml_kv"] = r.get("kv")
            g = res["ggml"].setdefault(t, {})
            g[shape_key(b, h, l, d)] = max(g.get(shape_key(b, h, l, d), 0.0), r["gflops"])
    for t in THREADS:
        quiet()
        r = ggml_once(ggml, t, one_query_args(), secs)
        oq = res["one_query"]["ggml"]
        oq[t] = max(oq.get(t, 0.0), r["gflops"])
    return True


def one_query_attnd_round(build, res, secs, quiet):
    for t in THREADS:
        quiet()
        r = attnd_core(build, t, one_query_args() + ["weights=0"], secs)
        oq = res["one_query"]["attnd"]
        oq[t] = max(oq.get(t, 0.0), r["gflops"])


# The goal of issue 15 for the core: each figure a ratio to something timed in the same run.
CORE_GOAL_SGEMM = 0.80  # of the sgemm ceiling at the same thread count
CORE_GOAL_GGML = 2.0    # x ggml's flash attention at the same thread count
CORE_GOAL_TORCH = 2.0   # x PyTorch at its best thread count
# The other goals, restated as ratios (issue 15): JSON at 10x plain cJSON's floats/s (the old
# 400 MB/s was 14-25x cJSON's 16-29 MB/s here, and attnd's text is shorter per float), and one
# long request's peak RSS growth at 3x its body (the body, its floats and the answer's text).
JSON_GOAL_CJSON = 10.0
MEM_GOAL_BODY = 3.0


def core_goals(c, goal):
    """Goal 1 of issue 15 for one row of the core table (a shape, weights or not, a thread
    count): >= 80% of the sgemm ceiling, >= 2x ggml, >= 2x PyTorch's best thread count, each
    timed in the same run. Registers them with goal() and returns the table's goal cell."""
    wl = "weights" if c["weights"] else "no weights"
    name = f"{c['shape']} {wl} {c['threads']} thread(s)"
    cells = []
    f = ratio(c["gflops"], c["sgemm"])
    cells.append(f">= {CORE_GOAL_SGEMM:.0%} of sgemm: " + goal(
        f"{name} >= {CORE_GOAL_SGEMM:.0%} of the sgemm ceiling", None if f is None else
        f >= CORE_GOAL_SGEMM, pct(c["gflops"], c["sgemm"])))
    f = ratio(c["gflops"], c.get("ggml"))
    cells.append(f">= {CORE_GOAL_GGML:g}x ggml: " + goal(
        f"{name} >= {CORE_GOAL_GGML:g}x ggml flash attention", None if f is None else
        f >= CORE_GOAL_GGML, rx(f)))
    f = ratio(c["gflops"], c.get("torch_best"))
    cells.append(f">= {CORE_GOAL_TORCH:g}x PyTorch best: " + goal(
        f"{name} >= {CORE_GOAL_TORCH:g}x PyTorch's best thread count", None if f is None else
        f >= CORE_GOAL_TORCH, rx(f)))
    return "; ".join(cells)


# ---------------------------------------------------------------------------------------------
# 3. Service


def wait_http(url, proc, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            proc.errfile.seek(0)
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}: "
                               + proc.errfile.read().decode(errors="replace")[-2000:])
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def start(cmd, cwd=None, env=None):
    """Starts a server in its own process group (so its workers stop with it)."""
    full_env = child_env({**BLAS_ENV, **(env or {})})
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=err,
                            start_new_session=True)
    proc.errfile = err
    return proc


def stop(proc):
    """SIGTERM to the server's process group (attnd drains, uvicorn stops its workers)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=40)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    proc.errfile.close()


def duration(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[m.group(2)]
    return float(m.group(1)) * scale


def wrk(url, lua, seconds, warmup, quiet):
    """wrk -t2 -c32 --latency after a warm-up on one connection (which leaves no backlog of
    queued requests behind it); returns req/s, p50/p99 ms and the error count."""
    base = ["wrk", "--latency", "-s", lua]
    if warmup:
        w = run(base + ["-t1", "-c1", f"-d{warmup}s", url], timeout=120)
        m = re.search(r"^\s+99%\s+(\S+)", w, re.M)
        time.sleep(max(0.2, 2 * duration(m.group(1)) / 1e3) if m else 1.0)
    quiet()
    out = run(base + ["-t2", "-c32", f"-d{seconds}s", "--timeout", "30s", url], timeout=300)
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
         "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        r[f"p{pct}_ms"] = duration(m.group(1)) if m and r["requests"] else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return r


def tensor_json(shape, rng):
    if len(shape) == 1:
        return "[" + ",".join("%.7g" % rng.uniform(-1, 1) for _ in range(shape[0])) + "]"
    return "[" + ",".join(tensor_json(shape[1:], rng) for _ in range(shape[0])) + "]"


def write_lua(path, body_path):
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                f'local f = assert(io.open("{body_path}", "rb"))\n'
                "wrk.body = f:read(\"*a\")\n"
                "f:close()\n")


def vm_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------
# 3b. Latency under concurrency (issue 15, Scale and goal 3)

LAT_CONNS = [1, 8, 32, 128]


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` so far, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_cell(url, lua, conns, seconds, pid=None):
    """wrk --latency on `conns` connections (at most 2 wrk threads, one per core here): req/s,
    p50/p99 ms and the error count; with the server's `pid`, also the CPU microseconds per
    request of the server and of wrk (what the rate ratio tends to when the two saturate the
    cores, however busy the machine is otherwise)."""
    c0 = cpu_seconds(pid) if pid else 0.0
    w0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = run(["wrk", "--latency", "-s", lua, f"-t{min(2, conns)}", f"-c{conns}",
               f"-d{seconds}s", "--timeout", "30s", url], timeout=300)
    w1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = {"conns": conns, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
         "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    if pid and r["requests"]:
        r["server_cpu_us"] = (cpu_seconds(pid) - c0) * 1e6 / r["requests"]
        r["wrk_cpu_us"] = ((w1.ru_utime + w1.ru_stime) - (w0.ru_utime + w0.ru_stime)) * 1e6 / \
            r["requests"]
    for pc in ("50", "99"):
        m = re.search(rf"^\s+{pc}%\s+(\S+)", out, re.M)
        r[f"p{pc}_ms"] = duration(m.group(1)) if m and r["requests"] else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["errors"] = errors + (sum(int(x) for x in m.groups()) if m else 0)
    return r


def settle(port, timeout=60):
    """Waits until attnd on `port` has nothing in flight but the scrape itself and no job queued
    or running: wrk leaves the requests of its last moment behind (up to the queue's depth of
    medium ones), and the next cell must not pay for them."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
        got = {k: float(re.search(rf"^{k} (\S+)", text, re.M).group(1))
               for k in ("attnd_http_requests_in_flight", "attnd_queue_depth",
                         "attnd_workers_busy")}
        if got["attnd_http_requests_in_flight"] <= 1 and not got["attnd_queue_depth"] and \
                not got["attnd_workers_busy"]:
            return
        time.sleep(0.05)
    raise RuntimeError(f"attnd on port {port} still busy {timeout} s after wrk stopped")


def latency_section(build, blas_core, lua, quick, quiet):
    """p50/p99 of tiny and medium requests at LAT_CONNS connections (one run per cell after a
    warm-up), then, interleaved in rounds: tiny at 32 connections beside bare libmicrohttpd
    (goal 3's ratio), and medium at 32 connections on --threads 1 beside --threads 2 (how
    throughput scales with workers). attnd runs as in part 3 (--threads 2 --http-threads 2)."""
    secs, rounds = (1, 1) if quick else (3, 3)
    base = [f"{build}/attnd", "--host", "127.0.0.1", "--http-threads", "2", "--log-level",
            "warn", "--blas-core", blas_core]
    ports = {k: free_port() for k in ("attnd", "attnd1", "mhd")}
    procs = {"attnd": start(base + ["--threads", "2", "--port", str(ports["attnd"])]),
             "attnd1": start(base + ["--threads", "1", "--port", str(ports["attnd1"])]),
             "mhd": start([f"{build}/bench/peer_mhd_hello", str(ports["mhd"]), "2"])}
    url = {k: f"http://127.0.0.1:{p}/v1/attention" for k, p in ports.items()}
    out = {"cells": [], "mhd_tiny_32": [], "attnd_tiny_32": [], "medium_threads": {1: [], 2: []},
           "seconds": secs, "rounds": rounds}
    try:
        for k in ("attnd", "attnd1"):
            wait_http(f"http://127.0.0.1:{ports[k]}/healthz", procs[k], 10)
        time.sleep(0.3)
        if procs["mhd"].poll() is not None:
            raise RuntimeError("mhd_hello did not start")
        for name in ("tiny", "medium"):
            for k in ("attnd", "attnd1"):  # warm-up on one connection: no backlog left behind
                run(["wrk", "-s", lua[name], "-t1", "-c1", "-d1s", url[k]], timeout=120)
            for c in LAT_CONNS:
                settle(ports["attnd"])
                quiet()
                cell = wrk_cell(url["attnd"], lua[name], c, secs)
                cell["request"] = name
                out["cells"].append(cell)
                log(f"latency {name} c={c}: {cell}")
        for r in range(rounds):
            for key, k in (("attnd_tiny_32", "attnd"), ("mhd_tiny_32", "mhd")):
                if k == "attnd":
                    settle(ports[k])
                quiet()
                out[key].append(wrk_cell(url[k], lua["tiny"], 32, secs, procs[k].pid))
            for t, k in ((1, "attnd1"), (2, "attnd")):
                settle(ports[k])
                quiet()
                out["medium_threads"][t].append(wrk_cell(url[k], lua["medium"], 32, secs))
            log(f"latency round {r + 1}/{rounds}: tiny attnd {out['attnd_tiny_32'][-1]['rps']:.0f}"
                f" mhd {out['mhd_tiny_32'][-1]['rps']:.0f}; medium threads 1 "
                f"{out['medium_threads'][1][-1]['rps']:.0f} 2 {out['medium_threads'][2][-1]['rps']:.0f}")
    finally:
        for p in procs.values():
            stop(p)
    return out


def latency_report(lat, goal):
    """The table and lines of latency_section, with goal 3 and the scaling figures; `goal` is
    main's goal(name, ok, figure). Returns the text."""
    rows = [[c["request"], c["conns"], num(c["rps"], 0), num(c["p50_ms"], 2), num(c["p99_ms"], 2),
             c["errors"]] for c in lat["cells"]]
    text = [table(["request", "connections", "req/s", "p50 ms", "p99 ms", "errors"], rows)]
    best = lambda runs: max(runs, key=lambda x: x["rps"]) if runs else None
    a, m = best(lat["attnd_tiny_32"]), best(lat["mhd_tiny_32"])
    rt = ratio(a["rps"], m["rps"])
    p99 = min((x["p99_ms"] for x in lat["attnd_tiny_32"] if x["p99_ms"] is not None),
              default=None)
    g1 = goal("tiny >= 0.7x bare libmicrohttpd at 32 connections", None if rt is None else rt >= 0.7,
              f"{rx(rt)} ({a['rps']:.0f} / {m['rps']:.0f} req/s)")
    g2 = goal("tiny p99 < 2 ms at 32 connections", None if p99 is None else p99 < 2,
              f"{num(p99, 2)} ms")
    mp99 = min((x["p99_ms"] for x in lat["mhd_tiny_32"] if x["p99_ms"] is not None),
               default=None)
    # The same tail as a ratio: on a shared machine the scheduler sets both servers' p99.
    g3 = goal("tiny p99 at 32 connections <= bare libmicrohttpd's p99 in the same rounds",
              None if p99 is None or mp99 is None else p99 <= mp99,
              f"{num(p99, 2)} ms against {num(mp99, 2)} ms")
    text.append(f"\nbare libmicrohttpd, tiny, 32 connections: {m['rps']:.0f} req/s, p99 "
                f"{num(mp99, 2)} ms; attnd {a['rps']:.0f} req/s = {rx(rt)} of it (>= 0.7x: {g1}), "
                f"p99 {num(p99, 2)} ms (< 2 ms: {g2}; <= bare libmicrohttpd's: {g3}); best of "
                f"{lat['rounds']} interleaved round(s)")
    med = lambda runs, f: sorted(x[f] for x in runs)[len(runs) // 2] if runs and \
        all(f in x for x in runs) else None
    ca, cm = med(lat["attnd_tiny_32"], "server_cpu_us"), med(lat["mhd_tiny_32"], "server_cpu_us")
    wa, wm = med(lat["attnd_tiny_32"], "wrk_cpu_us"), med(lat["mhd_tiny_32"], "wrk_cpu_us")
    if ca and cm and wa and wm:
        text.append(f"CPU per tiny request at 32 connections (median of rounds): attnd {ca:.1f} us "
                    f"(wrk {wa:.1f} us), bare libmicrohttpd "
                    f"{cm:.1f} us (wrk {wm:.1f} us); on cores saturated by server and wrk the rate "
                    f"ratio is their sums' ratio, {rx(ratio(wm + cm, wa + ca))} (CPU per request "
                    "moves far less with the machine's other load than the rates do)")
    m1, m2 = best(lat["medium_threads"][1]), best(lat["medium_threads"][2])
    text.append(f"medium, 32 connections: --threads 1 {m1['rps']:.0f} req/s, --threads 2 "
                f"{m2['rps']:.0f} req/s = {rx(ratio(m2['rps'], m1['rps']))} (HTTP threads 2 both)")
    return "\n".join(text)


# ---------------------------------------------------------------------------------------------
# Output


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = lambda r: "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |"
    lines = [fmt(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join([*lines, *(fmt(r) for r in rows)])


def num(x, digits=1):
    return "n/a" if x is None else f"{x:.{digits}f}"


def ratio(a, b):
    return None if a is None or not b else a / b


def rx(x):
    return "n/a" if x is None else f"{x:.2f}x"


def pct(a, b):
    return "n/a" if a is None or not b else f"{100 * a / b:.0f}%"


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


# ---------------------------------------------------------------------------------------------
# 7. Decoding against keys that stay on the server (issue 15, goal 2)

DECODE_LK = 1 << 20  # one query over 1M keys, d 64: K and V are 512 MiB
DECODE_SOURCE = (1, 8, 2048, 64)  # the stored source of the 32-step decode: 8 MiB of floats
DECODE_STEPS = 32


def triad_once(build, threads):
    """GB/s of bench_triad (STREAM triad, 12 bytes counted per float element) on N threads."""
    return kv(run([f"{build}/bench/bench_triad", f"threads={threads}"]).strip())["gbps"]


def million_keys_rows(build, quick, quiet):
    """One query over DECODE_LK keys (d 64, no weights) on 1 and 2 threads, interleaved with the
    triad on 1 and 2 threads; best of the rounds. Returns the figures and the goals."""
    secs, rounds = (0.3, 1) if quick else (1.0, 3)
    ms, gbps = {}, {}
    args = ["B=1", "H=1", "Lq=1", f"Lk={DECODE_LK}", "d=64", "weights=0"]
    for _ in range(rounds):
        for t in THREADS:
            quiet()
            gbps[t] = max(gbps.get(t, 0.0), triad_once(build, t))
            quiet()
            got = attnd_core(build, t, args, secs)["ms"]
            ms[t] = min(ms.get(t, 1e30), got)
    moved = 2 * DECODE_LK * 64 * 4  # K and V read once
    triad = max(gbps.values())
    roofline_ms = moved / triad / 1e6
    rows, goals = [], []
    for t in THREADS:
        rows.append([t, num(ms[t], 2), num(moved / ms[t] / 1e6), num(gbps[t]),
                     pct(roofline_ms, ms[t]), rx(ratio(ms[1], ms[t]))])
    speedup = ratio(ms[1], ms[max(THREADS)])
    share = roofline_ms / ms[max(THREADS)]
    goals.append(("one query over 1M keys (d 64): 2 threads >= 1.8x 1 thread",
                  speedup is not None and speedup >= 1.8, rx(speedup)))
    goals.append(("one query over 1M keys (d 64): >= 85% of the triad roofline (K, V read once)",
                  share >= 0.85, f"{share * 100:.0f}% ({ms[max(THREADS)]:.2f} ms against "
                  f"{roofline_ms:.2f} ms at {triad:.1f} GB/s)"))
    text = table(["threads", "attnd ms", "attnd GB/s (K+V)", "triad GB/s", "of roofline",
                  "speed-up"], rows)
    return {"ms": ms, "triad_gbps": gbps, "bytes": moved, "roofline_ms": roofline_ms}, text, goals


def decode_steps(build, quick):
    """A DECODE_STEPS-step decode over HTTP against one source of shape DECODE_SOURCE: once with
    the source stored (PUT once, then each step names it), once sending it with every step.
    One keep-alive connection, bodies built before the clock starts. Returns the figures and
    the goals."""
    import http.client
    b, h, lk, d = DECODE_SOURCE
    rng = random.Random(15)
    key, value = tensor_json([b, h, lk, d], rng), tensor_json([b, h, lk, d], rng)
    queries = [tensor_json([b, h, 1, d], rng) for _ in range(DECODE_STEPS)]
    put_body = ('{"key": %s, "value": %s}' % (key, value)).encode()
    tail = ', "return_weights": false}'
    stored = [('{"query": %s, "source_id": "enc"%s' % (q, tail)).encode() for q in queries]
    inline = [('{"query": %s, "key": %s, "value": %s%s' % (q, key, value, tail)).encode()
              for q in queries]
    port = free_port()
    p = start([f"{build}/attnd", "--host", "127.0.0.1", "--port", str(port), "--threads", "2",
               "--log-level", "warn"])
    hdr = {"Content-Type": "application/json"}
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", p, 30)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def send(method, path, body):
            conn.request(method, path, body=body, headers=hdr)
            r = conn.getresponse()
            data = r.read()
            if r.status not in (200, 201):
                raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
            return data

        rounds = 1 if quick else 3
        best = {"put_ms": 1e30, "stored_ms": 1e30, "inline_ms": 1e30}
        for _ in range(rounds):
            t0 = time.perf_counter()
            send("PUT", "/v1/sources/enc", put_body)
            t1 = time.perf_counter()
            first = [send("POST", "/v1/attention", body) for body in stored][0]
            t2 = time.perf_counter()
            first_inline = [send("POST", "/v1/attention", body) for body in inline][0]
            t3 = time.perf_counter()
            ctx = [json.loads(x)["context"] for x in (first, first_inline)]
            if ctx[0] != ctx[1]:
                raise RuntimeError("a step against the stored source differs from the same "
                                   "step sent inline")
            best["put_ms"] = min(best["put_ms"], (t1 - t0) * 1e3)
            best["stored_ms"] = min(best["stored_ms"], (t2 - t1) * 1e3)
            best["inline_ms"] = min(best["inline_ms"], (t3 - t2) * 1e3)
        conn.close()
    finally:
        stop(p)
    with_put = ratio(best["inline_ms"], best["put_ms"] + best["stored_ms"])
    steps_only = ratio(best["inline_ms"], best["stored_ms"])
    src_mb = 2 * b * h * lk * d * 4 / 1e6
    fig = dict(best, source_shape=list(DECODE_SOURCE), source_mb=src_mb,
               put_body_mb=len(put_body) / 1e6, inline_body_mb=len(inline[0]) / 1e6,
               speedup_with_put=with_put, speedup_steps_only=steps_only)
    rows = [["stored source (PUT once + steps)", f"{len(put_body) / 1e6:.1f} once",
             num(best["put_ms"] + best["stored_ms"], 1),
             num(best["stored_ms"] / DECODE_STEPS, 2), rx(with_put)],
            ["source sent with every step", f"{len(inline[0]) / 1e6:.1f} per step",
             num(best["inline_ms"], 1), num(best["inline_ms"] / DECODE_STEPS, 2), "1.0x"]]
    text = table(["32-step decode", "source JSON MB", "total ms", "ms per step", "speed-up"],
                 rows)
    goals = [(f"{DECODE_STEPS}-step decode against a stored source (PUT included) >= 20x "
              "sending it each step", with_put is not None and with_put >= 20,
              f"{rx(with_put)} ({rx(steps_only)} counting the steps alone)")]
    return fig, text, goals


def decode_bench(build, quick, quiet):
    """Section 7: its figures (for bench.json), its text and its goals."""
    fig1, t1, g1 = million_keys_rows(build, quick, quiet)
    quiet()
    fig2, t2, g2 = decode_steps(build, quick)
    text = ("\n7. Decoding against keys that stay on the server. a) One query over "
            f"{DECODE_LK} keys, d 64, no weights (bench_core, best of the rounds) beside "
            "the STREAM triad (bench_triad) on the same threads, interleaved; roofline = K and V "
            "read once at the best triad bandwidth.\n\n" + t1 +
            f"\n\nb) {DECODE_STEPS} steps of one query [1, 8, 1, 64] against a source "
            f"{list(DECODE_SOURCE)} ({fig2['source_mb']:.1f} MB of floats) over HTTP on one "
            "keep-alive connection, attnd --threads 2; best of the rounds.\n\n" + t2)
    return {"one_query": fig1, "decode": fig2}, text, g1 + g2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--peers", default=os.path.join(HERE, "peers"))
    ap.add_argument("--blas-core", default="auto",
                    help="attnd's --blas-core; every BLAS-backed peer runs the core it picks")
    ap.add_argument("--compare-core", action="append", default=[],
                    help="also time the core table on this OpenBLAS core (e.g. Prescott), "
                         "interleaved, and print attnd's speed-up over it")
    ap.add_argument("--out", default=None)
    ap.add_argument("--quick", action="store_true", help="short runs, to check the script")
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds of the core table (default 3, 1 with --quick)")
    ap.add_argument("--ggml", default=None,
                    help="the ggml flash-attention driver (make bench GGML_DIR=... builds it)")
    a = ap.parse_args()
    build, peers = a.build, os.path.abspath(a.peers)
    out_path = a.out or os.path.join(build, "bench.json")
    secs = 0.3 if a.quick else 1.0
    rounds = a.rounds or (1 if a.quick else 3)
    wrk_secs, wrk_warm = (3, 1) if a.quick else (10, 2)
    t_start = time.time()
    notes = []
    res = {"sgemm": {}, "torch": {}}
    have_torch = has_module("torch")
    have_fastapi = have_torch and has_module("fastapi", "uvicorn")
    if not have_torch:
        notes.append("PyTorch (Debian python3-torch) is absent: the PyTorch figures are skipped.")
    if not have_fastapi:
        notes.append("FastAPI/uvicorn are absent: the FastAPI peer is skipped.")
    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "load_at_start": loadavg(),
               "date": time.strftime("%Y-%m-%d")}
    log(f"machine: {machine}")

    # The OpenBLAS core attnd runs here; every BLAS-backed peer runs it too.
    blas_core, blas_reason, blas_by = attnd_blas_core(build, a.blas_core)
    BLAS_ENV.update({"OPENBLAS_CORETYPE": blas_core, "OPENBLAS_L2_SIZE": None})
    cores = {"attnd": blas_core}
    machine["blas_core"] = {"core": blas_core, "reason": blas_reason, "by": blas_by}
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ and a.blas_core == "auto":
            notes.append(f"the environment sets {var}={os.environ[var]}; the bench measures attnd "
                         f"as it chooses without it ({blas_core}, {blas_reason} by {blas_by}) and "
                         "runs every BLAS-backed peer on that core.")
    log(f"BLAS core: {blas_core} ({blas_reason} by {blas_by})")
    res["peak"], peak_width = {}, None

    # 1. Core attention ------------------------------------------------------------------------
    # Rounds interleave attnd and its peers in time, so that a burst of load from another
    # process hits both sides alike; each figure is the best of its rounds.
    quiet = Quiet(0 if a.quick else 90)
    cases = [(shape_key(b, h, l, d), t, w, [f"B={b}", f"H={h}", f"L={l}", f"d={d}",
                                            f"weights={w}"])
             for (b, h, l, d) in CORE_SHAPES for w in (1, 0) for t in THREADS]
    variant_cases = [("additive", "B1 H8 L512 d64 da64", ["score=additive", "da=64"]),
                     ("topk", "B1 H8 L512 d64 k8", ["selection=topk", "k=8"])]
    core = {(s_, t, w): {"shape": s_, "weights": bool(w), "threads": t, "gflops": 0.0}
            for s_, t, w, _ in cases}
    variants = {(n, t): {"variant": n, "shape": sh, "threads": t, "ms": None, "torch_ms": None}
                for n, sh, _ in variant_cases for t in THREADS}
    compare = {c: {k: 0.0 for k in core} for c in a.compare_core}
    res.update(ggml={}, one_query={"attnd": {}, "ggml": {}}, ggml_kv=None, ggml_check=None)
    have_ggml = bool(a.ggml) and os.path.exists(a.ggml)
    if not have_ggml:
        notes.append("ggml is skipped: `make bench GGML_DIR=/path/to/ggml` (a local checkout of "
                     "github.com/ggerganov/ggml) adds its CPU flash attention as a peer.")
    else:
        try:
            res["ggml_check"] = ggml_agreement(build, a.ggml, ["B=1", "H=8", "L=128", "d=64"])
            log(f"ggml agreement: {res['ggml_check']}")
        except RuntimeError as e:
            notes.append(f"ggml's driver failed, its figures are skipped: {str(e)[-300:]}")
            have_ggml = False
    for r in range(rounds):
        quiet()
        got, peak_width = fma_peak_once(build, max(THREADS))
        for t, g in got.items():
            res["peak"][t] = max(res["peak"].get(t, 0.0), g)
        for t in THREADS:
            quiet()
            res["sgemm"][t] = max(res["sgemm"].get(t, 0.0), sgemm_once(build, t, cores))
        if have_torch:
            for t in THREADS:
                quiet()
                for k, g in torch_peer_once(peers, t, cores).items():
                    res["torch"].setdefault(t, {})[k] = max(res["torch"].get(t, {}).get(k, 0), g)
        if have_ggml:
            have_ggml = ggml_round(a.ggml, build, res, secs, quiet, notes)
        one_query_attnd_round(build, res, secs, quiet)
        for s_, t, w, args in cases:
            quiet()
            out = attnd_core(build, t, args, secs)
            cores["attnd core"] = out["core"]
            core[(s_, t, w)]["gflops"] = max(core[(s_, t, w)]["gflops"], out["gflops"])
            for c in a.compare_core:
                quiet()
                g = attnd_core(build, t, args, secs, core=c)["gflops"]
                compare[c][(s_, t, w)] = max(compare[c][(s_, t, w)], g)
        if have_torch:
            for t in THREADS:
                quiet()
                for n, ms in torch_variants_once(t, secs).items():
                    v = variants[(n, t)]
                    v["torch_ms"] = ms if v["torch_ms"] is None else min(v["torch_ms"], ms)
        for n, _, extra in variant_cases:
            for t in THREADS:
                quiet()
                ms = attnd_core(build, t, ["B=1", "H=8", "L=512", "d=64", "weights=1"] + extra,
                                secs)["ms"]
                v = variants[(n, t)]
                v["ms"] = ms if v["ms"] is None else min(v["ms"], ms)
        log(f"core round {r + 1}/{rounds}: attnd {[round(c['gflops'], 1) for c in core.values()]}"
            f", PyTorch {res['torch']}, sgemm {res['sgemm']}")
    for c in a.compare_core:
        for k, g in compare[c].items():
            core[k][f"gflops_on_{c}"] = g
    core, variants = list(core.values()), list(variants.values())

    # 2. JSON ------------------------------------------------------------------------------------
    js = {}
    quiet()
    for line in run([f"{build}/bench/bench_json", "1000", "5"]).splitlines():
        r = kv(line)
        js[r["op"]] = r
    cj = {"parse": [], "print": []}
    for _ in range(3):
        quiet()
        out = run([f"{build}/bench/peer_cjson_speed", "1000000"])
        m = re.search(r"json=([\d.]+) MB\s+cJSON print (\d+) ms \((\d+) MB/s\)\s+cJSON parse "
                      r"(\d+) ms \((\d+) MB/s\)", out)
        cj["print"].append((float(m.group(3)), 1e6 / (float(m.group(2)) / 1e3) / 1e6))
        cj["parse"].append((float(m.group(5)), 1e6 / (float(m.group(4)) / 1e3) / 1e6))
    for k in cj:  # median of 3 runs
        cj[k] = sorted(cj[k])[1]
    log(f"JSON attnd {js}, cJSON {cj}")

    # 3. Service ---------------------------------------------------------------------------------
    tmp = tempfile.mkdtemp(prefix="attnd-bench-")
    rng = random.Random(6)
    bodies = {
        "tiny": '{"query": %s}' % tensor_json([4, 8], rng),
        "medium": '{"query": %s}' % tensor_json([8, 128, 64], rng),
    }
    lua = {}
    for name, body in bodies.items():
        with open(os.path.join(tmp, name + ".json"), "w") as f:
            f.write(body)
        lua[name] = os.path.join(tmp, name + ".lua")
        write_lua(lua[name], os.path.join(tmp, name + ".json"))
    svc = {}
    attnd_cmd = [f"{build}/attnd", "--host", "127.0.0.1", "--threads", "2", "--http-threads",
                 "2", "--log-level", "warn", "--blas-core", blas_core]
    port = free_port()
    p = start(attnd_cmd + ["--port", str(port)])
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", p, 10)
        for name in bodies:
            svc[("attnd", name)] = wrk(f"http://127.0.0.1:{port}/v1/attention", lua[name],
                                       wrk_secs, wrk_warm, quiet)
            log(f"attnd {name}: {svc[('attnd', name)]}")
    finally:
        stop(p)
    port = free_port()
    p = start([f"{build}/bench/peer_mhd_hello", str(port), "2"])
    try:
        time.sleep(0.3)
        if p.poll() is not None:
            raise RuntimeError("mhd_hello did not start")
        svc[("mhd", "tiny")] = wrk(f"http://127.0.0.1:{port}/v1/attention", lua["tiny"],
                                   wrk_secs, wrk_warm, quiet)
        log(f"libmicrohttpd hello: {svc[('mhd', 'tiny')]}")
    finally:
        stop(p)
    if have_fastapi:
        port = free_port()
        cores["FastAPI"] = blas_core + " (OPENBLAS_CORETYPE)"
        p = start([PY, "fastapi_torch_server.py", str(port), "2"], cwd=peers,
                  env={"OMP_NUM_THREADS": "1"})
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", p, 60)
            for name in bodies:
                svc[("fastapi", name)] = wrk(f"http://127.0.0.1:{port}/v1/attention",
                                             lua[name], wrk_secs, wrk_warm, quiet)
                log(f"FastAPI {name}: {svc[('fastapi', name)]}")
        finally:
            stop(p)

    lat = latency_section(build, blas_core, lua, a.quick, quiet)

    # 4. Memory ----------------------------------------------------------------------------------
    big = os.path.join(tmp, "long.json")
    with open(big, "w") as f:
        f.write('{"query": %s, "return_weights": false}' % tensor_json([16384, 64], rng))
    mem = {"body_mb": os.path.getsize(big) / 1e6}
    port = free_port()
    p = start(attnd_cmd + ["--port", str(port)])
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", p, 10)
        mem["hwm_before_mb"] = vm_kb(p.pid, "VmHWM") / 1024
        quiet()
        out = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                   "-H", "Content-Type: application/json", "--data-binary", "@" + big,
                   f"http://127.0.0.1:{port}/v1/attention"], timeout=300)
        code, secs_total = out.split()
        mem["status"], mem["seconds"] = int(code), float(secs_total)
        mem["hwm_mb"] = vm_kb(p.pid, "VmHWM") / 1024
        mem["rss_after_mb"] = vm_kb(p.pid, "VmRSS") / 1024
        log(f"memory: {mem}")
    finally:
        stop(p)
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)

    # Tables and goals ---------------------------------------------------------------------------
    goals = []

    def goal(name, ok, figure):
        goals.append({"goal": name, "met": ok, "figure": figure})
        return verdict(ok)

    torch_best = {s: max(res["torch"][t].get(s, 0.0) for t in THREADS) if have_torch else None
                  for s in (shape_key(*x) for x in CORE_SHAPES)}
    rows1 = []
    for c in core:
        tt = res["torch"].get(c["threads"], {}).get(c["shape"]) if have_torch else None
        best = torch_best[c["shape"]]
        gg = res["ggml"].get(c["threads"], {}).get(c["shape"]) if have_ggml else None
        c.update(sgemm=res["sgemm"][c["threads"]], torch_same=tt, torch_best=best,
                 peak=res["peak"].get(c["threads"]), ggml=gg)
        g = core_goals(c, goal)
        cmp_cols = []
        for cc in a.compare_core:
            sp = ratio(c["gflops"], c[f"gflops_on_{cc}"])
            cmp_cols += [num(c[f"gflops_on_{cc}"]), rx(sp)]
            if cc.lower() == "prescott":
                wl = "weights" if c["weights"] else "no weights"
                g = (g + "; " if g else "") + ">= 3x Prescott: " + goal(
                    f"{c['shape']} {wl} {c['threads']} thread(s) >= 3x attnd on Prescott",
                    None if sp is None else sp >= 3, rx(sp))
        rows1.append([c["shape"], "yes" if c["weights"] else "no", c["threads"],
                      num(c["gflops"]), pct(c["gflops"], c["peak"]), pct(c["gflops"], c["sgemm"]),
                      num(gg), rx(ratio(c["gflops"], gg)), num(tt),
                      rx(ratio(c["gflops"], tt)), num(best), rx(ratio(c["gflops"], best)),
                      *cmp_cols, g])
    t1 = table(["shape", "weights", "threads", "attnd GFLOP/s", "of peak", "of sgemm",
                "ggml GFLOP/s", "x ggml", "PyTorch same thr", "ratio", "PyTorch best", "x best",
                *[h for cc in a.compare_core for h in (f"attnd on {cc}", "speed-up")], "goal"],
               rows1)
    t1q = table(["shape (no weights)", "threads", "attnd GFLOP/s", "ggml GFLOP/s", "x ggml"],
                one_query_rows(res, have_ggml))
    rows0 = []
    for t in THREADS:
        pk, sg = res["peak"].get(t), res["sgemm"].get(t)
        f = ratio(sg, pk)
        g = ">= 60% of peak: " + goal(f"sgemm >= 60% of the FMA peak at {t} thread(s)",
                                       None if f is None else f >= 0.6, pct(sg, pk))
        if f is not None and f > 1.0:
            notes.append(f"sgemm measured above the FMA peak at {t} thread(s) ({pct(sg, pk)}): "
                         "the peak's runs were slowed by other processes; the ratios to the "
                         "peak are overstated in this run.")
        if f is not None and f < 0.5:
            notes.append(f"sgemm reaches only {pct(sg, pk)} of the FMA peak at {t} thread(s): "
                         f"the ceiling itself is broken (OpenBLAS core {cores.get('sgemm')}); "
                         "ratios to it mean little.")
            g += " (BELOW 50%: a broken ceiling)"
        rows0.append([t, num(pk), peak_width, num(sg), pct(sg, pk), g])
    t0 = table(["threads", "FMA peak GFLOP/s", "vector width", "sgemm n=1024 GFLOP/s",
                "sgemm of peak", "goal"], rows0)
    rows1v = [[v["variant"], v["shape"], v["threads"], num(v["ms"], 2), num(v["torch_ms"], 2),
               rx(ratio(v["torch_ms"], v["ms"]))] for v in variants]
    t1v = table(["variant (weights returned)", "shape", "threads", "attnd ms", "PyTorch ms",
                 "speed-up"], rows1v)

    rows2 = []
    for op, cop in (("decode", "parse"), ("encode", "print")):
        mbps, mfl = js[op]["mbps"], js[op]["mfloats"]
        rc = ratio(mfl, cj[cop][1])
        g = goal(f"JSON {op} >= {JSON_GOAL_CJSON:g}x cJSON {cop} (floats/s)",
                 None if rc is None else rc >= JSON_GOAL_CJSON, rx(rc))
        rows2.append([op, f"{js[op]['bytes'] / 1e6:.1f}", num(mbps), num(mfl, 2),
                      f"cJSON {cop}", num(cj[cop][0]), num(cj[cop][1], 2),
                      rx(ratio(mfl, cj[cop][1])), f">= {JSON_GOAL_CJSON:g}x cJSON: " + g])
    t2 = table(["op (1M floats)", "attnd JSON MB", "attnd MB/s", "attnd Mfloat/s", "peer",
                "peer MB/s", "peer Mfloat/s", "ratio (floats/s)", "goal"], rows2)

    rows3 = []
    for (server, name), r in svc.items():
        label = {"attnd": "attnd", "mhd": "bare libmicrohttpd (ceiling)",
                 "fastapi": "FastAPI+uvicorn+PyTorch, 2 workers"}[server]
        fa = svc.get(("fastapi", name), {}).get("rps")
        g = ""
        if server == "attnd" and name == "tiny":
            rf = ratio(r["rps"], fa)
            # The rate against bare libmicrohttpd and the p99 are goals of the latency table.
            g = ">= 80x FastAPI: " + goal("tiny >= 80x FastAPI", None if rf is None else rf >= 80,
                                          rx(rf))
        rows3.append([name, label, num(r["rps"], 0), num(r["p50_ms"], 2), num(r["p99_ms"], 2),
                      r["non2xx"] + r["socket_errors"],
                      rx(ratio(r["rps"], fa)) if server == "attnd" else "", g])
        r.update(server=server, request=name)
    t3 = table(["request", "server", "req/s", "p50 ms", "p99 ms", "errors", "attnd / FastAPI",
                "goal"], rows3)

    t3b = latency_report(lat, goal)
    grown = mem["hwm_mb"] - mem["hwm_before_mb"]
    g4 = goal(f"peak RSS grows <= {MEM_GOAL_BODY:g}x the body for Lq = Lk = 16384, d = 64, "
              "no weights", mem["status"] == 200 and grown <= MEM_GOAL_BODY * mem["body_mb"],
              f"+{grown:.1f} MB = {grown / mem['body_mb']:.2f}x the {mem['body_mb']:.1f} MB body")
    t4 = table(["request", "body MB", "HTTP status", "time s", "VmHWM before MB",
                "VmHWM after MB", "goal"],
               [["1 head, Lq = Lk = 16384, d = 64, return_weights false",
                 f"{mem['body_mb']:.1f}", mem["status"], f"{mem['seconds']:.2f}",
                 f"{mem['hwm_before_mb']:.1f}", f"{mem['hwm_mb']:.1f}",
                 f"growth <= {MEM_GOAL_BODY:g}x body: " + g4]])

    # 5. A BERT-base-sized model beside PyTorch's forward of the same weights (bench_models.py,
    # on the same OpenBLAS core as everything else) -------------------------------------------
    t5 = None
    if have_torch:
        quiet()
        models_out = os.path.join(os.path.dirname(out_path) or ".", "bench_models.json")
        try:
            t5 = run([PY, os.path.join(HERE, "bench_models.py"), "--build", build, "--out",
                      models_out] + (["--quick"] if a.quick else []), timeout=3600).strip()
            with open(models_out) as f:
                bm = json.load(f)
            res["models"] = bm
            for r in bm.get("rows", []):
                sp = r.get("speedup_forward")
                name = "BERT-base" if r.get("model", "bert") == "bert" else r["model"] + " model"
                label = f"{name} L{r['L']} attentions {'all' if r['attentions'] else 'none'}"
                goal(f"{label}: forward >= 1.5x PyTorch's best thread count",
                     None if sp is None else sp >= 1.5,
                     f"{rx(sp)} ({r['attnd_forward_ms']:.2f} ms vs {r['torch_ms']:.2f} ms on "
                     f"{r['torch_threads']} thread(s); end to end {rx(r.get('speedup_http'))})")
            over = bm.get("memory", {}).get("rss_over_weights_mb")
            wmb = bm.get("memory", {}).get("weights_mb")
            if over is not None and wmb:
                goal("BERT-base daemon RSS <= 1.15x its mapped weights", over <= 0.15 * wmb,
                     f"{(wmb + over) / wmb:.2f}x")
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
            notes.append(f"bench_models.py failed: {str(e)[-300:]}")

    # 6. Tensors on the wire: a large payload with little compute, and medium requests, on the
    # v2 binary protocol beside JSON (bench_payload.py) -----------------------------------------
    t6 = None
    payload_out = os.path.join(os.path.dirname(out_path) or ".", "bench_payload.json")
    try:
        quiet()
        t6 = run([PY, os.path.join(HERE, "bench_payload.py"), "--build", build, "--out",
                  payload_out, "--blas-core", blas_core] + (["--quick"] if a.quick else []),
                 timeout=1800).strip()
        with open(payload_out) as f:
            res["payload"] = json.load(f)
        goals.extend(res["payload"]["goals"])
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
        notes.append(f"bench_payload.py failed: {str(e)[-300:]}")

    # 7. Decoding against stored sources (decode_bench, above)
    dec, t7, g7 = decode_bench(build, a.quick, quiet)
    for g in g7:
        goal(*g)
    res["decode"] = dec
    # 7c. Decoding against a model's stored source (bench_model_source.py)
    t7c = None
    try:
        quiet()
        t7c = run([PY, os.path.join(HERE, "bench_model_source.py"), "--build", build,
                   "--rounds", "1" if a.quick else "3", "--blas-core", blas_core],
                  timeout=1800).strip()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        notes.append(f"bench_model_source.py failed: {str(e)[-300:]}")

    machine["load_at_end"] = loadavg()
    machine["quiet_wait_s"], machine["busy_starts"] = quiet.waited, quiet.busy_starts
    if quiet.busy_starts:
        notes.append(f"{quiet.busy_starts} of {quiet.checks} measurements started while other "
                     f"processes used >= 20% of the CPUs (after {quiet.waited:.0f} s of waiting "
                     "for a quiet machine): their figures may be low.")
    runtime = time.time() - t_start
    print(f"\nattnd benchmarks, {machine['date']}, {machine['cores']} cores, {machine['cpu']}; "
          f"load average {machine['load_at_start']} at start, {machine['load_at_end']} at end")
    print("\n0. Ceilings: the FMA peak (fma_peak.c: independent FMA chains in the widest vector "
          "registers, per thread, summed over threads) and OpenBLAS sgemm; best of the rounds. "
          "OpenBLAS cores: " + ", ".join(f"{k} {v}" for k, v in cores.items()) +
          f"; attnd's was {blas_reason} by {blas_by}.\n")
    print(t0)
    print(f"\n1. Core attention, GFLOP/s = 4*B*H*Lq*Lk*d / time (scaled dot, soft). attnd: mean "
          f"time of calls over >= {secs:g} s after a warm-up call; PyTorch: the peer's manual "
          f"attention (always returns the weights), its mean over 1 s; ggml: ggml_flash_attn_ext "
          f"(never returns weights; K/V {res.get('ggml_kv') or 'n/a'}), timed like attnd. Best of "
          f"{rounds} round(s) that interleave attnd, its peers and the sgemm ceiling (n=1024, 2 s "
          f"a run): {res['sgemm'][1]:.1f} GFLOP/s on 1 thread, {res['sgemm'][2]:.1f} on 2. "
          f"Goals: >= {CORE_GOAL_SGEMM:.0%} of that ceiling, >= {CORE_GOAL_GGML:g}x ggml, "
          f">= {CORE_GOAL_TORCH:g}x PyTorch's best thread count.\n")
    print(t1)
    print(f"\n1a. One query over {ONE_QUERY[3]:,} keys (d {ONE_QUERY[4]}), no weights, timed like "
          "row 1 (attnd: bench_core; ggml: peers/ggml_flash.c), best of the rounds\n")
    print(t1q)
    chk = res.get("ggml_check")
    if chk:
        print(f"\nggml computes the same attention: max |attnd - ggml| = {chk['max_abs_diff']:.2e} "
              f"over the context of B1 H8 L128 d64 (largest |context| {chk['max_abs']:.3f}; "
              f"ggml's K and V are {chk['kv']}).")
    if res.get("ggml_kv") == "f16":
        notes.append("this ggml's CPU flash attention does not take F32 keys and values: it ran "
                     "with F16 K and V (converted before timing, as a KV cache holds them), so it "
                     "reads half the bytes attnd reads at the one-query shape.")
    print("\n1b. Variants, time per call (timed like row 1, best of the rounds; PyTorch: "
          "tests/bench/torch_variants.py; speed-up = PyTorch ms / attnd ms)\n")
    print(t1v)
    print("\n2. JSON of a 1M-float tensor (attnd: median of 5 after a warm-up; cJSON: median of "
          "3 runs of the peer, whose numbers are written with 17 digits)\n")
    print(t2)
    print(f"\n3. Service: wrk -t2 -c32 -d{wrk_secs}s --latency, one run after a {wrk_warm} s "
          "warm-up on one connection; "
          "tiny = [4, 8] query, medium = [8, 128, 64]; weights returned; "
          "attnd --threads 2 --http-threads 2\n")
    print(t3)
    print(f"\n3b. Latency under concurrency: wrk --latency -d{lat['seconds']}s per cell (-t2, -t1 "
          "at 1 connection) after a warm-up; attnd --threads 2 --http-threads 2\n")
    print(t3b)
    print("\n4. Memory: peak RSS (VmHWM) of a fresh daemon\n")
    print(t4)
    if t5:
        print("\n5. Token models (tests/bench/bench_models.py): a BERT-base-sized folder and the "
              "built-in default model; attnd's forward (meta.compute_ms) and HTTP round trip "
              "beside PyTorch's forward of the same weights at each thread count, best of "
              "interleaved rounds\n")
        print(t5)
    if t6:
        print(t6)
    print(t7)
    if t7c:
        print("\n7c. A model's stored source: one word a step against a source the model encoded "
              "once (PUT {model, source}), against the source sent inline each step; one "
              "keep-alive connection, responses checked equal\n")
        print(t7c)
    print("\nGoals:")
    for g in goals:
        print(f"  {verdict(g['met']):4}  {g['goal']}: {g['figure']}")
    for n in notes:
        print("note: " + n)
    print(f"\n{sum(g['met'] is True for g in goals)} of {len(goals)} goals met; "
          f"bench time {runtime:.0f} s; wrote {out_path}")

    doc = {"machine": machine, "runtime_s": round(runtime, 1), "notes": notes,
           "blas_cores": cores, "fma_peak_gflops": res["peak"], "fma_peak_width": peak_width,
           "sgemm_gflops": res["sgemm"], "torch_sdpa_gflops": res["torch"], "core": core,
           "ggml": {"gflops": res["ggml"], "kv": res["ggml_kv"], "agreement": res["ggml_check"]},
           "one_query": res["one_query"],
           "variants": variants, "json": {"attnd": js, "cjson": {
               k: {"mbps": v[0], "mfloats": v[1]} for k, v in cj.items()}},
           "service": list(svc.values()), "latency": lat, "memory": mem,
           "decode": res["decode"], "goals": goals}
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
