#!/usr/bin/env python3
"""make abuse: attnd under the attacks of issue 10, on 127.0.0.1 only, bounded in time.

Each scenario starts a fresh attnd with its default limits (plus --threads 2), runs one attack
from the loopback addresses 127.0.0.2-127.0.0.9 while a normal client on 127.0.0.1 sends a
GET /healthz and a small POST /v1/attention every 100 ms, and records the normal client's
latency and failures, attnd's peak RSS (VmHWM) and what attnd answered the attacker. Then 50
rounds of SIGTERM under keep-alive load (a pipelining connection, two curl clients) count
aborts. Prints a table; --json writes the figures.
--quick scales the attacks down (a tenth to a fifth) for a fast look."""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ATTACKERS = [f"127.0.0.{i}" for i in range(2, 10)]
SMALL = b'{"query": [[1.0, 2.0], [3.0, 4.0]]}'


def start(attnd, extra=()):
    log = tempfile.NamedTemporaryFile(prefix="attnd-abuse-", suffix=".log", delete=False)
    p = subprocess.Popen([attnd, "--host", "127.0.0.1", "--port", "0", "--threads", "2",
                          *extra], stderr=log, stdout=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        with open(log.name, errors="replace") as f:
            m = re.search(r"url=http://127\.0\.0\.1:(\d+)/", f.read())
        if m:
            return p, int(m.group(1)), log.name
        if p.poll() is not None:
            break
        time.sleep(0.02)
    p.kill()
    sys.exit(f"attnd did not start; see {log.name}")


def stop(p, logname):
    p.send_signal(signal.SIGTERM)
    try:
        code = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        code = -9
    os.unlink(logname)
    return code


def peak_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Prober:
    """The normal client: GET /healthz and a small POST every 100 ms, each on a new connection,
    in a process of its own (in the attacker's, it would measure the attacker's hold on the
    GIL as much as attnd)."""

    def __init__(self, port):
        self.port, self.lat, self.failed, self.codes = port, [], 0, {}
        self.stop_event, self.results = multiprocessing.Event(), multiprocessing.Queue()
        self.proc = multiprocessing.Process(target=self.run, daemon=True)

    def start(self):
        self.proc.start()

    def finish(self):
        self.stop_event.set()
        self.lat, self.failed, self.codes = self.results.get(timeout=60)
        self.proc.join()

    def one(self, method, path, body):
        t0 = time.perf_counter()
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/json"} if body else {})
            r = c.getresponse()
            r.read()
            c.close()
            self.codes[r.status] = self.codes.get(r.status, 0) + 1
            if r.status != 200:
                self.failed += 1
            self.lat.append((time.perf_counter() - t0) * 1000)
        except OSError:
            self.failed += 1

    def run(self):
        while not self.stop_event.is_set():
            self.one("GET", "/healthz", None)
            self.one("POST", "/v1/attention", SMALL)
            time.sleep(0.1)
        self.results.put((self.lat, self.failed, self.codes))

    def summary(self):
        lat = sorted(self.lat)
        pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]) if lat else (lambda q: 0)
        return {"normal_requests": len(lat) + self.failed, "normal_failed": self.failed,
                "normal_p50_ms": round(pct(0.5), 2), "normal_p99_ms": round(pct(0.99), 2),
                "normal_max_ms": round(lat[-1], 2) if lat else 0, "normal_codes": self.codes}


def connect(port, src, timeout=5):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def closed(s):
    """Whether the server closed s (without blocking)."""
    try:
        s.setblocking(False)
        return s.recv(4096) == b"" or True
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def socket_attack(port, n, seconds, first, every, line):
    """n sockets that send `first`, then `line` every `every` s (None: nothing); a socket the
    server closes is replaced (at most once a second). Returns how many the server closed."""
    socks, next_send, reborn, closed_count = [None] * n, [0.0] * n, [0.0] * n, 0
    end = time.time() + seconds
    while time.time() < end:
        now = time.time()
        for i in range(n):
            s = socks[i]
            if s is not None and closed(s):
                s.close()
                socks[i], s = None, None
                closed_count += 1
            if s is None and now >= reborn[i]:
                reborn[i] = now + 1
                try:
                    s = connect(port, ATTACKERS[i % len(ATTACKERS)])
                    if first:
                        s.sendall(first)
                    socks[i], next_send[i] = s, now + (every or 0)
                except OSError:
                    continue
            if s is not None and every and now >= next_send[i]:
                next_send[i] = now + every
                try:
                    s.sendall(line)
                except OSError:
                    pass
        time.sleep(0.2)
    for s in socks:
        if s is not None:
            s.close()
    return closed_count


