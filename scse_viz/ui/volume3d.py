"""The Explore page's 3-D tab: one model over every slice of the volume the input came from, three orthogonal
planes with the task's map and a block's sSE map, and the maps as NIfTI files aligned with the scan.

The run happens once per (family, volume, model, axis) on a button press and is kept for the session; a run that
is interrupted (the person changes something mid-way, Streamlit stops the script) keeps nothing half-done.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import streamlit as st

from scse_viz import explore, volume_run
from scse_viz.family import Family
from scse_viz.io import ORIENTATIONS, Volume
from scse_viz.render import colormaps, raster
from scse_viz.ui.models import family_models
from scse_viz.ui.pictures import show_colorbar, show_tiles
from scse_viz.ui.state import keep, recall
from scse_viz.views import view_for

KEPT = "scse_volume_runs"
GATE_CMAP = colormaps.LEVEL  # one fixed scale, q from 0 to 1, for every slice, plane and model


def _volume_key(source: explore.SliceOf) -> str:
    v = source.volume
    digest = hashlib.sha1(np.ascontiguousarray(v.data[::4, ::4, ::4]).tobytes())
    digest.update(f"{v.name}{v.shape}{np.asarray(v.affine).tobytes()}".encode())
    return digest.hexdigest()[:16]


TAB = "Whole volume (3-D)"
STAY = "scse_volume_tab_open"  # set by the run button: the page opens on this tab again after its rerun


def _stay() -> None:
    st.session_state[STAY] = True


def default_tab() -> str | None:
    """The tab the Explore page should open on: this one right after its run button was pressed."""
    return TAB if st.session_state.pop(STAY, False) else None


def volume_tab(family: Family, image: explore.InputImage) -> None:
    """Controls, the run on every slice, the three planes and the NIfTI downloads."""
    source = image.volume
    if source is None:
        st.info(
            "The input is a single picture. Upload a volume (NIfTI, or DICOM: a multi-frame file or a zipped "
            "series) to run a model over every slice and see the result in three planes."
        )
        return
    volume = source.volume
    controls, view = st.columns([1, 3])
    variant = controls.selectbox(
        "Model", family.variants, index=len(family.variants) - 1, format_func=family.label, key="vol-model"
    )
    orientation = controls.radio(
        "Run along", ORIENTATIONS, index=ORIENTATIONS.index(source.orientation), horizontal=True, key="vol-axis"
    )
    key = (family.name, _volume_key(source), variant, orientation)
    result: volume_run.VolumeResult | None = recall(KEPT, key)
    count = volume.shape[volume_run.SLICE_AXIS[orientation]]
    if result is None:
        controls.caption(
            f"{count} {orientation} slices of {volume.name}, each through the same path as the slice on the other tabs."
        )
        if not controls.button(f"Run on all {count} slices", type="primary", key="vol-run", on_click=_stay):
            view.info(
                "Press the button to run the model over the whole volume (a progress bar shows how far it "
                "is; the result is kept for this session)."
            )
            return
        bar = view.progress(0.0, text="starting…")
        try:
            result = volume_run.run_volume(
                family,
                family_models(family)[variant],
                variant,
                volume,
                orientation,
                progress=lambda f, text: bar.progress(f, text=text),
            )
        finally:
            bar.empty()
        keep(KEPT, key, result, 8)
    _planes(family, result, volume, controls, view)


def _planes(family: Family, result: volume_run.VolumeResult, volume: Volume, controls: Any, view: Any) -> None:
    x, y, z = (
        controls.slider(f"{axis} (voxel)", 0, n - 1, n // 2, key=f"vol-{axis}") for axis, n in zip("XYZ", volume.shape)
    )
    blocks = ["none", *result.gates]
    block = controls.selectbox(
        "sSE map of block", blocks, index=len(blocks) - 1 if result.gates else 0, key="vol-block"
    )
    alpha = controls.slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="vol-alpha")
    at = {"sagittal": x, "coronal": y, "axial": z}
    pictures, captions = [], []
    for orientation in ORIENTATIONS:
        base = explore.input_from_volume(volume, orientation, at[orientation], max_side=10_000).gray()
        maps = {name: volume_run.plane(data, orientation, at[orientation]) for name, data in result.outputs.items()}
        picture = view_for(family.task).plane_picture(family.task, base, maps)
        if block != "none":
            q = volume_run.plane(result.gates[block], orientation, at[orientation])
            picture = raster.overlay(picture, q, GATE_CMAP, alpha, 0.0, 1.0)
        pictures.append(np.asarray(picture))
        captions.append(f"{orientation} {at[orientation]}")
    with view:
        st.markdown(
            f"**{result.label}** run along {result.orientation} on {result.slices} slices in "
            f"{result.seconds:.1f} s"
            + (
                f"; sSE map of {block} on {GATE_CMAP}, q from 0 to 1 (one scale for every slice, plane and model)"
                if block != "none"
                else ""
            )
        )
        show_tiles(st, list(zip(captions, pictures)), 300)
        if block != "none":
            show_colorbar(st, GATE_CMAP, 0.0, 1.0, f"sSE gate q of {block}: 0 shuts, 1 opens")
        st.markdown(
            "**Download as NIfTI** (the volume's own affine: opens aligned with the scan in ITK-SNAP or 3D Slicer)"
        )
        stem = f"scse-lens_{family.name}_{result.variant}_{result.orientation}"
        files = {
            **{f"{stem}_{name}.nii.gz": (name, data) for name, data in result.outputs.items()},
            **{f"{stem}_sse_{label}.nii.gz": (f"sSE q {label}", data) for label, data in result.gates.items()},
        }
        columns = st.columns(4)
        for number, (file, (title, data)) in enumerate(files.items()):
            columns[number % 4].download_button(
                title,
                data=lambda d=data, t=title: volume_run.nifti_bytes(d, result.affine, t),
                file_name=file,
                mime="application/gzip",
                key=f"vol-dl-{file}",
                on_click="ignore",
            )
