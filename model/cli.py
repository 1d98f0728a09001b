"""`sentibot train | predict | decode`: the model package from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common.settings import Settings
from model import recipes
from model.native_logs import load_tensorflow
from model.recipes import ARCHITECTURE_NAMES


def positive_int(low: int, high: int):
    """An argparse type accepting whole numbers in [low, high] with a clear message otherwise."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range ({low}–{high})")
        return value

    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the model commands to the top-level parser."""
    train = subparsers.add_parser("train", help="train a model on IMDB and save it as a bundle")
    train.add_argument("--data", help="aclImdb folder or .tar.gz, or 'keras' (default: IMDB_DATA, else keras)")
    train.add_argument("--arch", help=f"one of {', '.join(ARCHITECTURE_NAMES)} (default: DEFAULT_ARCH)")
    train.add_argument("--epochs", type=positive_int(*recipes.LIMITS["epochs"]), help="default: the architecture's")
    train.add_argument(
        "--batch-size", type=positive_int(*recipes.LIMITS["batch_size"]), help="default: the architecture's"
    )
    train.add_argument(
        "--sentences",
        action=argparse.BooleanOptionalAction,
        help="also train on every 3–40-word sentence of the training reviews (default: the architecture's)",
    )
    train.add_argument(
        "--feedback",
        type=Path,
        metavar="CSV",
        help="also train on users' 👍/👎 examples: a CSV from `sentibot feedback export` (columns text, label)",
    )
    train.add_argument("--seed", type=positive_int(0, 2**31 - 1), default=1337)
    train.add_argument("--out", type=Path, help="directory for the bundle (default: SENTIBOT_HOME/bundles)")
    train.add_argument("--json", action="store_true", help="end with one JSON line describing the run")
    train.set_defaults(handler=run_train)

    predict = subparsers.add_parser("predict", help="score reviews locally with a bundle")
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    predict.add_argument("--file", type=Path, help="score each line of this file")
    predict.add_argument(
        "--model", type=Path, help="bundle file, or a directory for its newest bundle (default: SENTIBOT_HOME/bundles)"
    )
    predict.add_argument("--explain", action="store_true", help="also list the words that moved the score most")
    predict.set_defaults(handler=run_predict)

    decode = subparsers.add_parser("decode", help="show a review as the model sees it")
    decode.add_argument("index", type=positive_int(0, 10**7), metavar="INDEX")
    decode.add_argument("--data", help="aclImdb folder or .tar.gz (default: IMDB_DATA)")
    decode.add_argument("--split", choices=("train", "test"), default="test")
    decode.set_defaults(handler=run_decode)


def _epoch_table(history: dict[str, list[float]]) -> str:
    lines = ["epoch  accuracy  val_accuracy  loss    val_loss"]
    for i, acc in enumerate(history.get("accuracy", [])):
        lines.append(
            f"{i + 1:>5}  {acc:8.4f}  {history['val_accuracy'][i]:12.4f}  "
            f"{history['loss'][i]:6.4f}  {history['val_loss'][i]:8.4f}"
        )
    return "\n".join(lines)


def run_train(args: argparse.Namespace, settings: Settings) -> int:
    """Load data, train, evaluate, save bundle and chart; print a summary."""
    load_tensorflow()
    from model import bundle
    from model.chart import history_chart
    from model.pipeline import train_from

    arch = args.arch or settings.default_arch
    plan = recipes.plan(arch, args.epochs, args.batch_size, args.sentences)  # fail before reading the data
    taught = read_labelled_csv(args.feedback) if args.feedback else None
    started = time.perf_counter()
    data_path = args.data if args.data is not None else settings.imdb_data
    verbose = 1 if sys.stdout.isatty() else 2
    trained = train_from(data_path, settings.cache_dir, plan, seed=args.seed, verbose=verbose, feedback=taught)
    outcome = trained.outcome
    print(f"Trained on {trained.loaded}.")
    made = trained.bundle()
    path = bundle.save(made, args.out or settings.bundle_dir)
    chart_path = path.with_suffix(".png")
    chart_path.write_bytes(history_chart(outcome.history, title=f"{arch} · {made.version}"))
    total = time.perf_counter() - started
    print(_epoch_table(outcome.history))
    print(
        f"Test accuracy: {outcome.test_accuracy:.4f} on {outcome.test_reviews:,} test reviews "
        f"({outcome.params:,} parameters, {total:.1f} s)"
    )
    if outcome.short_dev_accuracy is not None:
        print(f"One-sentence reviews (dev split): {outcome.short_dev_accuracy:.4f}")
    for name, part in made.meta.get("part_summaries", {}).items():
        print(f"Part {name}: {json.dumps(part)}")
    if "rule" in made.meta:
        print(f"Mix: {json.dumps(made.meta['rule'])}; MiniLM read {made.meta['minilm_share']:.0%} of the test reviews")
    if outcome.feedback:
        taught_line = f"{outcome.feedback['examples']} feedback examples (weight {outcome.feedback['weight']:g})"
        print(f"Trained on {taught_line}: the new model agrees with {outcome.feedback['accuracy']:.2%} of them")
    print(f"Bundle: {path}\nChart:  {chart_path}")
    if args.json:
        summary = {
            "arch": arch,
            "version": made.version,
            "test_accuracy": outcome.test_accuracy,
            "test_loss": outcome.test_loss,
            "history": outcome.history,
            "params": outcome.params,
            "bundle": str(path),
            "chart": str(chart_path),
            "seconds": round(total, 3),
            "test_reviews": outcome.test_reviews,
            "sentence_examples": outcome.sentences,
            "fit_seconds": outcome.seconds["fit"],
            "short_dev_accuracy": outcome.short_dev_accuracy,
            "feedback": outcome.feedback,
            **{
                key: made.meta[key]
                for key in ("calibration", "part_summaries", "rule", "minilm_share")
                if key in made.meta
            },
        }
        print(json.dumps(summary))
    return 0


def _read_inputs(args: argparse.Namespace) -> list[str]:
    from model.errors import ModelError

    if args.file is not None:
        try:
            return args.file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            raise ModelError(f"Could not read {args.file}: {exc.strerror}.") from None
    if not args.texts:
        raise ModelError("Give reviews to score as arguments, or --file PATH with one review per line.")
    return list(args.texts)


def run_predict(args: argparse.Namespace, settings: Settings) -> int:
    """Score texts with a local bundle, one JSON object per input."""
    load_tensorflow()
    texts = _read_inputs(args)
    from model import bundle
    from model.predict import predictor_for

    path = bundle.resolve(args.model) if args.model else bundle.newest(settings.bundle_dir)
    predictor = predictor_for(bundle.load(path))
    for text, prediction in zip(texts, predictor.predict(texts), strict=True):
        row = {"text": text[:80], **prediction.to_dict(), "model": predictor.version}
        if args.explain:
            from model.explain import explain

            row["why"] = [w.to_dict() for w in explain(predictor, text)]
        print(json.dumps(row, ensure_ascii=False))
    return 0


def run_decode(args: argparse.Namespace, settings: Settings) -> int:
    """Print one review's ids decoded back to words, with its label."""
    from model.data import load_imdb
    from model.errors import ModelError

    source = args.data if args.data is not None else settings.imdb_data
    data = load_imdb(source, settings.cache_dir, recipes.recipe("tutorial"))  # the tutorial's ids, as it decodes them
    x, y = (data.x_train, data.y_train) if args.split == "train" else (data.x_test, data.y_test)
    if args.index >= len(y):
        raise ModelError(f"The {args.split} split has {len(y)} reviews; INDEX must be below that.")
    ids = [int(i) for i in x[args.index] if i != 0]
    print(f"label: {'positive' if y[args.index] else 'negative'}")
    print(data.encoder.decode(ids))
    return 0


def read_labelled_csv(path: Path) -> tuple[list[str], list[int]]:
    """Texts and labels (1 positive) from a CSV with columns text and label (positive/negative)."""
    import csv

    from model.errors import DatasetInvalid

    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetInvalid(f"Could not read {path} as a UTF-8 CSV ({type(exc).__name__}).") from None
    texts, labels = [], []
    for number, row in enumerate(rows, start=2):
        text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip().lower()
        if not text or label not in ("positive", "negative"):
            raise DatasetInvalid(f"{path}, row {number}: needs a text and a label of positive or negative.")
        texts.append(text)
        labels.append(int(label == "positive"))
    return texts, labels
