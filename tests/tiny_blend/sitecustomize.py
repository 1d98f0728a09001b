"""Tests only: every Python process started with this folder on PYTHONPATH trains the `blend` small.

`sentibot up` starts its workers as child processes, so a test cannot patch them in its own process;
Python imports ``sitecustomize`` at start-up from the path, and this one patches two modules when
(and only if) they are first imported:

- ``model.architectures``: `minilm` is built tiny (2 layers, width 32) from random weights;
- ``model.recipes``: `minilm` and `blend` read small samples, so the blend trains in seconds;
- ``model.blend_train``: with TINY_BLEND_HOLD set, the blend's training waits until that file exists
  (or it is asked to stop), so a test can act while the default trains in the background.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.abc
import importlib.machinery
import os
import sys
import time
from pathlib import Path

SMALL = {
    "review_sample": 64,
    "sentence_sample": 192,
    "epochs": 2,
    "epochs_per_pass": 2,
    "validation_sample": 64,
    "test_sample": 200,
}


def _recipes(module) -> None:
    for name in ("minilm", "blend"):
        module.RECIPES[name] = dataclasses.replace(module.RECIPES[name], **SMALL)


def _architectures(module) -> None:
    from model import minilm

    tiny = minilm.BertConfig(layers=2, hidden=32, heads=2, intermediate=64, max_positions=512)
    module.build_minilm = functools.partial(module.build_minilm, config=tiny, pretrained=False)


def _blend_train(module) -> None:
    hold = os.environ.get("TINY_BLEND_HOLD")
    if not hold:
        return
    trained = module.train_blend

    def held(source, cache_dir, plan, progress=None, *args, **kwargs):
        while not Path(hold).exists() and not (progress is not None and progress.should_stop()):
            time.sleep(0.2)
        return trained(source, cache_dir, plan, progress, *args, **kwargs)

    module.train_blend = held


PATCHES = {"model.recipes": _recipes, "model.architectures": _architectures, "model.blend_train": _blend_train}


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Finds the patched modules the usual way, then runs the patch right after the module's own code."""

    def find_spec(self, name, path, target=None):
        if name not in PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module) -> None:
            run(module)
            PATCHES[name](module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _PatchAfterImport())
