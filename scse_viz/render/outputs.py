"""What the model predicted: segmentation masks over the image, class probabilities, and mask comparisons.

Masks are drawn pixel-aligned with nearest interpolation; class 0 (background) is transparent so the image shows
through, and every legend lists only the classes that actually occur.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from scse_viz.render.export import new_figure
from scse_viz.render.geometry import pixel_extent, show_image

MASK_ALPHA = 0.5
SMALL_PALETTE = "tab10"  # up to 10 foreground classes
LARGE_PALETTE = "tab20"
DIFF_COLOR = "#ff00ff"
DIFF_ALPHA = 0.75
PROB_COLOR = "#4c72b0"
PROB_TOP_K = 5


def class_colors(n_classes: int, colors: Sequence[Any] | None = None) -> np.ndarray:
    """RGBA (n_classes × 4) per class; class 0 is fully transparent. Default: tab10 (tab20 for more classes)."""
    if colors is not None:
        if len(colors) < n_classes:
            raise ValueError(f"{len(colors)} colours given for {n_classes} classes")
        rgba = np.array([to_rgba(c) for c in colors[:n_classes]])
    else:
        palette = colormaps[SMALL_PALETTE if n_classes <= 11 else LARGE_PALETTE].colors
        rgba = np.array([(0, 0, 0, 0)] + [to_rgba(palette[(k - 1) % len(palette)]) for k in range(1, n_classes)])
    rgba[0] = (0.0, 0.0, 0.0, 0.0)
    return rgba


def _check_mask(mask: np.ndarray, shape: tuple[int, int], n_classes: int) -> np.ndarray:
    m = np.asarray(mask)
    if not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f"a mask must hold integer class indices, got dtype {m.dtype}")
    if m.shape != shape:
        raise ValueError(f"mask shape {m.shape} does not match the image's {shape}")
    if m.size and (m.min() < 0 or m.max() >= n_classes):
        raise ValueError(f"mask values must lie in 0..{n_classes - 1}")
    return m


def _draw_mask(ax: Any, mask: np.ndarray, rgba: np.ndarray, alpha: float) -> None:
    layer = rgba[mask].copy()
    layer[..., 3] *= alpha
    h, w = mask.shape
    ax.imshow(layer, interpolation="nearest", origin="upper", extent=pixel_extent(h, w))


def _legend_handles(present: np.ndarray, class_names: Sequence[str], rgba: np.ndarray) -> list[Patch]:
    handles = [Patch(color=rgba[k], label=class_names[k]) for k in present if k != 0]
    return handles or [Patch(facecolor="none", edgecolor="0.5", label=f"only {class_names[0]}")]


def mask_overlay_figure(
    image: np.ndarray,
    mask: np.ndarray,
    class_names: list[str],
    colors: list | None = None,
    alpha: float = MASK_ALPHA,
    title: str = "",
) -> Figure:
    """The image with its predicted mask on top and a legend of the classes present."""
    rgba = class_colors(len(class_names), colors)
    fig = new_figure((6.0, 5.0))
    ax = fig.add_subplot()
    h, w = show_image(ax, image)
    m = _check_mask(mask, (h, w), len(class_names))
    _draw_mask(ax, m, rgba, alpha)
    ax.legend(
        handles=_legend_handles(np.unique(m), class_names, rgba),
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
    )
    ax.set_title(title or "predicted mask")
    return fig


def class_probability_figure(
    probs: np.ndarray, class_names: list[str], top_k: int = PROB_TOP_K, title: str = ""
) -> Figure:
    """Horizontal bars of the ``top_k`` most probable classes, highest on top, each value printed."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 1 or p.size != len(class_names):
        raise ValueError(f"expected {len(class_names)} probabilities, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("probabilities must lie in [0, 1] (apply softmax/sigmoid first)")
    order = np.argsort(-p, kind="stable")[: max(1, top_k)]
    fig = new_figure((6.0, 1.0 + 0.45 * len(order)))
    ax = fig.add_subplot()
    bars = ax.barh(np.arange(len(order)), p[order], color=PROB_COLOR)
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in p[order]], padding=3, fontsize=8)
    ax.set_yticks(np.arange(len(order)), [class_names[k] for k in order])
    ax.invert_yaxis()  # first (highest) bar on top
    ax.set_xlim(0.0, 1.1)
    ax.set_xlabel("probability")
    ax.set_title(title or f"top {len(order)} of {p.size} classes")
    return fig


def side_by_side_figure(
    image: np.ndarray,
    panels: list[tuple[str, np.ndarray]],
    class_names: list[str],
    colors: list | None = None,
    alpha: float = MASK_ALPHA,
) -> Figure:
    """Several models' masks for one image, one panel each, with a single legend shared by all panels."""
    if not panels:
        raise ValueError("side_by_side_figure needs at least one panel")
    rgba = class_colors(len(class_names), colors)
    fig = new_figure((4.0 * len(panels), 4.6))
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    present: set[int] = set()
    for ax, (name, mask) in zip(axes, panels):
        h, w = show_image(ax, image)
        m = _check_mask(mask, (h, w), len(class_names))
        _draw_mask(ax, m, rgba, alpha)
        present.update(int(k) for k in np.unique(m))
        ax.set_title(name, fontsize=10)
    handles = _legend_handles(np.array(sorted(present)), class_names, rgba)
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6), fontsize=8)
    return fig


def difference_map_figure(
    image: np.ndarray, mask_a: np.ndarray, mask_b: np.ndarray, title: str = "", labels: tuple[str, str] = ("A", "B")
) -> Figure:
    """Pixels where two masks disagree, highlighted over the image, with their count in the title."""
    fig = new_figure((6.0, 5.0))
    ax = fig.add_subplot()
    h, w = show_image(ax, image)
    a, b = np.asarray(mask_a), np.asarray(mask_b)
    if a.shape != (h, w) or b.shape != (h, w):
        raise ValueError(f"mask shapes {a.shape} and {b.shape} must both match the image's {(h, w)}")
    differ = a != b
    layer = np.zeros((h, w, 4))
    layer[differ] = to_rgba(DIFF_COLOR, DIFF_ALPHA)
    ax.imshow(layer, interpolation="nearest", origin="upper", extent=pixel_extent(h, w))
    n = int(differ.sum())
    label = f"{labels[0]} ≠ {labels[1]}"
    ax.legend(handles=[Patch(color=DIFF_COLOR, label=label)], loc="upper left", bbox_to_anchor=(1.01, 1.0))
    head = f"{title}\n" if title else ""
    ax.set_title(f"{head}{label}: {n} of {h * w} pixels ({100.0 * n / (h * w):.1f} %)")
    return fig
