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
from .imports import Graph, imports_of_source, in_any

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


def branch_lines(tree: ast.AST, in_view: bool = False) -> list[int]:
    """Lines that branch on a task or family: ``x.task == …``, ``family.name == …``, a model output picked by a
    literal variant name (``run.outputs["none"]``: a brought model may have no baseline), and outside a task's own
    view (``in_view``) ``isinstance(…, SomeTask)``."""
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
    if not in_view:  # a view may check that it was handed its own task
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "isinstance" and "Task" in ast.unparse(node):
                bad.append(node.lineno)
    return bad


@pytest.mark.parametrize("path", ASKING_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_page_or_flow_compares_a_task_or_family(path: Path):
    """No ``x.task == …``, ``family.name == …``, ``isinstance(…, SomeTask)`` outside the task's own view, and no
    model output picked by a literal variant name (``run.outputs["none"]``: a brought model may have no baseline)."""
    tree = ast.parse(path.read_text(), str(path))
    bad = branch_lines(tree, in_view=path.parent.name == "views")
    assert not bad, f"{path.name} lines {bad}"


def test_the_name_check_catches_a_branch():
    """The check itself can fail: a page that branches on the task's name is reported."""
    tree = ast.parse('if family.task.name == "segmentation":\n    pass\nshow(run.outputs["none"])\n')
    assert {text for _, text in _string_constants(tree)} & _names() == {"segmentation"}
    assert any(isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) for n in ast.walk(tree))


PLANTED_BRANCHES = {
    "if family.task == SEGMENTATION:\n    pass\n": [1],
    "x = 1\nshown = run.outputs['none']\n": [2],
    "if spec.family.name != 'x':\n    pass\n": [1],
    "if isinstance(family.task, SegmentationTask):\n    pass\n": [1],
}


@pytest.mark.parametrize("source", PLANTED_BRANCHES)
def test_the_branch_check_flags_a_planted_branch(source: str):
    """The checker itself can fail: each planted branch is reported on its own line."""
    assert branch_lines(ast.parse(source)) == PLANTED_BRANCHES[source]


def test_the_branch_check_passes_code_that_asks_the_task():
    """What pages do instead (ask the task, its view, the run's reference) is not flagged, and a view may check its
    own task's type."""
    asking = (
        "view = view_for(family.task)\n"
        "sections = view.outputs(run)\n"
        "reference = run.outputs[run.reference]\n"
        "if family.baseline in run.outputs:\n    pass\n"
    )
    assert branch_lines(ast.parse(asking)) == []
    own_type = "if not isinstance(task, SegmentationTask):\n    raise TypeError\n"
    assert branch_lines(ast.parse(own_type), in_view=True) == []
    assert branch_lines(ast.parse(own_type), in_view=False) == [1]


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


# ------------------------------------------------------------------------------------------------ the layer table
# ARCHITECTURE.md's layers, module by module. Every module of the package is in exactly one (checked below), so a
# new module has to be placed before its imports are checked.

LAYERS: dict[str, tuple[str, ...]] = {
    "core": (
        "scse_viz._torchvision",
        "scse_viz.attribution",
        "scse_viz.blocks",
        "scse_viz.bring",
        "scse_viz.capture",
        "scse_viz.color",
        "scse_viz.datasets",
        "scse_viz.degradation",
        "scse_viz.errors",
        "scse_viz.excitation",
        "scse_viz.families",
        "scse_viz.family",
        "scse_viz.geometry",
        "scse_viz.io",
        "scse_viz.memory",
        "scse_viz.metrics",
        "scse_viz.models",
        "scse_viz.noise",
        "scse_viz.novelty",
        "scse_viz.preprocess",
        "scse_viz.parallel",
        "scse_viz.progress",
        "scse_viz.sanity",
        "scse_viz.tasks",
        "scse_viz.teaching",
        "scse_viz.upsample",
        "scse_viz.zoo",
    ),
    "rendering": ("scse_viz.render",),
    "flows": (
        "scse_viz.batch",
        "scse_viz.compare_attribution",
        "scse_viz.explore",
        "scse_viz.export",
        "scse_viz.faithfulness",
        "scse_viz.gate_health",
        "scse_viz.samples",
        "scse_viz.shared_runs",
        "scse_viz.views",
        "scse_viz.volume_run",
    ),
    "pages": ("scse_viz.ui", "scse_viz.serve"),
    "training": ("scse_viz.data", "scse_viz.evaluate", "scse_viz.train"),
}
TORCH = ("torch", "torchvision", "timm", "segmentation_models_pytorch", "monai", "captum")
# What each layer must not reach, directly or through the package modules it imports (an import of the training
# layer is not allowed even late or guarded: test_no_module_below_training_imports_it_even_late_or_guarded).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": (*LAYERS["rendering"], *LAYERS["flows"], *LAYERS["pages"], *LAYERS["training"], "streamlit", "matplotlib"),
    "rendering": (*LAYERS["flows"], *LAYERS["pages"], *LAYERS["training"], "streamlit", *TORCH),
    "flows": (*LAYERS["pages"], *LAYERS["training"], "streamlit"),
    "pages": LAYERS["training"],
}
GRAPH = Graph(REPO_ROOT)


