"""`make bench`: PyTorch formulations of attnd's additive (Bahdanau) score and top-k selection,
timed like attnd's rows (a warm-up call, then the mean time of calls over at least SECONDS,
best of ROUNDS rounds) on a fixed thread count. Needs Debian's python3-torch.

Usage: /usr/bin/python3 torch_variants.py THREADS [SECONDS] [ROUNDS]
Prints one key=value line per variant."""
import math
import sys
import time

import torch


def bench(fn, seconds, rounds):
    fn()
    best = float("inf")
    for _ in range(rounds):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            t = time.perf_counter() - t0
            if t >= seconds:
                break
        best = min(best, t / n)
    return best


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    # Additive: v^T tanh(W_q q + W_k k + b), softmax over keys, then the weighted sum of values.
    B, H, L, D, DA = 1, 8, 512, 64, 64
    q, k, val = (torch.randn(B, H, L, D) for _ in range(3))
    wq, wk = torch.randn(DA, D) / math.sqrt(2 * D), torch.randn(DA, D) / math.sqrt(2 * D)
    b, v = torch.randn(DA), torch.randn(DA)

    def additive():
        pre = (q @ wq.T).unsqueeze(-2) + (k @ wk.T).unsqueeze(-3) + b  # [B, H, Lq, Lk, da]
        w = torch.softmax(torch.tanh(pre) @ v, dim=-1)
        return w @ val, w

    with torch.no_grad():
        t = bench(additive, seconds, rounds)
    print(f"variant=additive B={B} H={H} L={L} d={D} da={DA} threads={threads} ms={t * 1e3:.3f}")

    # Top-k: the k highest scaled-dot scores of each row get weight 1, the rest 0.
    K = 8

    def topk():
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        idx = torch.topk(s, K, dim=-1).indices
        w = torch.zeros_like(s).scatter_(-1, idx, 1.0)
        return w @ val, w

    with torch.no_grad():
        t = bench(topk, seconds, rounds)
    flops = 4.0 * B * H * L * L * D
    print(f"variant=topk B={B} H={H} L={L} d={D} k={K} threads={threads} ms={t * 1e3:.3f} "
          f"gflops={flops / t / 1e9:.2f}")


if __name__ == "__main__":
    main()
