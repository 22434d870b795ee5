"""Load test of `digitnet serve`: predictions per second and latency at 1, 8, 32 and 128 concurrent clients,
and the server's memory before and after 100,000 requests.

    python benchmarks/load.py [--requests 100000] [--quick]     # writes benchmarks/LOAD.md (not with --quick)

The server runs in its own process (`digitnet serve`, one uvicorn worker, the default model) on a free
loopback port; the client is a bounded asyncio load generator in this process: each simulated client
keeps one HTTP/1.1 connection open and sends POST /api/predict with a test digit's 8x8 pixels, the next
request as soon as the answer is in. Both share the machine's cores, so the figures are a floor.
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
        body = json.dumps({"pixels": x.reshape(8, 8).astype(int).tolist()}).encode()
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
            before = rss_mb(server.pid)
            memory_run = asyncio.run(level(port, bodies, 32, args.requests))
            after = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(10)
    report = render(results, memory_run, before, after, args)
    print(report)
    if not args.quick:
        (HERE / "LOAD.md").write_text(report)


def render(results, memory_run, before, after, args) -> str:
    lines = ["# Load test of `digitnet serve`", "",
             "Written by `python benchmarks/load.py`; do not edit by hand." + (" **--quick run.**" if args.quick else ""), "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared by the server "
             "(one uvicorn worker, the default 8x8 model) and the asyncio load generator. Each request is "
             "POST /api/predict with one test digit's 8x8 pixels; its answer carries the probabilities, the input and "
             "the saliency.", "",
             "| concurrent clients | requests | errors | predictions/s | p50 latency | p99 latency |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['clients']} | {r['requests']:,} | {r['errors']} | {r['per_second']:,.0f} | {r['p50']:.1f} ms | "
              f"{r['p99']:.1f} ms |" for r in results]
    lines += ["", f"Memory: {memory_run['requests']:,} more requests at 32 clients ({memory_run['per_second']:,.0f}/s, "
              f"{memory_run['errors']} errors): the server's resident memory went from {before:.0f} MB to {after:.0f} MB.", ""]
    at32 = next(r for r in results if r["clients"] == 32)
    ok = at32["per_second"] >= 1000 and at32["p99"] < 50 and sum(r["errors"] for r in results) == 0
    lines += ["| target | measured | met |", "|---|---|---|",
              f"| at 32 clients ≥ 1,000 predictions/s with p99 < 50 ms, 0 errors | {at32['per_second']:,.0f}/s, "
              f"p99 {at32['p99']:.1f} ms | {'yes' if ok else '**no**'} |",
              f"| memory flat over {memory_run['requests']:,} requests (< 10% growth) | {before:.0f} → {after:.0f} MB | "
              f"{'yes' if after < 1.1 * before else '**no**'} |"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