def _layer_of(module: str) -> str | None:
    found = [layer for layer, prefixes in LAYERS.items() if in_any(module, prefixes)]
    return found[0] if len(found) == 1 else None


def test_every_module_is_in_one_layer():
    unplaced = [m for m in GRAPH.modules if m != "scse_viz" and _layer_of(m) is None]
    assert not unplaced, f"place these in LAYERS (and ARCHITECTURE.md's table): {unplaced}"


CHECKED = [
    *((m, None) for m in sorted(GRAPH.modules) if _layer_of(m) in FORBIDDEN),
    *((str(p.relative_to(REPO_ROOT)), p) for p in [REPO_ROOT / "app.py", *sorted(REPO_ROOT.glob("pages/*.py"))]),
]


@pytest.mark.parametrize(("module", "path"), CHECKED, ids=[m for m, _ in CHECKED])
def test_each_layer_imports_only_what_lies_below_it(module: str, path: Path | None):
    """core: no rendering, flows, pages, training, streamlit or matplotlib; rendering: no torch (nor torchvision,
    timm, smp, MONAI, captum), no flows, pages or training; flows: no pages, training or streamlit; pages (``ui/``,
    ``pages/``, ``app.py``): no training code. Followed through every package module imported on the way."""
    layer = _layer_of(module) if path is None else "pages"
    reached = GRAPH.reached(module, path)
    bad = {target: chain for target, chain in reached.items() if in_any(target, FORBIDDEN[layer])}
    assert not bad, "\n".join(" -> ".join(chain) for chain in bad.values())


def test_the_import_walk_sees_a_planted_import_and_a_real_chain():
    """The import check itself can fail: a planted late import of the training code is read (and a guarded one is
    marked so), and the walk follows a real chain, geometry -> torch."""
    known = {"scse_viz.train", "scse_viz.train.parts"}
    planted = "def f():\n    from scse_viz.train import parts\n"
    (edge,) = imports_of_source(planted, "scse_viz.views.base", known=known)
    assert (edge.target, edge.late, edge.guarded) == ("scse_viz.train.parts", True, False)
    guarded = "def f():\n    try:\n        from .train import parts\n    except ImportError:\n        pass\n"
    (edge,) = imports_of_source(guarded, "scse_viz.batch", known=known)
    assert (edge.target, edge.guarded) == ("scse_viz.train.parts", True)
    assert "torch" in GRAPH.reached("scse_viz.geometry")
    assert "torch" not in GRAPH.reached("scse_viz.upsample")


def training_imports(source: str, module: str) -> list[int]:
    """Lines of ``source`` (the code of ``module``) that import the training layer: at the top, inside a function,
    behind ``except ImportError`` or not."""
    edges = imports_of_source(source, module, known=GRAPH.modules)
    return sorted(e.line for e in edges if in_any(e.target, LAYERS["training"]))


def test_no_module_below_training_imports_it_even_late_or_guarded():
    """No door from the app's layers into the training code, not even a late import behind ``except ImportError``:
    what the app needs of a family (its test set included, ``Family.test_images``) lies below it."""
    doors = sorted(
        (edge.source, edge.target, edge.line)
        for module in GRAPH.modules
        if _layer_of(module) in FORBIDDEN
        for edge in GRAPH.edges(module)
        if in_any(edge.target, LAYERS["training"])
    )
    assert doors == []


def test_the_batch_imports_no_training_code_anywhere():
    """``scse_viz.batch`` (the command and the Gate health page's runs) reads a family's test set from the family
    record: no import of ``scse_viz.data``, ``scse_viz.train`` or ``scse_viz.evaluate`` anywhere in it."""
    path = GRAPH.modules["scse_viz.batch"]
    assert training_imports(path.read_text(), "scse_viz.batch") == []


PLANTED_DOORS = {
    # the door the batch had: a late import guarded by ImportError
    "def f():\n    try:\n        from scse_viz.train.parts import parts_for\n    except ImportError:\n        pass\n": [
        3
    ],
    "def f():\n    from scse_viz.data.photo import dead_leaves\n": [2],  # late, unguarded
    "import numpy\nfrom .data import realhead\n": [2],  # relative, at the top
    "def f():\n    import scse_viz.evaluate\n    from scse_viz.datasets.photos import scikit_image_photo\n": [2],
}


@pytest.mark.parametrize("source", PLANTED_DOORS)
def test_the_training_import_check_flags_a_planted_import(source: str):
    """The batch's check itself can fail: each planted import of the training layer is reported on its line, and
    the datasets below the app (``scse_viz.datasets``, not ``scse_viz.data``) are not."""
    assert training_imports(source, "scse_viz.batch") == PLANTED_DOORS[source]


