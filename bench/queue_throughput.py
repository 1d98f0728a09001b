"""Scoring through the queue: reviews/s with 1 and 2 workers, a 50,000-row file as one job, idle latency,
latency during training. (Files in detail, one-liners and full reviews per model: bench/file_throughput.py.)

Run: python bench/queue_throughput.py [--reviews 20000] [--latency-samples 300] [--file-rows 50000]
     [--ceiling-reviews 20000]   (smaller counts for the slow minilm model)
Starts its own redis-server and worker processes (and stops them by PID). Uses the newest bundle
in SENTIBOT_HOME/bundles, or an untrained tutorial model (same compute) when there is none.
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentibot.processes import stop as stop_process  # noqa: E402
from sentibot.processes import wait_for  # noqa: E402
from sentibot.redis_server import RedisServer  # noqa: E402
from tests.live_stack import any_bundle  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "datasets" / "aclImdb_v1_labeled.tar.gz"
SAMPLE = [
    "An absolute joy from start to finish, the cast is wonderful.",
    "Two hours of my life I will never get back. Dreadful script.",
    "Not bad at all, though the ending dragged a little.",
    "I wanted to love it but the pacing killed every scene.",
]


def bundle_bytes(home: Path) -> bytes:
    """The newest local bundle, or an untrained tutorial model in a bundle."""
    return any_bundle(home, SAMPLE)


def ceiling(data: bytes, reviews: int) -> float:
    """Reviews/s of bare in-process scoring in batches of 256: the upper bound."""
    from model import bundle
    from model.predict import predictor_for

    predictor = predictor_for(bundle.from_bytes(data))
    texts = [SAMPLE[i % len(SAMPLE)] for i in range(256)]
    started = time.perf_counter()
    done = 0
    while done < reviews:
        predictor.predict(texts)
        done += len(texts)
    return done / (time.perf_counter() - started)


def start_workers(env: dict, count: int, queues: str = "score,files", prefix: str = "bench") -> list[subprocess.Popen]:
    """Real `sentibot worker` processes."""
    return [
        subprocess.Popen(
            [sys.executable, "-m", "sentibot.cli", "worker", "--queues", queues, "--name", f"{prefix}-{i}"],
            env=env,
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
            stderr=open(Path(env["SENTIBOT_HOME"]) / f"{prefix}-{i}.log", "w"),
        )
        for i in range(count)
    ]


def throughput(connection, reviews: int) -> float:
    """Enqueue `reviews` jobs as fast as one producer can, wait for all results; reviews/s."""
    from rq import Queue

    from worker.queues import SCORE, SCORE_JOB, get_queue

    queue = get_queue(connection, SCORE)
    started = time.perf_counter()
    last = None
    for chunk in range(0, reviews, 500):
        with connection.pipeline() as pipe:
            data = [
                Queue.prepare_data(SCORE_JOB, kwargs={"text": SAMPLE[i % 4]}, result_ttl=300)
                for i in range(chunk, min(reviews, chunk + 500))
            ]
            last = queue.enqueue_many(data, pipeline=pipe)[-1]
            pipe.execute()
    registry = queue.finished_job_registry
    wait_for(lambda: registry.count >= reviews, timeout=300, interval=0.02)
    del last
    return reviews / (time.perf_counter() - started)


def file_throughput(connection, rows: int) -> float:
    """One `rows`-line file through the queue as one job (chunked in a worker), upload to results; rows/s."""
    from worker import client

    data = "\n".join(SAMPLE[i % len(SAMPLE)] for i in range(rows)).encode()
    started = time.perf_counter()
    job = client.submit_file(connection, "bench.txt", data)

    def ended():
        snapshot = client.file_snapshot(connection, job.id)
        return snapshot if snapshot.state in ("finished", "failed") else None

    snapshot = wait_for(ended, timeout=600, interval=0.05)
    assert snapshot.state == "finished", snapshot.reason
    client.file_results(connection, snapshot.result["file_id"])
    return rows / (time.perf_counter() - started)


def latencies(connection, samples: int) -> list[float]:
    """Enqueue→result milliseconds for one review at a time."""
    from worker.client import score

    out = []
    for i in range(samples):
        started = time.perf_counter()
        score(connection, SAMPLE[i % 4], timeout_s=10)
        out.append((time.perf_counter() - started) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    """The q-th percentile."""
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    """Run every measurement and print the figures."""
    from worker.connection import connect
    from worker.registry import ModelRegistry

    parser = argparse.ArgumentParser()
    parser.add_argument("--reviews", type=int, default=20000)
    parser.add_argument("--latency-samples", type=int, default=300)
    parser.add_argument("--file-rows", type=int, default=50_000)
    parser.add_argument("--ceiling-reviews", type=int, default=20_000, help="scored in-process for the ceiling")
    args = parser.parse_args()
    home = Path(os.environ.get("SENTIBOT_HOME", "~/.sentibot")).expanduser()
    data = bundle_bytes(home)
    figures: dict[str, float] = {"ceiling_reviews_per_s": round(ceiling(data, args.ceiling_reviews))}
    server = RedisServer().start()
    tmp_home = tempfile.mkdtemp()
    env = {
        **os.environ,
        "REDIS_URL": server.url,
        "SENTIBOT_HOME": tmp_home,
        "LOG_LEVEL": "WARNING",
        "IMDB_DATA": os.environ.get("IMDB_DATA") or (str(SHARED_DATA) if SHARED_DATA.exists() else ""),
    }
    connection = connect(server.url)
    ModelRegistry(connection).add(data, promote=True)
    try:
        for count in (1, 2):
            workers = start_workers(env, count)
            try:
                wait_for(lambda n=count: all(connection.exists(f"sentibot:alive:bench-{i}") for i in range(n)), 90)
                throughput(connection, 2000)  # warm up
                connection.delete("rq:finished:score")
                figures[f"reviews_per_s_{count}_worker" + ("s" if count > 1 else "")] = round(
                    throughput(connection, args.reviews)
                )
                if count == 2:
                    figures["file_rows_per_s_2_workers"] = round(file_throughput(connection, args.file_rows))
                if count == 1:
                    lat = latencies(connection, args.latency_samples)
                    figures["p50_ms"] = round(statistics.median(lat), 2)
                    figures["p95_ms"] = round(pct(lat, 95), 2)
                    if env["IMDB_DATA"]:
                        trainer = start_workers(env, 1, "train", "bench-trainer")
                        try:
                            from model.recipes import plan
                            from worker import training

                            training.start(connection, plan("tutorial", 5, 128), "bench", 3600)
                            wait_for(
                                lambda: (
                                    (training.running(connection) or {}).get("progress", {}).get("stage") == "training"
                                ),
                                120,
                            )
                            lat = latencies(connection, args.latency_samples)
                            figures["p50_ms_while_training"] = round(statistics.median(lat), 2)
                            figures["p95_ms_while_training"] = round(pct(lat, 95), 2)
                        finally:
                            for process in trainer:
                                stop_process(process)
            finally:
                for process in workers:
                    stop_process(process)
    finally:
        server.stop()
    figures["ratio_2_workers_to_ceiling"] = round(
        figures["reviews_per_s_2_workers"] / figures["ceiling_reviews_per_s"], 3
    )
    figures["ratio_file_to_ceiling"] = round(figures["file_rows_per_s_2_workers"] / figures["ceiling_reviews_per_s"], 3)
    print("command: python bench/queue_throughput.py " + " ".join(sys.argv[1:]))
    for key, value in figures.items():
        print(f"{key:>30}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
