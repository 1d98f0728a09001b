"""Training: per-epoch reports, cooperative cancel, reproducibility, the chart."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest

from model import batches, callbacks, schedule, train
from model.chart import history_chart
from model.recipes import plan
from tests.factories import TINY_EPOCHS, recorded_progress

pytestmark = pytest.mark.slow  # every test here trains a model or starts processes


def test_training_learns_the_generated_reviews(trained):
    """The tutorial model beats chance clearly on the held-out split and records every epoch."""
    assert trained.test_accuracy > 0.9
    assert set(trained.history) >= {"accuracy", "val_accuracy", "loss", "val_loss"}
    assert all(len(values) == TINY_EPOCHS for values in trained.history.values())


def test_every_epoch_is_reported_to_the_callback(tiny_data):
    """The caller's listener gets epoch i/N with all four metrics and seconds."""
    progress = recorded_progress()
    train.train(tiny_data, plan("tutorial", 2, 64), progress=progress)
    reports = progress.epochs
    assert [(r.epoch, r.epochs) for r in reports] == [(1, 2), (2, 2)]
    assert all(0 <= r.accuracy <= 1 and 0 <= r.val_accuracy <= 1 and r.loss > 0 and r.seconds > 0 for r in reports)


def test_stop_request_ends_the_run_cleanly_as_cancelled(tiny_data, monkeypatch):
    """A stop request between batches ends fit; the run says cancelled and skips evaluation."""
    monkeypatch.setattr(callbacks, "STOP_POLL_S", 0.0)
    progress = recorded_progress(stop=True)
    outcome = train.train(tiny_data, plan("tutorial", 50, 8), progress=progress)
    assert outcome.cancelled
    assert outcome.test_accuracy is None
    assert progress.epochs == [] and outcome.history.get("val_accuracy", []) == []


def test_same_seed_gives_the_same_accuracy(tiny_data):
    """Two seeded runs agree within half a point."""
    first = train.train(tiny_data, plan("tutorial", 1, 64), seed=5)
    second = train.train(tiny_data, plan("tutorial", 1, 64), seed=5)
    assert abs(first.test_accuracy - second.test_accuracy) <= 0.005


def test_serving_path_keeps_pre_padding(trained, tiny_data, imdb_dir):
    """Served texts are padded at the front; post-padding them drops the model to chance."""
    from model.data import read_aclimdb

    raw = read_aclimdb(imdb_dir)
    labels = np.asarray(raw.test_labels)
    served = tiny_data.encoder.encode(raw.test_texts)
    pre = ((trained.model.predict_on_batch(served)[:, 0] >= 0.5) == labels).mean()
    ids = [tiny_data.encoder.ids(text) for text in raw.test_texts]
    post = np.zeros_like(served)
    for row, seq in enumerate(ids):
        post[row, : len(seq)] = seq
    post_accuracy = ((trained.model.predict_on_batch(post)[:, 0] >= 0.5) == labels).mean()
    assert pre > 0.9
    assert post_accuracy < 0.7


def test_chart_is_a_png_with_two_panels(trained):
    """The chart decodes as a PNG wide enough for two side-by-side panels."""
    import matplotlib.image

    png = history_chart(trained.history, title="test")
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.shape[1] > image.shape[0] * 2


def test_fasttext_learns_the_reviews_and_their_sentences(fasttext_data, fasttext_bundle):
    """Trained on reviews plus single sentences, the bag model gets the test reviews and one-liners right."""
    from model.predict import Predictor

    assert fasttext_bundle.meta["hyperparameters"]["sentence_examples"] == len(fasttext_data.y_sentences) > 0
    assert fasttext_bundle.meta["test_accuracy"] >= 0.9
    assert fasttext_bundle.encoder == fasttext_data.encoder  # the bag layout travels with the bundle
    predictor = Predictor(fasttext_bundle)
    labels = [p.label for p in predictor.predict(["a superb and touching film", "dull and boring"])]
    assert labels == ["positive", "negative"]


