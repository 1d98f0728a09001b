"""Whole files of reviews: an upload kept in Redis for one job, read in the worker, results written back.

The bot never parses an upload: it checks the name and size, keeps the bytes under
``sentibot:file:<id>`` (gzip, with a TTL) and queues one ``worker.jobs.score_file`` job on the
``files`` queue carrying the key (JSON only). The worker reads the rows (:func:`read_reviews`:
streamed, the row cap applied while reading, in time linear in the file's size), scores them and
writes the result CSV and a histogram under ``...:result`` and ``...:histogram``, same TTL.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

import redis

from common.errors import SentibotError
from worker.queues import MAX_TEXT_CHARS
from worker.spreadsheet import safe_cell

MAX_BYTES = 20 * 1024 * 1024  # Telegram's download limit for bots
FILE_TTL_S = 3600  # a file and its results are kept an hour
FILE_KEY = "sentibot:file:{id}"
RESULT_KEY = "sentibot:file:{id}:result"
HISTOGRAM_KEY = "sentibot:file:{id}:histogram"
TEXT_COLUMNS = ("text", "review")  # a CSV column with one of these names, else the first column
DELIMITERS = ",;\t|"  # tried in this order; the one that splits the first rows alike wins
SNIFF_CHARS = 4096  # delimiter and header are decided from this much of the file: csv.Sniffer on
# 64 KB of `,"` repeated took 73 s, so it never sees more than this, and never guesses the delimiter
SNIFF_ROWS = 20


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
    """Parse an upload in one streamed pass; raises BadFile with one sentence for each way it can be unusable.

    Time and memory grow linearly with the file (at most MAX_BYTES): the text is decoded as it is
    read, rows past ``max_rows`` are never read, and the CSV dialect comes from the first few KB.
    """
    check_upload(name, len(data))
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")  # with or without a BOM
    reviews = Reviews([], "text")
    try:
        if PurePath(name).suffix.lower() == ".csv":
            reviews.column, rows = _csv_column(stream, _sample(data))
        else:
            rows = (line.rstrip("\r\n") for line in stream)
        for text in rows:
            if len(reviews.texts) >= max_rows:
                raise BadFile(f"That file has more than {max_rows:,} rows; I score at most {max_rows:,} at a time.")
            reason = "empty" if not text.strip() else "too long" if len(text) > MAX_TEXT_CHARS else None
            if reason:
                reviews.skipped[reason] = reviews.skipped.get(reason, 0) + 1
            reviews.texts.append("" if reason else text)
    except UnicodeDecodeError:
        raise BadFile("That file is not UTF-8 text: save it as UTF-8 and send it again.") from None
    except csv.Error as exc:
        raise BadFile(f"I couldn't read that CSV file ({exc}): check its quoting and send it again.") from None
    if not any(reviews.texts):
        if reviews.texts and reviews.skipped.get("too long") == len(reviews.texts):
            raise BadFile(f"Every row of that file is over {MAX_TEXT_CHARS:,} characters, too long to score.")
        raise BadFile("That file has no reviews in it.")
    return reviews


def _sample(data: bytes) -> str:
    """The first SNIFF_CHARS of the upload, cut after its last whole line (the dialect is read from it)."""
    head = data[: SNIFF_CHARS * 4].decode("utf-8-sig", errors="replace")[:SNIFF_CHARS]
    cut = max(head.rfind("\n"), head.rfind("\r"))
    return head[: cut + 1] if cut > 0 else head


class _Dialect(csv.excel):
    """Excel's CSV rules with the delimiter found in the sample."""


def _delimiter(sample: str) -> str:
    """The candidate that splits the first row into several fields, and most of the next rows into as many."""
    best, best_rows = ",", 0
    for candidate in DELIMITERS:
        try:
            reader = csv.reader(io.StringIO(sample), delimiter=candidate)
            counts = [len(row) for row in itertools.islice(reader, SNIFF_ROWS) if row]
        except csv.Error:
            continue
        if counts and counts[0] > 1 and counts.count(counts[0]) > best_rows:
            best, best_rows = candidate, counts.count(counts[0])
    return best


class _SampleSniffer(csv.Sniffer):
    """``has_header`` on a dialect already decided: csv.Sniffer's own ``sniff`` (superlinear) never runs."""

    def __init__(self, dialect: type[csv.Dialect]) -> None:
        super().__init__()
        self.dialect = dialect

    def sniff(self, sample: str, delimiters: str | None = None) -> type[csv.Dialect]:
        return self.dialect


