"""The sidebar form for bringing your own model, and the session's brought families.

A brought model lives in this session only (``st.session_state``: freed when the session ends, never seen by
another one), keyed by the hash of its files; at most ``KEPT_MODELS`` are kept, the oldest dropped first. Loading
happens only on the button, and a failure is one message: what was loaded before stays.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from scse_viz import bring
from scse_viz.errors import ScseVizError
from scse_viz.family import Family
from scse_viz.ui.state import keep, recall

BROUGHT = "scse_brought"  # family name -> Family
KEPT_MODELS = 2
MODEL_TYPES = ["zip", "json", "safetensors", "pt", "pth", "bin"]
LIMIT_TEXT = f"up to {bring.files.MAX_FILE_BYTES >> 20} MB a file"


def brought_families() -> list[Family]:
    return list(st.session_state.get(BROUGHT, {}).values())


def brought(name: str) -> Family | None:
    return recall(BROUGHT, name)


def _files(uploads: list[Any] | None) -> dict[str, bytes]:
    return {upload.name: upload.getvalue() for upload in uploads or []}


def _spec(where: Any) -> bring.InputSpec | None:
    """The person's own input settings, or None for the model's defaults."""
    if not where.toggle(
        "Set the input myself",
        key="bring-own-spec",
        help="By default the model's own configuration decides (shown once loaded).",
    ):
        return None
    channels = where.radio(
        "Input channels",
        [3, 1],
        horizontal=True,
        key="bring-channels",
        format_func=lambda c: "colour (3)" if c == 3 else "gray (1)",
    )
    size = int(where.number_input("Input size (square side, px)", 8, 2048, 256, step=32, key="bring-size"))
    default = "0.485, 0.456, 0.406" if channels == 3 else "0"
    mean = where.text_input("Mean per channel", default, key=f"bring-mean-{channels}")
    std = where.text_input(
        "Standard deviation per channel", "0.229, 0.224, 0.225" if channels == 3 else "1", key=f"bring-std-{channels}"
    )
    try:
        return bring.InputSpec(
            channels, size, tuple(float(v) for v in mean.split(",")), tuple(float(v) for v in std.split(","))
        )
    except ValueError as error:
        raise ScseVizError(f"mean and standard deviation must be numbers separated by commas ({error})") from error


def bring_form(where: Any = st.sidebar) -> Family | None:
    """Upload controls and the Load button; the family just loaded (or None: nothing loaded, or a message shown)."""
    where.caption(
        "A segmentation_models_pytorch `save_pretrained` folder (zip it, or upload config.json with "
        "model.safetensors), or a state_dict (.safetensors, .pt) with its architecture named. Nothing is "
        f"downloaded and nothing in the files runs; {LIMIT_TEXT}."
    )
    files = where.file_uploader("Model files", type=MODEL_TYPES, accept_multiple_files=True, key="bring-files")
    architecture = where.text_input(
        "Architecture (for weights alone)",
        key="bring-arch",
        placeholder="timm:seresnet18 · torchvision:mobilenet_v3_small · scse_viz:brain",
    )
    names = where.text_area("Class names (optional: one per line, or a JSON list)", key="bring-classes", height=80)
    baseline = where.file_uploader(
        "Baseline to compare with (optional, same kind of files)",
        type=MODEL_TYPES,
        accept_multiple_files=True,
        key="bring-baseline",
    )
    try:
        spec = _spec(where)
    except ScseVizError as error:
        where.error(str(error))
        return None
    if not where.button("Load the model", type="primary", disabled=not files, key="bring-load"):
        return None
    try:
        with st.spinner("Reading and checking the model…"):
            family = bring.load_user_model(
                _files(files),
                architecture.strip() or None,
                class_names=names or None,
                spec=spec,
                baseline=_files(baseline) or None,
            )
    except ScseVizError as error:
        where.error(f"The model could not be loaded: {error}")
        return None
    keep(BROUGHT, family.name, family, KEPT_MODELS)
    return family
