"""The layers: imports run one way, top to bottom, and the product never imports bench/ or tests/.

sentibot/   the root: the CLI, `up` and the processes it starts; may import everything below
bot/        chat: Telegram and the terminal
worker/     queue: jobs, workers, the registry, the client
model/      data, encoding, architectures, training, bundles
common/     ground: settings and errors; imports nothing above

Each top-level package is one layer, so a module's package names its layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"sentibot": "root", "bot": "bot", "worker": "worker", "model": "model", "common": "ground"}
RANK = {"root": 4, "bot": 3, "worker": 2, "model": 1, "ground": 0}


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to; None for third-party and standard modules."""
    top = module.split(".")[0]
    if top in ("bench", "tests"):
        return top
    return LAYERS.get(top)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, anywhere in it (functions too), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def product_files() -> list[Path]:
    return sorted(p for package in LAYERS for p in (ROOT / package).rglob("*.py"))


def wrong_way(path: Path, root: Path = ROOT) -> list[str]:
    """'file:line imports X' for each import that reaches a higher layer or bench/tests."""
    module = ".".join(path.relative_to(root).with_suffix("").parts)
    own = layer_of(module)
    problems = []
    for line, name in imports_of(path):
        target = layer_of(name)
        if target is None or own is None:
            continue
        if target in ("bench", "tests") or RANK[target] > RANK[own]:
            problems.append(f"{path.relative_to(root)}:{line} ({own}) imports {name} ({target})")
    return problems


def test_no_module_imports_a_higher_layer():
    """Walks every product module's imports with ast; names each one that runs upwards."""
    problems = [problem for path in product_files() for problem in wrong_way(path)]
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "module", "caught"),
    [
        ("from bot import replies\n", "model/x.py", True),
        ("def f():\n    from worker.client import score\n", "common/settings.py", True),
        ("from sentibot import processes\n", "bot/app.py", True),
        ("from sentibot.stack import up\n", "worker/run.py", True),
        ("import tests.conftest\n", "worker/x.py", True),
        ("from model.recipes import plan\n", "worker/x.py", False),
        ("from bot.terminal import run\n", "sentibot/stack.py", False),
        ("from common.settings import Settings\n", "worker/run.py", False),
        ("from common.settings import Settings\n", "worker/run.py", False),
    ],
)
def test_the_layer_check_catches_an_upward_import(tmp_path, source, module, caught):
    """The check itself can fail: an upward import in a lower layer is reported, a downward one is not."""
    path = tmp_path / module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    assert bool(wrong_way(path, root=tmp_path)) is caught


def test_bot_worker_and_model_import_nothing_from_the_root():
    """The root package (CLI, `up`, the processes it starts) is the top: nothing below names it."""
    below = [p for package in ("bot", "worker", "model", "common") for p in (ROOT / package).rglob("*.py")]
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in below
        for line, name in imports_of(path)
        if name.split(".")[0] == "sentibot"
    ]
    assert not found, "the root imported from below:\n" + "\n".join(found)