def _csv_column(stream: io.TextIOWrapper, sample: str) -> tuple[str, Iterator[str]]:
    """The name of the review column and its cells, row by row (blank rows dropped)."""
    dialect = type("Upload", (_Dialect,), {"delimiter": _delimiter(sample)})
    rows = (row for row in csv.reader(stream, dialect) if row)
    header = next(rows, None)
    if header is None:
        raise BadFile("That file has no reviews in it.")
    lowered = [cell.strip().lower() for cell in header]
    named = next((lowered.index(name) for name in TEXT_COLUMNS if name in lowered), None)
    index = named if named is not None else 0
    if named is not None or _has_header(dialect, sample):
        column, first = header[index].strip() or "column 1", []
    else:
        column, first = "column 1", [header]

    def cells() -> Iterator[str]:
        found = False
        for row in itertools.chain(first, rows):
            found = True
            yield row[index] if index < len(row) else ""
        if not found:
            raise BadFile("That file has a header but no reviews under it.")

    return column, cells()


def _has_header(dialect: type[csv.Dialect], sample: str) -> bool:
    """csv's own guess (the first row's cells unlike the rows below), from the sample alone."""
    try:
        return _SampleSniffer(dialect).has_header(sample)
    except (csv.Error, StopIteration, ValueError):
        return False


def store_upload(connection: redis.Redis, name: str, data: bytes) -> str:
    """Keep an upload's bytes in Redis for one hour, unparsed; return the file id the score_file job carries."""
    file_id = uuid.uuid4().hex
    key = FILE_KEY.format(id=file_id)
    with connection.pipeline() as pipe:
        pipe.hset(key, mapping={"name": name, "data": gzip.compress(data, compresslevel=1)})
        pipe.expire(key, FILE_TTL_S)
        pipe.execute()
    return file_id


def load_upload(connection: redis.Redis, file_id: str) -> tuple[str, bytes]:
    """(file name, bytes) of the upload kept under ``file_id``; raises BadFile once it has expired."""
    name, data = connection.hmget(FILE_KEY.format(id=file_id), ["name", "data"])
    if name is None or data is None:
        raise BadFile("That file is no longer with me (files are kept an hour): send it again.")
    return name.decode(), gzip.decompress(data)


def drop_upload(connection: redis.Redis, file_id: str) -> None:
    """Forget the upload once its results are written: they hold its text column."""
    connection.delete(FILE_KEY.format(id=file_id))


# --- One file per user at a time ---------------------------------------------------------------

SLOT_KEY = "sentibot:file-slot:{owner}"  # owner: a hash of the user id (worker/feedback.py), never the id
STARTING = "starting"  # a slot taken before its job exists...
STARTING_TTL_S = 60  # ...for a minute at most (a bot that stopped right then does not block the user for long)


class FileInProgress(SentibotError):
    """The user already has a file being scored."""


def take_slot(connection: redis.Redis, owner: str, ended: Callable[[str], bool]) -> None:
    """Take ``owner``'s one file slot, or raise FileInProgress; a slot whose job has ``ended`` is free again."""
    key = SLOT_KEY.format(owner=owner)
    if connection.set(key, STARTING, nx=True, ex=STARTING_TTL_S):
        return
    holder = connection.get(key)
    if holder is not None and (holder.decode() == STARTING or not ended(holder.decode())):
        raise FileInProgress(
            "I'm still scoring your last file: you get its results first, then you can send the next one."
        )
    connection.set(key, STARTING, ex=STARTING_TTL_S)  # its job ended without the slot being freed (a bot restart)


def hold_slot(connection: redis.Redis, owner: str, job_id: str) -> None:
    """Name the job that holds ``owner``'s slot (so a slot outliving its job can be taken again)."""
    connection.set(SLOT_KEY.format(owner=owner), job_id, ex=FILE_TTL_S)


def free_slot(connection: redis.Redis, owner: str) -> None:
    """The file is answered: the user may send the next one."""
    connection.delete(SLOT_KEY.format(owner=owner))


def results_csv(reviews: Reviews, verdicts: list[dict | None]) -> bytes:
    """``row, label, score, <column>``: one line per row of the upload; skipped rows keep their place.

    The user's cells (the text column and its name) are made safe to open in a spreadsheet
    (worker/spreadsheet.py).
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "label", "score", safe_cell(reviews.column)])
    for row, (text, verdict) in enumerate(zip(reviews.texts, verdicts, strict=True), start=1):
        if verdict is None:
            writer.writerow([row, "skipped", "", safe_cell(text)])
        else:
            writer.writerow([row, verdict["label"], f"{verdict['score']:.4f}", safe_cell(text)])
    return out.getvalue().encode("utf-8")


def save_results(connection: redis.Redis, file_id: str, table: bytes, histogram: bytes) -> None:
    """Keep the result CSV and histogram an hour, for the bot or the CLI to fetch."""
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
