"""Uploaded files through the queue against the in-process ceiling: rows/s for one-liners and full reviews,
with the default model (minilm) and with nbsvm.

Run: python bench/file_throughput.py [--one-liners 2000] [--reviews 128] [--nbsvm-scale 10]
     [--minilm BUNDLE] [--nbsvm BUNDLE] [--data aclImdb_v1_labeled.tar.gz]

Rows: sentences of 3-25 words cut from IMDB test reviews (one-liners, what people type) and whole IMDB
test reviews; nbsvm gets ``--nbsvm-scale`` times as many. For each model and kind of row it prints:

- ``queue``: one upload through Redis, a real `sentibot worker --queues files` process reading it,
  scoring it and writing the result CSV, until the results are fetched (the same file once before,
  untimed: a worker traces each batch shape once in its life);
- ``in_process``: the same rows scored by the same code in this process (``Predictor.predict_many``):
  the ceiling the file path is held to (goal: queue >= 50% of it);
- ``old_chunks``: the rows in upload order, 1,024 at a time, one model call each (the file path before
  issue 23), and ``one_at_a_time``: one row per call (a sample), for comparison.

Without ``--minilm``/``--nbsvm`` it builds the architecture untrained: minilm with its pretrained encoder
and an untrained head, nbsvm with zero-knowledge weights and the rows' vocabulary. Scoring costs the
same as a trained model of the same architecture (same layers, same shapes); the labels mean nothing.
Starts its own redis-server and worker (and stops them by PID). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentibot.processes import stop as stop_process  # noqa: E402
from sentibot.processes import wait_for  # noqa: E402
from sentibot.redis_server import RedisServer  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "datasets" / "aclImdb_v1_labeled.tar.gz"
OLD_CHUNK = 1024  # the file path before issue 23: upload order, one model call per 1,024 rows


def imdb_rows(path: Path, reviews: int, one_liners: int) -> tuple[list[str], list[str]]:
    """(one-liners, full reviews) from the IMDB test split, shuffled with a fixed seed."""
    texts: list[str] = []
    with tarfile.open(path) as tar:
        for member in tar:
            if member.isfile() and "/test/" in member.name and member.name.endswith(".txt"):
                texts.append(tar.extractfile(member).read().decode().replace("<br />", " "))
                if len(texts) >= max(reviews, one_liners // 4):
                    break
    random.Random(1).shuffle(texts)
    sentences = [s.strip() for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if 3 <= len(s.split()) <= 25]
    random.Random(2).shuffle(sentences)
    return (sentences * (1 + one_liners // max(1, len(sentences))))[:one_liners], texts[:reviews]


def untrained_bundle(arch: str, sample: list[str]) -> bytes:
    """An untrained bundle of ``arch`` (minilm: its pretrained encoder): the scoring cost of a trained one."""
    from model import architectures, bundle
    from model.encoding import TextEncoder, tokenize
    from model.recipes import recipe

    if arch == "minilm":
        encoder = architectures.default_encoder("minilm")
    else:
        words = tuple(sorted({w for text in sample for w in tokenize(text)}))
        encoder = TextEncoder(words, **recipe(arch).encoder_settings())
    made = bundle.Bundle(architectures.build(arch, encoder), encoder, {"version": bundle.new_version(), "arch": arch})
    return bundle.to_bytes(made)


def in_process(data: bytes, rows: list[str], sample: int) -> dict[str, float]:
    """Rows/s of the same rows scored in this process: predict_many (the ceiling), old chunks, one at a time;
    each run once untimed first, as the queue's."""
    from model import bundle
    from model.predict import predictor_for

    predictor = predictor_for(bundle.from_bytes(data))
    ones = rows[:sample]
    runs = {
        "in_process": (lambda: predictor.predict_many(rows), len(rows)),
        "old_chunks": (
            lambda: [predictor.predict(rows[i : i + OLD_CHUNK]) for i in range(0, len(rows), OLD_CHUNK)],
            len(rows),
        ),
        "one_at_a_time": (lambda: [predictor.predict([text]) for text in ones], len(ones)),
    }
    figures = {}
    for name, (run, count) in runs.items():
        run()  # once to trace every shape these rows need (the worker has done so after its first files)
        started = time.perf_counter()
        run()
        figures[name] = round(count / (time.perf_counter() - started), 1)
    return figures


