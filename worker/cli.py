"""`sentibot worker | model ... | score`: run workers, manage the registry, score from a shell."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from common.settings import Settings
from model.cli import positive_int


def _queues(raw: str) -> list[str]:
    from worker.run import parse_queues

    try:
        return parse_queues(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the queue-side commands."""
    worker = subparsers.add_parser("worker", help="run a worker that scores reviews and/or trains models")
    worker.add_argument(
        "--queues",
        type=_queues,
        default=["score", "files", "train"],
        help="score (reviews), files (uploaded files), train, or a list: score,files (default: all three)",
    )
    worker.add_argument("--name", help="worker name (default: <hostname>.<pid>)")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.add_argument(
        "--metrics-port",
        type=positive_int(1, 65535),
        help="serve Prometheus metrics on this port (default: METRICS_PORT)",
    )
    worker.set_defaults(handler=run_worker)

    model = subparsers.add_parser("model", help="list, inspect, add and promote model versions")
    actions = model.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, helptext in (("list", "all versions"), ("rollback", "make the previous live model live again")):
        sub = actions.add_parser(name, help=helptext)
        sub.add_argument("--json", action="store_true")
    for name, helptext in (("show", "one version in full"), ("promote", "make a version live")):
        sub = actions.add_parser(name, help=helptext)
        sub.add_argument("version")
        sub.add_argument("--json", action="store_true")
    add = actions.add_parser("add", help="put a bundle file into the registry")
    add.add_argument("bundle", type=Path, help="a bundle file, or a directory for its newest bundle")
    add.add_argument("--promote", action="store_true")
    add.add_argument("--json", action="store_true")
    model.set_defaults(handler=run_model)

    health = subparsers.add_parser("health", help="exit 0 if this host's worker or bot is alive (healthchecks)")
    health.add_argument("what", choices=("worker", "bot"))
    health.set_defaults(handler=run_health)

    score = subparsers.add_parser("score", help="score reviews (or a whole file) through the running service")
    score.add_argument("texts", nargs="*", metavar="TEXT")
    score.add_argument("--file", type=Path, help="a .txt (one review per line) or .csv file: one job for all its rows")
    score.add_argument("--out", type=Path, help="where the results CSV goes (default: FILE-scored.csv beside it)")
    score.add_argument(
        "--wait", type=float, default=None, help="seconds to wait for each verdict (default: SCORE_TIMEOUT)"
    )
    score.set_defaults(handler=run_score)

    feedback = subparsers.add_parser("feedback", help="export or import what users taught the model (👍/👎)")
    actions = feedback.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write every stored item to a CSV file")
    export.add_argument("--out", type=Path, required=True, help="the CSV file to write")
    load = actions.add_parser("import", help="add the items of an exported CSV (duplicates are skipped)")
    load.add_argument("file", type=Path)
    feedback.set_defaults(handler=run_feedback)


def run_worker(args: argparse.Namespace, settings: Settings) -> NoReturn:
    """Start a worker process; it ends when the worker stops (SIGTERM, or --burst with the queues empty)."""
    from worker.run import run

    if args.metrics_port is not None:
        settings = dataclasses.replace(settings, metrics_port=args.metrics_port)
    run(settings, args.queues, name=args.name, burst=args.burst)
    exit_now()


