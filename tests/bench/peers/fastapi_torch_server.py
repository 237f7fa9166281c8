"""The peer service of make bench: the attention microservice a Python team would write with
FastAPI + uvicorn + PyTorch, serving the same POST /v1/attention schema for the common case
(scaled_dot or dot score, soft selection, self/cross attention, causal, return_weights,
average_heads). make bench starts it with OPENBLAS_CORETYPE set to the core attnd runs.

Needs Debian's python3-fastapi, python3-uvicorn and python3-torch (run with /usr/bin/python3).
Usage: /usr/bin/python3 fastapi_torch_server.py [port] [workers]
"""
import math
import sys

import torch
import uvicorn
from fastapi import FastAPI, HTTPException, Request

torch.set_num_threads(1)
app = FastAPI()


@app.post("/v1/attention")
async def attention(request: Request):
    body = await request.json()
    try:
        q = torch.tensor(body["query"], dtype=torch.float32)
        k = torch.tensor(body.get("key", body["query"]), dtype=torch.float32)
        v = torch.tensor(body.get("value", body.get("key", body["query"])), dtype=torch.float32)
    except (KeyError, ValueError, TypeError) as e:
        raise HTTPException(status_code=400, detail=str(e))
    scores = q @ k.transpose(-1, -2)
    if body.get("score", "scaled_dot") == "scaled_dot":
        scores = scores * body.get("scale", 1.0 / math.sqrt(q.shape[-1]))
    if body.get("causal"):
        lq, lk = scores.shape[-2], scores.shape[-1]
        allowed = torch.ones(lq, lk, dtype=torch.bool).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    w = torch.softmax(scores, dim=-1)
    out = {"context": (w @ v).tolist()}
    if body.get("return_weights", True):
        if body.get("average_heads") and w.dim() >= 3:
            w = w.mean(dim=-3)
        out["weights"] = w.tolist()
    return out


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 18090
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    uvicorn.run("fastapi_torch_server:app", host="127.0.0.1", port=port, workers=workers,
                log_level="warning")
