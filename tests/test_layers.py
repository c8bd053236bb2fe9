"""The code's shape, enforced: pages and flows never branch on a task's or family's name, and loading a shipped
model needs no training code. (Issue: "one home for what differs per task".)"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from scse_viz import zoo

from .conftest import REPO_ROOT

# The app's pages and flows, and the commands that look their per-family parts up instead of branching.
ASKING_FILES = sorted(
    {
        *REPO_ROOT.glob("pages/*.py"),
        REPO_ROOT / "app.py",
        *REPO_ROOT.glob("scse_viz/ui/*.py"),
        *REPO_ROOT.glob("scse_viz/views/*.py"),
        *REPO_ROOT.glob("scse_viz/compare_attribution/*.py"),
        *REPO_ROOT.glob("scse_viz/teaching/*.py"),
        *REPO_ROOT.glob("scse_viz/attribution/*.py"),
        REPO_ROOT / "scse_viz/explore.py",
        REPO_ROOT / "scse_viz/export.py",
        REPO_ROOT / "scse_viz/evaluate.py",
        REPO_ROOT / "scse_viz/batch.py",
        REPO_ROOT / "scse_viz/volume_run.py",
        REPO_ROOT / "scse_viz/gate_health.py",
        REPO_ROOT / "scse_viz/degradation.py",
        REPO_ROOT / "scse_viz/train/__main__.py",
        REPO_ROOT / "scse_viz/train/ship.py",
        REPO_ROOT / "scse_viz/train/card.py",
        REPO_ROOT / "scse_viz/train/samples/__init__.py",
    }
)


def _names() -> set[str]:
    """Every family's name and every task's name."""
    return {name for family in zoo.list_families() for name in (family.name, family.task.name)}


def _string_constants(tree: ast.AST) -> list[tuple[int, str]]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_the_checked_files_exist():
    assert len(ASKING_FILES) > 30 and all(path.is_file() for path in ASKING_FILES)
    assert {"app.py", "1_Explore.py", "2_Attribution.py", "explore.py", "ship.py"} <= {p.name for p in ASKING_FILES}


@pytest.mark.parametrize("path", ASKING_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_page_or_flow_names_a_family_or_task(path: Path):
    """A string literal equal to a family's or a task's name (``"brain"``, ``"segmentation"``) in these files is a
    branch or a lookup by name waiting to happen: they ask the family record and its task."""
    tree = ast.parse(path.read_text(), str(path))
    names = _names()
    found = [(line, text) for line, text in _string_constants(tree) if text in names]
    assert not found, f"{path.name} names {found}"


@pytest.mark.parametrize("path", ASKING_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_page_or_flow_compares_a_task_or_family(path: Path):
    """No ``x.task == …``, ``family.name == …``, ``isinstance(…, SomeTask)`` outside the task's own view, and no
    model output picked by a literal variant name (``run.outputs["none"]``: a brought model may have no baseline)."""
    tree = ast.parse(path.read_text(), str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("outputs"):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                bad.append(node.lineno)
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Attribute) and side.attr == "task":
                    bad.append(node.lineno)
                if isinstance(side, ast.Attribute) and side.attr == "name" and "family" in ast.unparse(side.value):
                    bad.append(node.lineno)
    if path.parent.name != "views":  # a view may check that it was handed its own task
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "isinstance" and "Task" in ast.unparse(node):
                bad.append(node.lineno)
    assert not bad, f"{path.name} lines {bad}"


def test_the_name_check_catches_a_branch():
    """The check itself can fail: a page that branches on the task's name is reported."""
    tree = ast.parse('if family.task.name == "segmentation":\n    pass\nshow(run.outputs["none"])\n')
    assert {text for _, text in _string_constants(tree)} & _names() == {"segmentation"}
    assert any(isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) for n in ast.walk(tree))


def test_loading_a_shipped_model_imports_no_training_code():
    code = (
        "import sys; from scse_viz import zoo; "
        "[zoo.load_model(f.name, v) for f in zoo.list_families() for v in f.variants]; "
        "loaded = sorted(m for m in sys.modules if m.startswith('scse_viz.train')); print(loaded); "
        "assert not loaded, loaded"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_pages_layer_is_the_only_one_importing_streamlit():
    """core, rendering and flows import without streamlit: nothing below ``scse_viz.ui`` imports it."""
    offenders = []
    for path in REPO_ROOT.glob("scse_viz/**/*.py"):
        if "ui" in path.relative_to(REPO_ROOT / "scse_viz").parts:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            if any(m.split(".")[0] == "streamlit" or m.startswith("scse_viz.ui") for m in modules):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert not offenders