def exit_now() -> NoReturn:
    """End the process without the interpreter's teardown, once the work loop has stopped cleanly.

    Everything is recorded by then (the job in hand, the heartbeat withdrawn); what is left is
    TensorFlow's teardown, which took 1-15 s here after a training, past Docker's 10 s stop grace.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_health(args: argparse.Namespace, settings: Settings) -> int:
    """One sentence; exit 0 when healthy, 1 when not (Redis unreachable included)."""
    import redis

    from worker import health
    from worker.connection import DEFAULT_URL

    connection = redis.Redis.from_url(settings.redis_url or DEFAULT_URL, socket_timeout=3, socket_connect_timeout=3)
    try:
        healthy, sentence = (health.worker_health if args.what == "worker" else health.bot_health)(connection)
    except redis.exceptions.RedisError as exc:
        healthy, sentence = False, f"Redis does not answer ({type(exc).__name__})"
    print(sentence)
    return 0 if healthy else 1


def _row(record: dict) -> str:
    accuracy = record.get("test_accuracy")
    flag = "*" if record.get("live") else " "
    error = f"  BROKEN: {record['error']}" if record.get("error") else ""
    error += "  (bundle pruned)" if record.get("pruned") else ""
    acc = f"{accuracy:.4f}" if accuracy is not None else "  -   "
    return f"{flag} {record['version']:<24} {record.get('arch', '?'):<10} {acc}  {record.get('created_at', '')}{error}"


def run_model(args: argparse.Namespace, settings: Settings) -> int:
    """Registry actions; --json for machines."""
    from worker.connection import connect, reachable
    from worker.registry import ModelRegistry

    connection = connect(settings.redis_url)
    registry = ModelRegistry(connection)
    with reachable(connection):
        if args.action == "list":
            records = registry.versions()
            if args.json:
                print(json.dumps([{k: v for k, v in r.items() if k != "history"} for r in records]))
            elif not records:
                print("No models yet: train one (`sentibot train`, then `sentibot model add BUNDLE --promote`).")
            else:
                print("  version                  arch       accuracy created")
                print("\n".join(_row(r) for r in records))
            return 0
        if args.action == "show":
            record = {**registry.meta(args.version), "live": registry.current() == args.version}
            print(json.dumps(record, indent=None if args.json else 2))
            return 0
        if args.action == "add":
            from model.bundle import resolve
            from model.errors import ModelError

            try:
                data = resolve(args.bundle).read_bytes()
            except OSError as exc:
                raise ModelError(f"Could not read {args.bundle}: {exc.strerror}.") from None
            if args.promote:  # a bundle that cannot serve never goes live: load it here first, as a worker would
                from worker.bundle_loading import load_predictor

                try:
                    load_predictor(data)
                except ModelError as exc:
                    raise ModelError(f"{exc} It was not added, and the live model is unchanged.") from None
            record = registry.add(data, promote=args.promote)
            message = {"added": record["version"], "live": args.promote}
        elif args.action == "promote":
            registry.promote(args.version)
            message = {"live": args.version}
        else:
            message = {"live": registry.rollback()}
    print(json.dumps(message) if args.json else ", ".join(f"{k}: {v}" for k, v in message.items()))
    return 0


def run_score(args: argparse.Namespace, settings: Settings) -> int:
    """Queue each text, then print each verdict as JSON; or score a file and write its results CSV."""
    import time

    from worker.client import submit_review, wait_result
    from worker.connection import connect

    connection = connect(settings.redis_url)
    if args.file is not None:
        return score_file(connection, args.file, args.out, settings)
    if not args.texts:
        from worker.files import BadFile

        raise BadFile("Give reviews to score as arguments, or --file PATH (.txt or .csv).")
    timeout = args.wait if args.wait is not None else settings.score_timeout_s
    started = time.perf_counter()
    jobs = [submit_review(connection, text) for text in args.texts]
    for text, job in zip(args.texts, jobs, strict=True):
        result = wait_result(job, timeout)
        ms = round((time.perf_counter() - started) * 1000, 1)
        print(json.dumps({"text": text[:80], **result, "round_trip_ms": ms}, ensure_ascii=False))
    return 0


def score_file(connection, path: Path, out: Path | None, settings: Settings) -> int:
    """One score_file job through the running service (a file worker reads and scores it); progress on stderr,
    results CSV to ``out``. Waits as long as the file moves (worker/file_watch.py)."""
    import sys
    import time

    from worker import client, files
    from worker.file_watch import FileWatch

    files.check_upload(path.name, path.stat().st_size if path.is_file() else 0)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise files.BadFile(f"Could not read {path}: {exc.strerror}.") from None
    job = client.submit_file(connection, path.name, data)
    watch = FileWatch(job.id, settings.file_pickup_timeout_s, settings.file_stall_timeout_s)
    while (snapshot := watch.look(connection)).state in ("queued", "running"):
        if snapshot.state == "queued":
            line = "waiting for a file worker" + (f" ({snapshot.ahead} ahead)" if snapshot.ahead else "")
        else:
            rate = f", {snapshot.rate:,.0f}/s" if snapshot.rate else ""
            line = f"{snapshot.done:,}/{snapshot.total:,} scored{rate}"
        print(f"\r{line:<60}", end="", file=sys.stderr)
        time.sleep(0.2)
    print(file=sys.stderr)
    if snapshot.state != "finished":
        if watch.gave_up:
            client.abandon_file(connection, job.id)
        raise files.BadFile(f"The file could not be scored: {snapshot.reason}")
    table, _ = client.file_results(connection, snapshot.result["file_id"])
    out = out or path.with_name(f"{path.stem}-scored.csv")
    out.write_bytes(table)
    result = snapshot.result
    figures = {k: result[k] for k in ("rows", "scored", "positive", "skipped", "model", "rows_per_s")}
    print(json.dumps({**figures, "out": str(out)}))
    return 0


def run_feedback(args: argparse.Namespace, settings: Settings) -> int:
    """`sentibot feedback export --out FILE.csv` / `sentibot feedback import FILE.csv`."""
    from worker import feedback
    from worker.connection import connect
    from worker.errors import BadFeedbackFile

    connection = connect(settings.redis_url)
    if args.action == "export":
        stored = feedback.items(connection)
        args.out.write_text(feedback.to_csv(stored), encoding="utf-8")
        print(json.dumps({"exported": len(stored), "out": str(args.out)}))
        return 0
    try:
        data = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadFeedbackFile(f"Could not read {args.file} as UTF-8 text ({type(exc).__name__}).") from None
    found = feedback.from_csv(data)
    added = feedback.import_items(connection, found)
    print(json.dumps({"read": len(found), "added": added, "already_there": len(found) - added}))
    if added:
        print(
            "sentibot: imported items keep the user hashes of the deployment they came from (or none): "
            "/forget here cannot tie them to anyone, so it cannot delete them.",
            file=sys.stderr,
        )
    return 0