def scenario(attnd, name, attack, extra=()):
    p, port, logname = start(attnd, extra)
    prober = Prober(port)
    prober.start()
    time.sleep(0.5)
    t0 = time.time()
    detail = attack(port)
    secs = time.time() - t0
    prober.finish()
    row = {"scenario": name, "seconds": round(secs, 1), "rss_peak_mib": round(peak_rss_mib(p.pid), 1),
           **prober.summary(), "attack": detail}
    row["exit"] = stop(p, logname)
    return row


def partial_bodies(port, n, declared, send, hold):
    """n connections declare `declared` bytes and send `send` of them as fast as attnd reads,
    then stall for the rest of `hold` seconds."""
    res = {"refused_503": 0, "closed_408": 0, "other": 0}
    lock = threading.Lock()
    buf = b" " * (1 << 20)
    end = time.time() + hold

    def one(i):
        try:
            s = connect(port, ATTACKERS[i % len(ATTACKERS)], timeout=hold + 5)
            s.sendall(b"POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                      b"\r\nContent-Length: %d\r\n\r\n" % declared)
            sent = 0
            while sent < send:
                s.sendall(buf[:min(len(buf), send - sent)])
                sent += min(len(buf), send - sent)
            s.settimeout(max(0.1, end - time.time()))
            got = s.recv(4096)
        except OSError:
            got = b"?"
            try:
                got = s.recv(4096)
            except OSError:
                pass
        with lock:
            if got.startswith(b"HTTP/1.1 503"):
                res["refused_503"] += 1
            elif got.startswith(b"HTTP/1.1 408"):
                res["closed_408"] += 1
            else:
                res["other"] += 1
        s.close()

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return res


def chunked_endless(port, cap):
    s = connect(port, ATTACKERS[0], timeout=10)
    s.sendall(b"POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"100000\r\n" + b" " * (1 << 20) + b"\r\n"
    sent, t0 = 0, time.time()
    s.setblocking(False)
    status = "none"
    while sent < cap:
        try:
            head = s.recv(64)
            status = head.split(b"\r\n")[0].decode(errors="replace") if head else "closed"
            break
        except BlockingIOError:
            pass
        except OSError as e:
            status = str(e)
            break
        try:
            s.setblocking(True)
            s.sendall(chunk)
            sent += 1 << 20
        except OSError:
            s.settimeout(5)
            try:
                head = s.recv(64)
                status = head.split(b"\r\n")[0].decode(errors="replace") if head else "closed"
            except OSError as e:
                status = str(e)
            break
        finally:
            s.setblocking(False)
    s.close()
    return {"mib_sent_before_answer": sent >> 20, "answer": status,
            "seconds": round(time.time() - t0, 2)}


def duplicate_length(port):
    s = connect(port, ATTACKERS[0])
    s.sendall(b"POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 2\r\nContent-Length: 36\r\n\r\n{}GET /healthz HTTP/1.1\r\n"
              b"Host: x\r\n\r\n")
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except OSError:
        pass
    s.close()
    return {"answers": out.count(b"HTTP/1.1 "), "first": out.split(b"\r\n")[0].decode()}


class Pipeliner:
    """One connection that pipelines small POSTs back to back, so that the next request is in
    attnd's buffer whenever one completes; counts the answers and anything but 200/503."""
    REQ = (b"POST /v1/attention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 17\r\n\r\n{\"query\":[[1.0]]}")

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.answered, self.bad = 0, 0
        self.threads = [threading.Thread(target=self.write), threading.Thread(target=self.read)]
        for t in self.threads:
            t.start()

    def write(self):
        try:
            for _ in range(400):
                self.s.sendall(self.REQ * 64)
        except OSError:
            pass

    def read(self):
        carry = b""
        try:
            while True:
                b = self.s.recv(65536)
                if not b:
                    break
                data = carry + b
                for m in re.finditer(rb"HTTP/1\.1 (\d\d\d)", data):
                    if m.group(1) in (b"200", b"503"):
                        self.answered += 1
                    else:
                        self.bad += 1
                carry = data[-11:]
        except OSError:
            pass

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        for t in self.threads:
            t.join()
        self.s.close()


def sigterm_rounds(attnd, rounds, clients=2):
    """SIGTERM while one connection pipelines requests and `clients` keep-alive clients post
    jobs of a few milliseconds back to back; counts exits other than 0 (an abort is 134). The
    clients are curl processes, each posting to the same URL many times over one connection
    (a Python client leaves gaps between requests long enough to hide the race)."""
    body = json.dumps({"query": [[round(((i * 7 + k) % 13) / 13, 3) for k in range(8)]
                                 for i in range(512)], "return_weights": False}).encode()
    tmp = tempfile.mkdtemp(prefix="attnd-abuse-")
    body_path = os.path.join(tmp, "body.json")
    with open(body_path, "wb") as f:
        f.write(body)
    codes, bad = {}, 0
    for _ in range(rounds):
        p, port, logname = start(attnd)
        pipe = Pipeliner(port)
        url = f"http://127.0.0.1:{port}/v1/attention"
        outs = [os.path.join(tmp, f"client{i}.txt") for i in range(clients)]
        cs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\n",
                                "--max-time", "30", "-H", "Content-Type: application/json",
                                "--data-binary", "@" + body_path] + [url] * 2000,
                               stdout=open(outs[i], "w"), stderr=subprocess.DEVNULL)
              for i in range(clients)]

        def answered(path):
            with open(path) as f:
                return sum(1 for line in f if line.strip() in ("200", "503"))
        deadline = time.time() + 30
        while time.time() < deadline and (min(answered(o) for o in outs) < 5
                                          or pipe.answered < 20):
            time.sleep(0.005)
        code = stop(p, logname)
        pipe.close()
        bad += pipe.bad
        for c in cs:
            try:
                c.wait(30)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()
        codes[code] = codes.get(code, 0) + 1
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    return {"rounds": rounds, "clients": clients, "exit_codes": codes,
            "aborts": sum(v for k, v in codes.items() if k != 0), "bad_answers": bad}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--attnd", default="build/attnd")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    q = a.quick
    slow_n, idle_n, part_n = (300, 400, 20) if q else (1500, 2000, 100)
    secs = 8 if q else 25
    rows = []
    rows.append(scenario(a.attnd, "baseline", lambda port: (time.sleep(3), {})[1]))
    rows.append(scenario(a.attnd, f"slowloris {slow_n} conns, a header line every 16 s",
                         lambda port: {"closed_by_attnd": socket_attack(
                             port, slow_n, secs, b"GET / HTTP/1.1\r\nHost: x\r\n", 16,
                             b"X-a: b\r\n")}))
    rows.append(scenario(a.attnd, f"idle flood {idle_n} sockets",
                         lambda port: {"closed_by_attnd": socket_attack(
                             port, idle_n, secs, None, None, None)}))
    rows.append(scenario(a.attnd, f"partial bodies {part_n} x 16 MiB (15 MiB sent)",
                         lambda port: partial_bodies(port, part_n, 16 << 20, 15 << 20, secs)))
    rows.append(scenario(a.attnd, "chunked endless upload (limit 64 MiB)",
                         lambda port: chunked_endless(port, 1 << 30)))
    rows.append(scenario(a.attnd, "duplicate Content-Length", duplicate_length))
    term = sigterm_rounds(a.attnd, 10 if q else 50)

    print(f"\n{'scenario':48} {'secs':>5} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'failed':>9} {'RSS MiB':>8}  attacker got")
    for r in rows:
        print(f"{r['scenario']:48} {r['seconds']:5.1f} {r['normal_p50_ms']:7.2f} "
              f"{r['normal_p99_ms']:7.2f} {r['normal_max_ms']:7.1f} "
              f"{r['normal_failed']:4d}/{r['normal_requests']:<4d} {r['rss_peak_mib']:8.1f}  "
              f"{json.dumps(r['attack'])}"
              + (f"  normal codes {r['normal_codes']}" if r['normal_failed'] else "")
              + (f"  EXIT {r['exit']}" if r['exit'] else ""))
    print(f"\nSIGTERM under a pipelining connection and {term['clients']} keep-alive clients x "
          f"{term['rounds']}: exit codes {term['exit_codes']}, aborts {term['aborts']}, "
          f"answers other than 200/503 {term['bad_answers']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"scenarios": rows, "sigterm": term}, f, indent=1)
    bad = term["aborts"] or term["bad_answers"] or any(r["exit"] for r in rows)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
