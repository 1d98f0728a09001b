"""Whole files of reviews: reading uploads, one job per file, and the bot's and the CLI's answers."""

from __future__ import annotations

import csv
import io
import json

import pytest

from worker.files import MAX_BYTES, BadFile, check_upload, read_reviews


def texts_of(name: str, content: str | bytes, max_rows: int = 1000) -> list[str]:
    data = content.encode() if isinstance(content, str) else content
    return read_reviews(name, data, max_rows).texts


# --- reading uploads (no Redis) -------------------------------------------------------------------


def test_a_text_file_is_one_review_per_line_with_or_without_bom():
    assert texts_of("r.txt", "loved it\nhated it\n") == ["loved it", "hated it"]
    assert texts_of("r.TXT", "\ufeffloved it\r\nhated it") == ["loved it", "hated it"]


def test_a_csv_takes_the_text_or_review_column_else_the_first():
    """Header detection and delimiter sniffing with the standard csv module."""
    assert texts_of("r.csv", 'id,review,stars\n1,loved it,5\n2,"hated it, truly",1\n') == [
        "loved it",
        "hated it, truly",
    ]
    assert read_reviews("r.csv", b"id;Text\n1;great\n2;awful\n", 10).texts == ["great", "awful"]
    assert read_reviews("r.csv", b"id;Text\n1;great\n", 10).column == "Text"
    no_header = texts_of("r.csv", "a wonderful film,5\nawful acting,1\n")
    assert no_header == ["a wonderful film", "awful acting"]


def test_empty_and_overlong_rows_are_skipped_and_counted_but_keep_their_place():
    reviews = read_reviews("r.txt", ("great\n\n   \n" + "x" * 20_001 + "\nawful\n").encode(), 100)
    assert reviews.texts == ["great", "", "", "", "awful"]
    assert reviews.skipped == {"empty": 2, "too long": 1}


