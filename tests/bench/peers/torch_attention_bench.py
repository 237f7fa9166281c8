"""PyTorch CPU attention at the shapes of make bench's core table: softmax(Q K^T / sqrt(d)) V
with the weights kept, as a Python team would write it. Prints, per shape, the mean time over
1 s after a warm-up call and GFLOP/s = 4*B*H*L*L*d / time, then the OpenBLAS core that
PyTorch's BLAS ran (Debian's python3-torch multiplies through libblas.so.3 = OpenBLAS).

Usage: /usr/bin/python3 torch_attention_bench.py THREADS
"""
import ctypes
import math
import sys
import time

import torch

SHAPES = [(1, 8, 128, 64), (1, 8, 512, 64), (1, 8, 2048, 64), (4, 12, 256, 64)]


def bench(fn, seconds=1.0):
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def openblas_core():
    """The core of the OpenBLAS already loaded in this process (dlopen returns that copy)."""
    for name in ("libopenblas.so.0", "libblas.so.3"):
        try:
            fn = ctypes.CDLL(name).openblas_get_corename
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_char_p
        return fn().decode()
    return "unknown"


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    with torch.no_grad():
        for (b, h, n, d) in SHAPES:
            q, k, v = (torch.randn(b, h, n, d) for _ in range(3))

            def sdpa():
                w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
                return w @ v, w

            t = bench(sdpa)
            print(f"B={b} H={h} N={n} D={d}: manual sdpa {t * 1e3:.2f} ms = "
                  f"{4.0 * b * h * n * n * d / t / 1e9:.1f} GFLOP/s")
    print(f"core={openblas_core()}")


if __name__ == "__main__":
    main()