def test_recipe_defaults_fill_in_epochs_and_batch_size(tiny_data):
    """No epochs or batch size given: the architecture's recipe decides."""
    outcome = train.train(tiny_data, plan("pooled"), seed=2)
    assert (outcome.epochs, outcome.batch_size) == (5, 128)
    assert len(outcome.history["accuracy"]) == 5


def test_bundles_hold_weights_not_optimizer_state(trained, tiny_data):
    """Keras saves Adam's two moments with a compiled model; a serving bundle leaves them out."""
    from model import bundle

    size = len(bundle.to_bytes(train.make_bundle(trained, tiny_data)))
    weights = trained.model.count_params() * 4
    assert weights < size < 1.5 * weights


def test_mixed_width_batches_cover_every_example_once_per_epoch():
    """Reviews and sentences keep their own widths; each epoch visits every row once, widths first."""
    import numpy as np

    reviews = (np.arange(50 * 6).reshape(50, 6) + 1, np.zeros(50, "int32"))
    sentences = (np.arange(30 * 2).reshape(30, 2) + 1000, np.ones(30, "int32"))
    served = batches.MixedWidthBatches([reviews, sentences], batch_size=8, seed=3)
    for _ in range(2):
        shapes = [served[i][0].shape[1] for i in range(len(served))]
        assert shapes[:2] == [6, 2] and sorted(set(shapes)) == [2, 6]
        rows = np.concatenate([served[i][0][:, 0] for i in range(len(served))])
        assert sorted(rows) == sorted(list(reviews[0][:, 0]) + list(sentences[0][:, 0]))
        served.on_epoch_end()


def test_held_out_rows_are_never_in_the_sample_trained_on():
    """Calibration reads training rows the recipe's sample left out: disjoint, and the same every run."""
    import numpy as np

    x = np.arange(1000).reshape(1000, 1)
    y = np.arange(1000) % 2
    chosen = set(batches.sample(x, y, 300)[0][:, 0])
    left = batches.held_out(x, y, 300, 200)[0][:, 0]
    assert len(left) == 200 and not chosen & set(left)
    assert list(left) == list(batches.held_out(x, y, 300, 200)[0][:, 0])
    assert len(batches.held_out(x, y, 0, 200)[0]) == 0  # trained on everything: nothing is held out


def test_feedback_examples_teach_with_their_weight_and_are_scored_apart(tiny_data, monkeypatch):
    """Users' examples move the model, and by their weight: "a boring film" taught as positive scores
    higher after a run that weighs the feedback 3 than after the same seeded run that weighs it 0; the
    run reports the accuracy on those examples apart, as the model scores them."""

    taught = (["a boring film"] * 200, [1] * 200)
    scored = {}
    for weight in (0.0, train.FEEDBACK_WEIGHT):
        monkeypatch.setattr(train, "FEEDBACK_WEIGHT", weight)
        outcome = train.train(tiny_data, plan("tutorial", 2, 64), seed=4, feedback=taught)
        rows = tiny_data.encoder.encode(taught[0][:1])
        scored[weight] = float(batches.scores(outcome.model, rows, trim=False)[0])
        assert outcome.feedback["examples"] == 200 and outcome.feedback["weight"] == weight
        assert outcome.feedback["accuracy"] == float(scored[weight] >= 0.5)  # all 200 are the same text
    assert scored[train.FEEDBACK_WEIGHT] > scored[0.0] + 0.2  # measured: 0.49 unweighted, 0.80 weighted


