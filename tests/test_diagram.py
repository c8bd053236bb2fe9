"""The landing page's scSE schematic draws the block as the paper defines it (Roy et al., 2018): read back from the
figure, its boxes, labels, colours and arrows form the block's graph.

x → global pool → 1×1 conv (C→C/r) → ReLU → 1×1 conv (C/r→C) → sigmoid (w) → x·w ─┐
x → 1×1 conv (C→1) → sigmoid (q) → x·q ─────────────────────────────────────────────┴→ x·w + x·q
"""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib.colors import to_hex
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

import scse_viz  # noqa: F401
from scse_viz.render.diagram import CSE_COLOR, SSE_COLOR, scse_diagram_figure

# every box by a word of its label, and the block's edges (11: seven along the cSE path, four along the sSE path)
CSE_PATH = ["x\n", "global avg pool", "C → C/r", "ReLU", "C/r → C", "w: C×1×1", "x · w", "x·w + x·q"]
SSE_PATH = ["x\n", "C → 1", "q: 1×H×W", "x · q", "x·w + x·q"]
EDGES = {(a, b) for path in (CSE_PATH, SSE_PATH) for a, b in itertools.pairwise(path)}
BRANCH_COLOR = {**dict.fromkeys(CSE_PATH[1:-1], CSE_COLOR), **dict.fromkeys(SSE_PATH[1:-1], SSE_COLOR)}
TOUCH = 0.12  # how far (data units) an arrow's end may stop short of its box: the drawing leaves small gaps


def _boxes(ax) -> dict[str, tuple[float, float, float, float, str]]:
    """Label key -> (left, right, bottom, top, edge colour) of each rounded box, matched to the text at its centre."""
    found = {}
    for patch in (p for p in ax.patches if isinstance(p, FancyBboxPatch)):
        left, bottom = patch.get_x(), patch.get_y()
        right, top = left + patch.get_width(), bottom + patch.get_height()
        inside = [
            t.get_text() for t in ax.texts if left < t.get_position()[0] < right and bottom < t.get_position()[1] < top
        ]
        assert len(inside) == 1, inside
        key = next(k for k in CSE_PATH + SSE_PATH if k in inside[0] or inside[0].startswith(k))
        assert key not in found, key
        found[key] = (left, right, bottom, top, to_hex(patch.get_edgecolor()))
    return found


def _touching(point: np.ndarray, boxes: dict, side: str) -> str:
    """The box whose left (arrow ends) or right (arrow starts) side the point lies on."""
    hits = [
        key
        for key, (left, right, bottom, top, _) in boxes.items()
        if abs(point[0] - (right if side == "right" else left)) <= TOUCH and bottom <= point[1] <= top
    ]
    assert len(hits) == 1, (point, side, hits)
    return hits[0]


def test_the_diagram_is_the_scse_blocks_graph() -> None:
    fig = scse_diagram_figure()
    (ax,) = fig.axes
    boxes = _boxes(ax)
    assert set(boxes) == set(CSE_PATH) | set(SSE_PATH)  # 11 boxes, each labelled once
    assert len(boxes) == 11
    for key, colour in BRANCH_COLOR.items():
        assert boxes[key][4] == to_hex(colour), key  # the cSE path red, the sSE path blue
    # cSE above the input, sSE below it, in the order of the paths
    for path, above in ((CSE_PATH, True), (SSE_PATH, False)):
        centres = [((boxes[k][0] + boxes[k][1]) / 2, (boxes[k][2] + boxes[k][3]) / 2) for k in path[1:-1]]
        assert all((y > 0) == above for _, y in centres)
        assert [x for x, _ in centres] == sorted(x for x, _ in centres)
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    drawn = set()
    for arrow in arrows:
        path = arrow.get_path()  # the line and its head, in data coordinates
        vertices = path.vertices if path.codes is None else path.vertices[path.codes != path.CLOSEPOLY]
        start = vertices[0]
        tip = vertices[np.argmax(np.linalg.norm(vertices - start, axis=1))]
        drawn.add((_touching(start, boxes, "right"), _touching(tip, boxes, "left")))
    assert len(arrows) == len(EDGES) == 11
    assert drawn == EDGES
    # the gates' shapes and the branch titles
    texts = " ".join(t.get_text() for t in ax.texts)
    for words in ("C×H×W", "w: C×1×1", "q: 1×H×W", "one weight per channel", "one weight per pixel"):
        assert words in texts, words