def through_queue(connection, rows: list[str]) -> float:
    """One upload of ``rows`` (a .txt file) through the files queue to its fetched results; rows/s."""
    from worker import client

    data = "\n".join(row.replace("\n", " ").replace("\r", " ") for row in rows).encode()
    started = time.perf_counter()
    job = client.submit_file(connection, "bench.txt", data)

    def ended():
        snapshot = client.file_snapshot(connection, job.id)
        return snapshot if snapshot.state in ("finished", "failed") else None

    snapshot = wait_for(ended, timeout=1800, interval=0.05)
    assert snapshot.state == "finished", snapshot.reason
    client.file_results(connection, snapshot.result["file_id"])
    return round(len(rows) / (time.perf_counter() - started), 1)


def main() -> None:
    """Measure each model and kind of row; print the figures and the command."""
    from worker.connection import connect
    from worker.registry import ModelRegistry

    parser = argparse.ArgumentParser()
    parser.add_argument("--one-liners", type=int, default=2000)
    parser.add_argument("--reviews", type=int, default=128)
    parser.add_argument("--nbsvm-scale", type=int, default=10, help="nbsvm scores this many times more rows")
    parser.add_argument("--one-at-a-time-sample", type=int, default=200)
    parser.add_argument("--minilm", type=Path, help="a minilm bundle (default: untrained, same compute)")
    parser.add_argument("--nbsvm", type=Path, help="an nbsvm bundle (default: untrained, same compute)")
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    args = parser.parse_args()
    scale = {"minilm": 1, "nbsvm": args.nbsvm_scale}
    one_liners, reviews = imdb_rows(args.data, args.reviews * args.nbsvm_scale, args.one_liners * args.nbsvm_scale)
    server = RedisServer().start()
    home = tempfile.mkdtemp()
    env = {**os.environ, "REDIS_URL": server.url, "SENTIBOT_HOME": home, "LOG_LEVEL": "WARNING"}
    connection = connect(server.url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "sentibot.cli", "worker", "--queues", "files", "--name", "bench-files"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(home) / "worker.log", "w"),  # noqa: SIM115 - the worker's log, closed with the process
    )
    figures: dict[str, object] = {}
    try:
        wait_for(lambda: connection.exists("sentibot:alive:bench-files"), 120)
        for arch in ("minilm", "nbsvm"):
            given = getattr(args, arch)
            data = given.read_bytes() if given else untrained_bundle(arch, one_liners + reviews)
            ModelRegistry(connection).add(data, promote=True)
            figures[f"{arch}_bundle"] = str(given) if given else "untrained (same compute)"
            for kind, rows in (("one_liners", one_liners), ("reviews", reviews)):
                rows = rows[: (args.one_liners if kind == "one_liners" else args.reviews) * scale[arch]]
                through_queue(connection, rows)  # warm-up: the worker loads the model, traces every shape
                queued = through_queue(connection, rows)
                local = in_process(data, rows, args.one_at_a_time_sample // (1 if kind == "one_liners" else 4))
                key = f"{arch}_{kind}"
                figures[f"{key}_rows"] = len(rows)
                figures[f"{key}_queue_rows_per_s"] = queued
                figures.update({f"{key}_{name}_rows_per_s": value for name, value in local.items()})
                figures[f"{key}_queue_to_ceiling"] = round(queued / local["in_process"], 3)
                print(f"{key}: queue {queued}/s, " + ", ".join(f"{k} {v}/s" for k, v in local.items()), flush=True)
    finally:
        stop_process(worker)
        server.stop()
    print("command: python bench/file_throughput.py " + " ".join(sys.argv[1:]))
    for key, value in figures.items():
        print(f"{key:>44}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