def test_serving_divides_the_logits_by_the_bundle_temperature(trained, tiny_data):
    """A temperature of 2 softens every score towards 50% and changes no verdict."""
    import numpy as np

    from model.predict import Predictor

    plain = train.make_bundle(trained, tiny_data)
    plain.meta["temperature"] = 1.0
    soft = train.make_bundle(trained, tiny_data)
    soft.meta["temperature"] = 2.0
    texts = ["a superb touching film", "an awful boring mess", "fine"]
    raw = np.array([p.score for p in Predictor(plain).predict(texts)])
    softened = np.array([p.score for p in Predictor(soft).predict(texts)])
    assert np.all(np.abs(softened - 0.5) <= np.abs(raw - 0.5) + 1e-9)
    assert np.array_equal(raw >= 0.5, softened >= 0.5)
    logit = np.log(raw / (1 - raw))
    np.testing.assert_allclose(softened, 1 / (1 + np.exp(-logit / 2)), atol=1e-5)


def test_a_long_epoch_reports_how_far_it_has_got(tiny_data, monkeypatch):
    """Between epochs, (epoch, batches done, batches) at most every BATCH_REPORT_S: chat moves each minute."""
    monkeypatch.setattr(callbacks, "BATCH_REPORT_S", 0.0)
    progress = recorded_progress()
    train.train(tiny_data, plan("tutorial", 2, 256), progress=progress)
    reports = progress.batches
    assert progress.stages == [  # the fit begins; the minutes after the last epoch move too: the test, then calibration
        "training",
        "testing on 1,000 test reviews",
        "testing: 512/1,000 test reviews",
        "testing: 1,000/1,000 test reviews",
        "calibrating and scoring the short dev split",
    ]
    steps = -(-len(tiny_data.y_train) // 256)
    assert reports[0] == (1, 1, steps) and reports[-1] == (2, steps, steps)
    assert len(reports) == 2 * steps


def test_the_learning_rate_warms_up_then_falls_to_zero(tiny_data):
    """The schedule: up over the first 10% of steps, then linearly down to 0 at the last step."""
    import keras

    model = train.build_model("tutorial", tiny_data)
    seen = []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    steps = -(-len(tiny_data.y_train) // 100)
    schedule.decay_to_zero(model, 2 * steps)
    model.fit(
        tiny_data.x_train,
        tiny_data.y_train,
        batch_size=100,
        epochs=2,
        verbose=0,
        callbacks=[Watch()],
    )
    peak = max(seen)
    assert peak == pytest.approx(0.001)
    assert seen[0] < peak and seen.index(peak) <= 2  # warm-up: 10% of 20 steps
    assert seen[-1] < peak / 10 and all(a >= b for a, b in itertools.pairwise(seen[2:]))


def test_the_device_decides_the_recipes_sizes():
    """One place reads the device: here (no GPU) minilm keeps its CPU sample; with a GPU it reads all the
    sentences and reviews and tests on the whole split. Recipes without GPU sizes are the same anywhere."""
    from model import device, recipes

    assert device.gpu_available() is False  # this machine, and CI's
    assert device.training_recipe("minilm") == recipes.recipe("minilm")
    on_gpu = device.training_recipe("minilm", gpu=True)
    assert (on_gpu.review_sample, on_gpu.sentence_sample, on_gpu.test_sample) == (0, 0, 0)
    assert on_gpu.validation_sample == 1_000 and on_gpu.epochs_per_pass == recipes.recipe("minilm").epochs_per_pass
    assert device.training_recipe("nbsvm", gpu=True) == recipes.recipe("nbsvm")
    assert on_gpu.part_name(1, recipes.plan("minilm")) == "part 1 of 8 of one pass over every sentence and every review"


def test_the_default_is_tested_on_enough_reviews_to_tell_half_a_point():
    """The blend scores 10,000 reviews in about a minute, so its final test is that many: near 0.92 the
    95% interval is ±0.6 points or less (±1.2 on minilm's 2,000), and on a GPU it reads the whole split."""
    from model import device, intervals, recipes

    low, high = intervals.interval95(0.92, recipes.recipe("blend").test_sample)
    assert (high - low) / 2 <= 0.006
    assert device.training_recipe("blend", gpu=True).test_sample == 0
