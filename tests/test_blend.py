"""The default, `blend`: nbsvm and MiniLM in one bundle, mixed by a rule chosen on dev data.

The rule is plain numpy (tested on made-up logits); the training runs the real code on the generated
reviews with MiniLM at a tiny size (2 layers, width 32, random weights), so it takes seconds.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest

from model import architectures, bundle, minilm, recipes
from model.blend import BlendRule, DevScores, accuracy, best_weight, choose_rule, sure_logit
from model.errors import BundleCorrupt
from model.explain import explain, without
from model.pipeline import train_from
from model.predict import BlendPredictor, predictor_for
from tests.factories import recorded_progress, tar_of

TINY = minilm.BertConfig(layers=2, hidden=32, heads=2, intermediate=64, max_positions=512)


def test_each_kind_of_text_gets_the_weight_its_dev_set_prefers():
    """nbsvm is right on the long dev reviews, MiniLM on the short ones: each length gets the part that is."""
    labels = np.array([1, 0] * 50)
    truth = np.where(labels == 1, 2.0, -2.0)
    short = DevScores(nbsvm=-truth, minilm=truth, labels=labels)  # nbsvm always wrong on one-liners
    long = DevScores(nbsvm=truth, minilm=-0.5 * truth, labels=labels)  # MiniLM wrong on reviews
    rule = choose_rule(short, long)
    assert rule.short_weight > 0.5 > rule.long_weight
    assert accuracy(rule.mix(short.nbsvm, short.minilm, np.zeros(100)), labels) == 1.0
    assert accuracy(rule.mix(long.nbsvm, long.minilm, np.full(100, 500)), labels) == 1.0


def test_the_sure_threshold_gives_up_not_even_one_dev_review_for_speed():
    """A threshold that lets nbsvm lose one held-out review in a thousand is not taken: the next one up is."""
    labels = np.array([1, 0] * 500)
    sign = np.where(labels == 1, 1.0, -1.0)
    nb = np.full(1000, 3.0) * sign  # sure and right ...
    nb[0] = -2.0 * sign[0]  # ... but one sure and wrong, which mixing with MiniLM puts right
    nb[1:100] = -0.2 * sign[1:100]  # and unsure and wrong, which mixing puts right too
    dev = DevScores(nb, 4.0 * sign, labels)
    assert sure_logit(dev, weight=0.5) == 3.0
    assert sure_logit(dev, weight=0.5, cost=0.002) == 2.0


def test_nbsvm_decides_a_long_text_alone_only_where_that_costs_no_dev_accuracy():
    """Where nbsvm is sure (|logit| >= 3) it is right; where it hesitates MiniLM is needed: the threshold
    lands between, so MiniLM reads the hesitant half and nothing is lost."""
    labels = np.array([1, 0] * 50)
    sign = np.where(labels == 1, 1.0, -1.0)
    nb = np.where(np.arange(100) < 50, 3.0 * sign, -0.2 * sign)  # sure and right, then unsure and wrong
    ml = 1.0 * sign
    dev = DevScores(nb, ml, labels)
    threshold = sure_logit(dev, weight=0.5)
    assert 0.2 < threshold <= 3.0
    rule = BlendRule(short_weight=0.5, long_weight=0.5, sure_logit=threshold)
    needed = rule.needs_minilm(nb, np.full(100, 300))
    assert needed.sum() == 50 and not needed[:50].any()
    assert rule.needs_minilm(nb, np.full(100, 20)).all()  # a short text always reads MiniLM
    mixed = rule.mix(nb, np.where(needed, ml, np.nan), np.full(100, 300))
    assert accuracy(mixed, labels) == 1.0
    hopeless = DevScores(-nb, ml, labels)  # nbsvm sure and wrong: never alone
    assert math.isinf(sure_logit(hopeless, weight=best_weight(hopeless)))


def test_a_rule_round_trips_through_json_even_when_nbsvm_is_never_alone():
    rule = BlendRule(0.45, 0.3)
    assert BlendRule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule
    assert rule.to_dict()["sure_logit"] is None


def test_a_word_is_left_out_of_the_text_whatever_its_case_and_only_whole():
    assert without("Not bad, NOT bad; nothing not-bad", "not") == "  bad,   bad; nothing  -bad"
    assert without("I don't like it, don", "don't") == "I   like it, don"


@pytest.fixture(scope="module")
def blend_run(imdb_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A blend trained on the generated reviews, MiniLM built tiny from random weights and samples small
    enough for seconds; with what it reported."""
    with pytest.MonkeyPatch.context() as patch:
        tiny = functools.partial(architectures.build_minilm, config=TINY, pretrained=False)
        patch.setattr(architectures, "build_minilm", tiny)
        small = {"review_sample": 64, "sentence_sample": 192, "epochs": 2, "epochs_per_pass": 2}
        small |= {"validation_sample": 64, "test_sample": 200}
        for name in ("minilm", "blend"):
            patch.setitem(recipes.RECIPES, name, dataclasses.replace(recipes.RECIPES[name], **small))
        progress = recorded_progress()
        trained = train_from(imdb_dir, tmp_path_factory.mktemp("cache"), recipes.plan("blend"), progress)
        yield trained, progress