@pytest.mark.parametrize(
    ("name", "data", "sentence"),
    [
        ("r.pdf", b"%PDF-1.4", "I can score .txt files"),
        ("r.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("r.txt", b"\n  \n", "no reviews"),
        ("r.csv", b"", "no reviews"),
        ("r.csv", b"text\n", "header but no reviews"),
        ("r.txt", b"a\n" * 11, "11 rows; I score at most 10"),
    ],
)
def test_each_unusable_file_is_one_sentence(name, data, sentence):
    with pytest.raises(BadFile, match=sentence):
        read_reviews(name, data, max_rows=10)


def test_a_file_over_the_download_limit_is_refused_before_downloading():
    with pytest.raises(BadFile, match="over 20 MB"):
        check_upload("big.csv", MAX_BYTES + 1)
    check_upload("fine.csv", MAX_BYTES)


# --- one job per file, through a real worker --------------------------------------------------------


@pytest.mark.slow
def test_a_file_is_one_job_chunked_in_the_worker(connection, worker_settings, live_model):
    """3,000 rows: one job on the score queue (not 3,000), results CSV in row order, progress in its meta."""
    from tests.processes import run_burst
    from worker import client
    from worker.queues import SCORE, get_queue

    lines = ["a superb touching film" if i % 3 else "an awful boring mess" for i in range(3000)]
    reviews = read_reviews("r.txt", ("\n".join(lines[:1500]) + "\n\n" + "\n".join(lines[1500:])).encode(), 10_000)
    job = client.submit_file(connection, reviews)
    assert get_queue(connection, SCORE).count == 1
    stored = connection.hget(job.key, "data")
    assert b"superb" not in stored  # the job carries the key, not the reviews
    run_burst(connection, worker_settings)
    snapshot = client.file_snapshot(connection, job.id)
    assert snapshot.state == "finished" and snapshot.done == snapshot.total == 3000
    assert snapshot.result["scored"] == 3000 and snapshot.result["skipped"] == {"empty": 1}
    table, histogram = client.file_results(connection, snapshot.result["file_id"])
    rows = list(csv.DictReader(io.StringIO(table.decode())))
    assert [r["row"] for r in rows] == [str(i) for i in range(1, 3002)]
    assert rows[0] == {"row": "1", "label": "negative", "score": rows[0]["score"], "text": "an awful boring mess"}
    assert rows[1500]["label"] == "skipped"
    assert histogram[:4] == b"\x89PNG"


# --- the bot and the command line ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_bot_scores_a_document_and_keeps_chatting_meanwhile(connection, worker_settings, live_model, tmp_path):
    """A 3,000-row CSV: a progress message, then the results CSV, the summary and a histogram; a review sent
    meanwhile gets its verdict; a wrong file gets one sentence."""
    from tests.processes import TOKEN, bot_env, start_bot, start_worker, stop_process, wait_worker_ready
    from tests.telegram_standin import TelegramStandIn

    standin = TelegramStandIn(token=TOKEN).start()
    env = bot_env(
        tmp_path, worker_settings.redis_url, standin, TELEGRAM_FILE_URL=standin.api_url.replace("/bot", "/file/bot")
    )
    worker = start_worker(worker_settings, "score", "filer")
    bot = start_bot(env, tmp_path / "bot.log")
    try:
        wait_worker_ready(connection, "filer")
        standin.wait_for(lambda s: s.calls(method="setMyCommands"), timeout=30)
        rows = "\n".join(f"{i},{'a superb touching film' if i % 2 else 'an awful boring mess'}" for i in range(3000))
        standin.send_document(701, "survey.csv", ("id,review\n" + rows).encode())
        standin.send_text(702, "a superb touching film")
        assert standin.wait_text(702, "Positive").startswith("Positive")
        (document,) = standin.wait_for(lambda s: s.calls(701, "sendDocument"), timeout=60)
        assert "Scored 3,000 of 3,000 rows: 50% positive" in document.params["caption"]
        table = next(iter(document.files.values())).decode()
        assert table.splitlines()[0] == "row,label,score,review" and len(table.splitlines()) == 3001
        assert standin.wait_for(lambda s: s.calls(701, "sendPhoto"), timeout=10)
        assert any(t.startswith("Scoring your file") for t in standin.texts(701))
        standin.send_document(703, "notes.pdf", b"%PDF-1.4")
        assert "I can score .txt files" in standin.wait_text(703, ".csv")
        standin.send_document(704, "huge.csv", b"text\nx\n", declared_size=MAX_BYTES + 1)
        assert "over 20 MB" in standin.wait_text(704, "MB")
    finally:
        stop_process(bot)
        stop_process(worker)
        standin.stop()


@pytest.mark.slow
def test_sentibot_score_file_writes_the_results_csv(
    connection, worker_settings, live_model, tmp_path, monkeypatch, capsys
):
    """The same through the running service from the command line."""
    from sentibot.cli import main
    from tests.processes import start_worker, stop_process, wait_worker_ready

    monkeypatch.setenv("REDIS_URL", worker_settings.redis_url)
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("a superb touching film\n\nan awful boring mess\n")
    worker = start_worker(worker_settings, "score", "cli-filer")
    try:
        wait_worker_ready(connection, "cli-filer")
        assert main(["score", "--file", str(reviews)]) == 0
    finally:
        stop_process(worker)
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["scored"] == 2 and summary["positive"] == 1 and summary["skipped"] == {"empty": 1}
    out = (tmp_path / "reviews-scored.csv").read_text().splitlines()
    assert out[0] == "row,label,score,text" and out[2].startswith("2,skipped")
    assert main(["score", "--file", str(tmp_path / "missing.csv")]) == 1
    assert "Could not read" in capsys.readouterr().err


@pytest.mark.slow
def test_a_file_job_whose_rows_expired_fails_with_a_sentence(connection, worker_settings, live_model):
    """The rows are kept an hour: a job that finds them gone says so, and the CLI with nothing to score too."""
    from tests.processes import run_burst
    from worker import client
    from worker.errors import JobFailed
    from worker.queues import FILE_JOB, SCORE, get_queue

    job = get_queue(connection, SCORE).enqueue(FILE_JOB, kwargs={"file_id": "gone"})
    run_burst(connection, worker_settings)
    snapshot = client.file_snapshot(connection, job.id)
    assert snapshot.state == "failed" and "no longer with me" in snapshot.reason
    with pytest.raises(JobFailed, match="no longer with me"):
        client.wait_result(job, 2)


def test_sentibot_score_with_nothing_to_score_says_how(monkeypatch, capsys):
    from sentibot.cli import main

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert main(["score"]) == 1
    assert "Give reviews to score as arguments, or --file PATH" in capsys.readouterr().err
