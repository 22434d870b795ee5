"""Load test of `digitnet serve`: predictions per second and latency at 1, 8, 32 and 128 concurrent clients,
the same at 8 clients while the Train view trains a network, and the server's memory before and after
100,000 requests.

    python benchmarks/load.py [--requests 100000] [--quick]     # writes benchmarks/LOAD.md (not with --quick)

The server runs in its own process (`digitnet serve`, one uvicorn worker, no model file: requests name the post's 8x8 network, id "default") on a free
loopback port; the client is a bounded asyncio load generator in this process: each simulated client
keeps one HTTP/1.1 connection open and sends POST /api/predict with a test digit's 8x8 pixels, the next
request as soon as the answer is in. Both share the machine's cores, so the figures are a floor.
With a run training, the server's worker process trains TRAINING (POST /api/train) and one more client
watches it as a page does (GET /api/train/events, every event read) while the 8 clients ask.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LEVELS = (1, 8, 32, 128)
TRAINING_CLIENTS = 8
# a run that keeps the worker busy for minutes, reporting every epoch (~30 per second) with 1000 tiles of 8x8
TRAINING = {"recipe": "modern", "n_hidden": 1000, "batch_size": 8, "epochs": 500}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def requests(n_bodies: int = 200) -> list[bytes]:
    from sklearn.datasets import load_digits

    X = load_digits().data[:n_bodies]
    out = []
    for x in X:
        # the post's 8x8 network by its id: without a model file the server lists the shipped 28x28 drawing model first
        body = json.dumps({"pixels": x.reshape(8, 8).astype(int).tolist(), "model": "default"}).encode()
        out.append(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return out


async def client(port: int, bodies: list[bytes], count: int, latencies: list[float], errors: list[str], offset: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i in range(count):
            start = time.perf_counter()
            writer.write(bodies[(offset + i) % len(bodies)])
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if b" 200 " not in status or b'"digit"' not in body:
                errors.append(status.decode(errors="replace").strip())
    finally:
        writer.close()


async def call(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode() if body is not None else b""
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
    answer = await reader.read()
    writer.close()
    head, _, text = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(text)


async def watch(port: int, seen: dict) -> None:
    """A page watching the run: reads the event stream until cancelled, counting events and bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)  # an event is one long line
    writer.write(b"GET /api/train/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            seen["bytes"] += len(line)
            if line.startswith(b"event: "):
                seen["events"] += 1
                seen["kinds"].add(line[7:].strip().decode())
    finally:
        writer.close()


async def while_training(port: int, bodies: list[bytes], total: int) -> dict:
    """TRAINING_CLIENTS clients asking while a run trains and a page watches it; the run is stopped after."""
    status, run = await call(port, "POST", "/api/train", TRAINING)
    if status != 202:
        raise SystemExit(f"could not start a run: {status} {run}")
    seen = {"events": 0, "bytes": 0, "kinds": set()}
    watcher = asyncio.create_task(watch(port, seen))
    deadline = time.monotonic() + 60
    while "epoch" not in seen["kinds"]:  # the worker has started and trains
        if time.monotonic() > deadline:
            raise SystemExit("the run did not start training within 60 s")
        await asyncio.sleep(0.1)
    result = await level(port, bodies, TRAINING_CLIENTS, total)
    _, state = await call(port, "GET", "/api/train")
    result["training"] = state["run"]["state"] == "running"  # still training at the end: the whole level overlapped it
    result["epoch"] = state["run"]["epoch"]
    await call(port, "POST", f"/api/train/runs/{run['run']}/stop")
    watcher.cancel()
    result.update(events=seen["events"], event_bytes=seen["bytes"])
    return result


async def level(port: int, bodies: list[bytes], clients: int, total: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    per_client = max(1, total // clients)
    start = time.perf_counter()
    await asyncio.gather(*(client(port, bodies, per_client, latencies, errors, 37 * c) for c in range(clients)))
    seconds = time.perf_counter() - start
    ms = np.array(latencies) * 1e3
    return {"clients": clients, "requests": len(latencies), "errors": len(errors), "per_second": len(latencies) / seconds,
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests in the memory run")
    parser.add_argument("--per-level", type=int, default=4000, help="requests at each concurrency level")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.per_level = 5000, 1000
    port = free_port()
    digitnet_cmd = str(Path(sys.executable).with_name("digitnet"))
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        server = subprocess.Popen([digitnet_cmd, "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit(f"the server did not start: {server.stderr.read().decode()}")
                    time.sleep(0.2)
            bodies = requests()
            asyncio.run(level(port, bodies, 8, 2000))  # warm up
            results = [asyncio.run(level(port, bodies, n, args.per_level)) for n in LEVELS]
            training = asyncio.run(while_training(port, bodies, args.per_level))
            before = rss_mb(server.pid)
            memory_run = asyncio.run(level(port, bodies, 32, args.requests))
            after = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(10)
    report = render(results, training, memory_run, before, after, args)
    print(report)
    errors = sum(r["errors"] for r in results) + training["errors"] + memory_run["errors"]
    if errors:  # figures of refused requests measure the refusal, not the server
        raise SystemExit(f"{errors:,} requests failed: LOAD.md is left as it was")
    if not args.quick:
        (HERE / "LOAD.md").write_text(report)


def render(results, training, memory_run, before, after, args) -> str:
    lines = ["# Load test of `digitnet serve`", "",
             "Written by `python benchmarks/load.py`; do not edit by hand." + (" **--quick run.**" if args.quick else ""), "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared by the server "
             "(one uvicorn worker, the default 8x8 model) and the asyncio load generator. Each request is "
             "POST /api/predict with one test digit's 8x8 pixels; its answer carries the probabilities, the input and "
             "the saliency.", "",
             "| concurrent clients | requests | errors | predictions/s | p50 latency | p99 latency |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['clients']} | {r['requests']:,} | {r['errors']} | {r['per_second']:,.0f} | {r['p50']:.1f} ms | "
              f"{r['p99']:.1f} ms |" for r in results]
    t = training
    lines += [f"| {t['clients']}, with a run training | {t['requests']:,} | {t['errors']} | {t['per_second']:,.0f} | "
              f"{t['p50']:.1f} ms | {t['p99']:.1f} ms |"]
    settings = ", ".join(f"{k} {v}" for k, v in TRAINING.items())
    lines += ["", f"With a run training: the Train view's worker process (niced) trained {settings} on the embedded "
              f"digits{'' if t['training'] else ' (**it ended before the clients did**)'}, reaching epoch "
              f"{t['epoch']:.1f}, while one more client watched it as a page does: {t['events']:,} events, "
              f"{t['event_bytes'] / 1e6:.1f} MB of event stream in that time."]
    lines += ["", f"Memory: {memory_run['requests']:,} more requests at 32 clients ({memory_run['per_second']:,.0f}/s, "
              f"{memory_run['errors']} errors): the server's resident memory went from {before:.0f} MB to {after:.0f} MB.", ""]
    at32 = next(r for r in results if r["clients"] == 32)
    ok = at32["per_second"] >= 1000 and at32["p99"] < 50 and sum(r["errors"] for r in results) == 0
    lines += ["| target | measured | met |", "|---|---|---|",
              f"| at 32 clients ≥ 1,000 predictions/s with p99 < 50 ms, 0 errors | {at32['per_second']:,.0f}/s, "
              f"p99 {at32['p99']:.1f} ms | {'yes' if ok else '**no**'} |",
              f"| memory flat over {memory_run['requests']:,} requests (< 10% growth) | {before:.0f} → {after:.0f} MB | "
              f"{'yes' if after < 1.1 * before else '**no**'} |",
              f"| at {TRAINING_CLIENTS} clients with a run training, p99 < 50 ms, 0 errors | p99 {t['p99']:.1f} ms, "
              f"{t['errors']} errors | {'yes' if t['p99'] < 50 and not t['errors'] and t['training'] else '**no**'} |"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
