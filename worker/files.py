"""Whole files of reviews: reading .txt/.csv uploads, keeping them in Redis for one job, writing results.

A file becomes one job on the score queue (``worker.jobs.score_file``), not one job per line: the
reviews go to Redis under ``sentibot:file:<id>`` with a TTL, the job carries the key (JSON only),
the worker scores them in chunks and writes the result CSV and a histogram under ``...:result``
and ``...:histogram``, with the same TTL. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from dataclasses import dataclass, field
from pathlib import PurePath

import redis

from common.errors import SentibotError
from worker.queues import MAX_TEXT_CHARS

MAX_BYTES = 20 * 1024 * 1024  # Telegram's download limit for bots
FILE_TTL_S = 3600  # a file and its results are kept an hour
FILE_KEY = "sentibot:file:{id}"
RESULT_KEY = "sentibot:file:{id}:result"
HISTOGRAM_KEY = "sentibot:file:{id}:histogram"
TEXT_COLUMNS = ("text", "review")  # a CSV column with one of these names, else the first column


class BadFile(SentibotError):
    """The upload cannot be scored; the message says why in one sentence."""


@dataclass
class Reviews:
    """The rows of an upload: ``texts[i]`` is row ``i + 1``'s review ("" for a row that is skipped)."""

    texts: list[str]
    column: str  # the column the reviews came from ("text" for a .txt file)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows


def check_upload(name: str, size: int) -> None:
    """Refuse a wrong type or an oversized file before downloading it."""
    if PurePath(name or "").suffix.lower() not in (".txt", ".csv"):
        raise BadFile("I can score .txt files (one review per line) and .csv files (a text or review column).")
    if size > MAX_BYTES:
        raise BadFile(f"That file is over {MAX_BYTES // (1024 * 1024)} MB, more than a bot may download.")


def read_reviews(name: str, data: bytes, max_rows: int) -> Reviews:
    """Parse an upload; raises BadFile with one sentence for each way it can be unusable."""
    check_upload(name, len(data))
    suffix = PurePath(name).suffix.lower()
    try:
        content = data.decode("utf-8-sig")  # with or without a byte-order mark
    except UnicodeDecodeError:
        raise BadFile("That file is not UTF-8 text: save it as UTF-8 and send it again.") from None
    texts, column = _csv_texts(content) if suffix == ".csv" else (content.splitlines(), "text")
    if not any(t.strip() for t in texts):
        raise BadFile("That file has no reviews in it.")
    if len(texts) > max_rows:
        raise BadFile(f"That file has {len(texts):,} rows; I score at most {max_rows:,} at a time.")
    reviews = Reviews([], column)
    for text in texts:
        reason = "empty" if not text.strip() else "too long" if len(text) > MAX_TEXT_CHARS else None
        if reason:
            reviews.skipped[reason] = reviews.skipped.get(reason, 0) + 1
        reviews.texts.append("" if reason else text)
    return reviews


def _csv_texts(content: str) -> tuple[list[str], str]:
    sample = content[: 64 * 1024]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(content), dialect))
    rows = [row for row in rows if row]
    if not rows or not any(cell.strip() for row in rows for cell in row):
        raise BadFile("That file has no reviews in it.")
    try:
        has_header = csv.Sniffer().has_header(sample)
    except csv.Error:
        has_header = False
    header = [cell.strip().lower() for cell in rows[0]]
    named = next((header.index(name) for name in TEXT_COLUMNS if name in header), None)
    if named is not None or has_header:
        index = named if named is not None else 0
        column, rows = rows[0][index].strip() or "column 1", rows[1:]
    else:
        index, column = 0, "column 1"
    if not rows:
        raise BadFile("That file has a header but no reviews under it.")
    return [row[index] if index < len(row) else "" for row in rows], column


def store(connection: redis.Redis, reviews: Reviews) -> str:
    """Keep the rows in Redis for one hour; return the file id the score_file job carries."""
    file_id = uuid.uuid4().hex
    payload = json.dumps({"texts": reviews.texts, "column": reviews.column, "skipped": reviews.skipped})
    connection.set(FILE_KEY.format(id=file_id), gzip.compress(payload.encode()), ex=FILE_TTL_S)
    return file_id


def load(connection: redis.Redis, file_id: str) -> Reviews:
    """The rows stored under ``file_id``; raises BadFile once they have expired."""
    raw = connection.get(FILE_KEY.format(id=file_id))
    if raw is None:
        raise BadFile("That file is no longer with me (files are kept an hour): send it again.")
    payload = json.loads(gzip.decompress(raw))
    return Reviews(payload["texts"], payload["column"], payload["skipped"])


def results_csv(reviews: Reviews, verdicts: list[dict | None]) -> bytes:
    """``row, label, score, <column>``: one line per row of the upload; skipped rows keep their place."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "label", "score", reviews.column])
    for row, (text, verdict) in enumerate(zip(reviews.texts, verdicts, strict=True), start=1):
        if verdict is None:
            writer.writerow([row, "skipped", "", text])
        else:
            writer.writerow([row, verdict["label"], f"{verdict['score']:.4f}", text])
    return out.getvalue().encode("utf-8")


def save_results(connection: redis.Redis, file_id: str, table: bytes, histogram: bytes) -> None:
    with connection.pipeline() as pipe:
        pipe.set(RESULT_KEY.format(id=file_id), gzip.compress(table), ex=FILE_TTL_S)
        pipe.set(HISTOGRAM_KEY.format(id=file_id), histogram, ex=FILE_TTL_S)
        pipe.execute()


def fetch_results(connection: redis.Redis, file_id: str) -> tuple[bytes, bytes | None]:
    """(result CSV, histogram PNG) of a scored file; raises BadFile once expired."""
    table, histogram = connection.mget(RESULT_KEY.format(id=file_id), HISTOGRAM_KEY.format(id=file_id))
    if table is None:
        raise BadFile("The results of that file have expired (they are kept an hour): send it again.")
    return gzip.decompress(table), histogram