@pytest.mark.slow
def test_the_blend_trains_both_parts_chooses_its_mix_on_dev_data_and_serves_as_one_bundle(blend_run, tmp_path: Path):
    """nbsvm is heard as stages, MiniLM's parts as the blend's epochs; one bundle file serves both parts,
    scoring as training measured it; Why? names the words that moved the blend."""
    trained, progress = blend_run
    outcome = trained.outcome
    assert [r.epoch for r in progress.epochs] == [1, 2]  # MiniLM's two parts; nbsvm's epochs are stages
    assert any(s.startswith("nbsvm part: epoch 2/2") for s in progress.stages)
    assert any(s.startswith("choosing the mix on 100 held-out reviews") for s in progress.stages)
    assert outcome.dev == {"reviews": 100, "short": outcome.dev["short"]} and outcome.dev["short"] > 100
    assert outcome.test_reviews == 200 and outcome.test_accuracy > 0.8  # nbsvm alone learns the cue words
    assert outcome.parts["nbsvm"].test_reviews == 1_000 and outcome.parts["minilm"].test_accuracy is None
    made = trained.bundle()
    path = bundle.save(made, tmp_path / "bundles")
    assert path.stat().st_size < 150e6
    meta = bundle.read_meta(path.read_bytes())
    assert meta["arch"] == "blend" and meta["parts"] == ["nbsvm", "minilm"]
    assert set(meta["part_summaries"]) == {"nbsvm", "minilm"} and meta["rule"] == outcome.rule.to_dict()
    served = predictor_for(bundle.load(path))
    assert isinstance(served, BlendPredictor) and served.version == meta["version"]
    verdicts = served.predict(["A wonderful superb film.", "An awful boring mess."])
    assert [v.label for v in verdicts] == ["positive", "negative"]
    many = served.predict_many(["A wonderful superb film.", "An awful boring mess."] * 3, on_batch=None)
    assert [v.score for v in many] == pytest.approx([v.score for v in verdicts] * 3, abs=1e-5)
    words = [effect.word for effect in explain(served, "the plot was superb and touching")]
    assert {"superb", "touching"} & set(words[:2])


@pytest.mark.slow
def test_a_long_review_nbsvm_is_sure_of_never_reaches_minilm(blend_run):
    """With the threshold at 0, long texts are nbsvm's alone (score = nbsvm's); short ones still mix."""
    trained, _ = blend_run
    made = trained.bundle()
    made.meta = {**made.meta, "rule": BlendRule(1.0, 1.0, sure_logit=0.0).to_dict()}  # MiniLM only, unless sure
    served = BlendPredictor(made)
    long_review = "wonderful superb film " * 60
    assert served.predict([long_review])[0].score == pytest.approx(served.nbsvm.predict([long_review])[0].score, 1e-5)
    short = "wonderful superb film"
    assert served.predict([short])[0].score == pytest.approx(served.minilm.predict([short])[0].score, abs=1e-5)
    files = []
    served.predict_many([long_review, short], on_batch=lambda done, seconds: files.append(done))
    assert files[-1] == 2  # every row counted once: the long one as decided by nbsvm, the short one by MiniLM


@pytest.mark.slow
def test_a_blend_whose_part_was_altered_is_refused(blend_run):
    trained, _ = blend_run
    data = bundle.to_bytes(trained.bundle())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        parts = {m.name: tar.extractfile(m).read() for m in tar}
    parts["parts/minilm.sentibot"] = parts["parts/minilm.sentibot"][:-100]
    with pytest.raises(BundleCorrupt, match="checksum"):
        bundle.from_bytes(tar_of(parts))


@pytest.mark.parametrize("which", ["missing", "not a blend"])
def test_the_rule_bench_answers_a_bad_bundle_with_a_sentence(which, bundle_path: Path, tmp_path: Path):
    """`bench/blend_rules.py` on a file that is not there, or on a single model's bundle: one sentence, no traceback."""
    import subprocess
    import sys

    model = tmp_path / "nothing.sentibot" if which == "missing" else bundle_path
    script = Path(__file__).resolve().parents[1] / "bench" / "blend_rules.py"
    done = subprocess.run(
        [sys.executable, str(script), "--model", str(model), "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    expected = "No model bundle at" if which == "missing" else "bundle, not a blend"
    assert expected in done.stderr.strip().splitlines()[-1]  # its last words (TensorFlow's start-up lines may precede)