# A string naming a module of a higher layer is an import waiting to happen (``importlib.import_module(task.view)``):
# the higher layer registers what it adds instead.
HIGHER: dict[str, tuple[str, ...]] = {
    "core": FORBIDDEN["core"],
    "rendering": (*LAYERS["flows"], *LAYERS["pages"], *LAYERS["training"]),
    "flows": (*LAYERS["pages"], *LAYERS["training"]),
}


def upper_names(tree: ast.AST, higher: tuple[str, ...]) -> list[tuple[int, str]]:
    """String literals (not docstrings) that name a module of ``higher``."""
    return [(line, text) for line, text in _string_constants(tree) if in_any(text, higher)]


@pytest.mark.parametrize("module", [m for m in sorted(GRAPH.modules) if _layer_of(m) in HIGHER])
def test_no_lower_layer_names_an_upper_one_in_a_string(module: str):
    tree = ast.parse(GRAPH.modules[module].read_text())
    assert not upper_names(tree, HIGHER[_layer_of(module)])


def test_the_string_check_flags_a_planted_module_name():
    planted = 'class T:\n    """Drawn by scse_viz.views.x."""\n    view = "scse_viz.views.segmentation"\n'
    assert upper_names(ast.parse(planted), HIGHER["core"]) == [(3, "scse_viz.views.segmentation")]


# ------------------------------------------------------------------------------------------------ without training

NO_TRAINING = """
import importlib.abc, pkgutil, sys

class NoTraining(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[:2] in (["scse_viz", "train"], ["scse_viz", "data"]) or name == "scse_viz.evaluate":
            raise ImportError(f"{name}: the training code is not installed here")
        return None

sys.meta_path.insert(0, NoTraining())
import numpy as np
import scse_viz
from scse_viz import batch, explore, zoo
from scse_viz.views import view_for

for family in zoo.list_families():
    pixels = np.random.default_rng(0).random((48, 56)).astype(np.float32)
    image = explore.InputImage("noise.png", pixels, "noise", pixels.shape)
    if family.degradation is not None:
        from scse_viz.degradation import NoiseSetting
        image = explore.degraded_input(image, NoiseSetting())
    run = explore.run_family(family, zoo.models_of(family), image)
    assert set(run.outputs) == set(family.variants), family.name
    assert view_for(family.task).outputs(run), family.name
    assert family.test_images is not None, family.name
photo = zoo.family("photo")
items = list(batch.test_items(photo, None, {"chelsea"}))
assert [item.name for item in items] == ["astronaut", "coffee", "rocket", "motorcycle"], items
assert all(item.pixels.ndim == 3 and 0 <= item.pixels.min() <= item.pixels.max() <= 1 for item in items)
import scse_viz.ui
for module in pkgutil.iter_modules(scse_viz.ui.__path__):
    importlib.import_module(f"scse_viz.ui.{module.name}")
print("ran", sorted(zoo.FAMILIES), "and imported", len(list(pkgutil.iter_modules(scse_viz.ui.__path__))), "ui modules")
assert not [m for m in sys.modules if m.split(".")[:2] in (["scse_viz", "train"], ["scse_viz", "data"])]
"""


@pytest.mark.slow
def test_the_app_s_path_runs_without_the_training_code():
    """With ``scse_viz.train``, ``scse_viz.data`` and ``scse_viz.evaluate`` made unimportable, every shipped family
    loads all its models and runs through ``explore`` and its task's view, every ``ui`` module imports, every family
    has its test set, and the batch reads the photo family's (the skip set honoured)."""
    done = subprocess.run(
        [sys.executable, "-c", NO_TRAINING], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ran ['brain', 'fashion', 'photo']" in done.stdout


# ------------------------------------------------------------------------------------------ what an entry script loads first
def _first_torch_before_scse_viz(source: str) -> int | None:
    """The line of the first module-level import of torch (or a library that loads it) that comes before the first
    ``import scse_viz`` of a script, or None. scse_viz must come first: it makes torchvision importable and, in the
    app, lets torch's OpenMP threads sleep, which is decided once, when torch loads."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            roots = {name.split(".")[0] for name in names}
            if "scse_viz" in roots:
                return None
            if roots & set(TORCH):
                return node.lineno
    return None


@pytest.mark.parametrize("path", [REPO_ROOT / "app.py", *sorted(REPO_ROOT.glob("pages/*.py"))], ids=lambda p: p.name)
def test_every_entry_script_imports_scse_viz_before_torch(path: Path):
    line = _first_torch_before_scse_viz(path.read_text())
    assert line is None, f"{path.name}:{line} imports torch before scse_viz"


def test_the_import_order_check_flags_torch_first():
    assert _first_torch_before_scse_viz("import streamlit as st\nimport torch\n\nimport scse_viz\n") == 2
    assert _first_torch_before_scse_viz("from torchvision import models\nimport scse_viz\n") == 1
    assert _first_torch_before_scse_viz("import streamlit as st\n\nimport scse_viz\nimport torch\n") is None
