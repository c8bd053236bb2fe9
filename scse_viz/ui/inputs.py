"""The sidebar every page shares: which model family, and which input (a bundled sample or an upload).

A bad upload never costs the person what they had: the error is shown once, in words, and the previous input (and
so its results) stays selected. Decoded files are memoised per session, so moving a slice slider does not decode
the volume again.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from scse_viz import explore, samples, zoo
from scse_viz.color import is_colour
from scse_viz.errors import ScseVizError, VolumeIndexRequiredError
from scse_viz.io import ORIENTATIONS, LoadedImage, Volume, load_any, slice_count, volume_slice
from scse_viz.io.images import DEFAULT_MIN_SIDE
from scse_viz.ui import links
from scse_viz.ui.brought import bring_form, brought, brought_families
from scse_viz.ui.degradations import controls_for
from scse_viz.ui.state import FAMILY, chosen_input, keep_input, memo

SAMPLE, UPLOAD, CAMERA = "Bundled sample", "Upload your own", "Camera"
# Asked of the camera (it picks its nearest mode). Without it Streamlit captures at the widget's size, about 240 px
# wide in the sidebar: less than the photo family's models take in.
CAMERA_RESOLUTION = "480p"


BRING = "bring your own"  # the family select's last option: the upload form


def _family_title(name: str) -> str:
    if name == BRING:
        return "＋ Your own model…"
    spec = brought(name)
    return spec.title if spec is not None else zoo.family(name).title


def choose_family() -> zoo.Family:
    """Sidebar select of the model family (shipped ones, models brought in this session, or the upload form); the
    choice is shared by every page of this session. While the upload form is open and nothing is loaded yet, the
    page says so and stops there."""
    names = [*zoo.FAMILIES, *(f.name for f in brought_families()), BRING]
    titles = [_family_title(n) for n in names]  # shown as they are (no format_func: the value is what is shown)
    ok, linked = links.from_url(
        "family",
        lambda raw: (raw in zoo.FAMILIES, raw, f"not a family shipped here; showing {_family_title(names[0])}"),
    )
    if ok:
        st.session_state[FAMILY] = linked
    current = st.session_state.get(FAMILY, names[0])
    index = names.index(current) if current in names else 0
    name = names[titles.index(st.sidebar.selectbox("Model family", titles, index=index))]
    links.write("family", name if name in zoo.FAMILIES else None, names[0])
    if name == BRING:
        loaded = bring_form(st.sidebar)
        if loaded is None:
            st.session_state[FAMILY] = BRING
            st.info(
                "Bring your own model: upload its files in the sidebar and press **Load the model**. Every page "
                "then runs on it like on the shipped families."
            )
            st.stop()
        name = loaded.name
        st.session_state[FAMILY] = name
        st.rerun()
    st.session_state[FAMILY] = name
    spec = brought(name)
    if spec is not None:
        st.sidebar.caption(
            f"Input: {spec.provenance.get('preprocessing', '')}. Outputs read as "
            f"{spec.task.name} over {len(spec.class_names)} classes."
        )
        return spec
    return zoo.family(name)


def _decode(data: bytes, name: str, volume_index: int | None) -> tuple[str, Any]:
    """("ok", LoadedImage | Volume) or ("error", message): memoised, including failures."""
    try:
        return "ok", load_any(data, name, volume_index=volume_index)
    except VolumeIndexRequiredError as error:
        return "needs-index", str(error)
    except ScseVizError as error:
        return "error", str(error)


def _volume_slice(volume: Volume, key: str, where: Any) -> explore.InputImage | None:
    """Orientation and slice controls for a volume (middle slice first). Orientations whose slices are thinner than
    an image may be are not offered; a volume of one slice gets no slider."""
    usable = [o for o in ORIENTATIONS if min(volume_slice(volume, o, 0).shape) >= DEFAULT_MIN_SIDE]
    if not usable:
        where.error(
            f"Every slice of {volume.name} ({'×'.join(map(str, volume.shape))} voxels) is thinner than "
            f"{DEFAULT_MIN_SIDE} pixels, so no slice can be shown."
        )
        return None
    if len(usable) < len(ORIENTATIONS):
        where.caption(
            f"{volume.name} is {'×'.join(map(str, volume.shape))} voxels: only "
            f"{' and '.join(usable)} slices are wide enough to show."
        )
    default = "axial" if "axial" in usable else usable[0]
    orientation = links.select(
        where,
        "Slice orientation",
        usable,
        index=usable.index(default),
        horizontal=True,
        key=f"{key}-o",
        param="orientation",
        kind="radio",
    )
    count = slice_count(volume, orientation)
    if count == 1:
        where.caption(f"One {orientation} slice.")
        index = 0
    else:
        index = links.slider(where, "Slice", 0, count - 1, count // 2, key=f"{key}-{orientation}-s", param="slice")
    return memo(("slice", key, orientation, index), lambda: explore.input_from_volume(volume, orientation, index))


def _from_sample(family: zoo.Family, where: Any, prefix: str) -> explore.InputImage | None:
    options = samples.list_samples(family.name)
    if not options:
        where.info("No samples are bundled for this family.")
        return None
    titles = [s.title for s in options]
    if prefix:  # a second input (Compare two images) stays out of the link
        sample = options[titles.index(where.selectbox("Sample", titles, key=f"{prefix}sample-{family.name}"))]
    else:
        sample = options[
            titles.index(
                links.select(
                    where,
                    "Sample",
                    titles,
                    key=f"sample-{family.name}",
                    param="sample",
                    names=[s.name for s in options],
                )
            )
        ]
    status, loaded = memo(
        ("sample", family.name, sample.name), lambda: _decode(samples.sample_bytes(sample), sample.path.name, None)
    )
    if status != "ok":  # a broken bundle is our bug, but it must not take the page down
        where.error(f"The sample {sample.title} could not be read: {loaded}")
        return None
    if isinstance(loaded, Volume):
        return _volume_slice(loaded, f"{prefix}sample-{sample.name}", where)
    truth = samples.sample_truth(sample)
    return memo(
        ("sample-input", family.name, sample.name),
        lambda: explore.input_from_image(loaded, truth=truth, max_side=_max_side(family)),
    )


def _max_side(family: zoo.Family) -> int:
    return family.max_side or explore.MAX_SIDE


CARRIED = "scse_carried"  # session key: family name -> (file name, decoded file) carried over by a switch


def _better_family(family: zoo.Family, loaded: Any) -> zoo.Family | None:
    """A shipped family that suits the decoded file when the chosen one clearly does not (None otherwise)."""
    if family.suits is None or family.suits(loaded):
        return None
    return next((f for f in zoo.list_families() if f is not family and f.suits is not None and f.suits(loaded)), None)


def _switch(target: str, name: str, loaded: Any, prefix: str) -> None:
    """Button callback: choose ``target`` and hand it the file just uploaded (the uploaders are per family)."""
    st.session_state[FAMILY] = target
    st.session_state.setdefault(CARRIED, {})[target] = (name, loaded)
    st.session_state[f"{prefix}source-{target}"] = UPLOAD


def _offer_switch(family: zoo.Family, name: str, loaded: Any, where: Any, prefix: str) -> None:
    better = _better_family(family, loaded)
    if better is None:
        return
    kind = "a volume" if isinstance(loaded, Volume) else "a colour photo" if is_colour(loaded.pixels) else "a picture"
    where.warning(
        f"**{name}** looks like {kind}, which the {family.title} models were not made for; the "
        f"{better.title} family fits it. The results below are the {family.title} models' on it."
    )
    where.button(
        f"Switch to {better.title}",
        key=f"{prefix}switch-{family.name}",
        on_click=_switch,
        args=(better.name, name, loaded, prefix),
        type="primary",
    )


def _from_upload(family: zoo.Family, where: Any, prefix: str) -> explore.InputImage | None:
    upload = where.file_uploader(
        "Image, NIfTI volume or DICOM",
        type=None,
        key=f"{prefix}upload-{family.name}",
        help="PNG, JPEG, TIFF (8/16-bit), BMP, WebP, GIF; a NIfTI volume (.nii, .nii.gz); DICOM: one file "
        "(single- or multi-frame) or a .zip of a series. Any file is taken: what it is is read from its content, and "
        "a file the app cannot read gets a message saying why. Of a DICOM header only the pixel data and its "
        "geometry, rescale and window are read; patient data is never read, shown or exported.",
    )
    if upload is None:
        carried = st.session_state.get(CARRIED, {}).get(family.name)
        if carried is None:
            _status(prefix, "no file uploaded yet")
            _ask_for_linked_file(prefix)
            return None
        return _from_decoded(family, *carried, f"{prefix}carried", where, prefix)
    if not prefix:
        links.write("file", upload.name, None)
    volume_index = st.session_state.get(f"{prefix}volume-index-{upload.file_id}")
    status, loaded = memo(
        ("upload", upload.file_id, volume_index), lambda: _decode(upload.getvalue(), upload.name, volume_index)
    )
    if status != "ok":
        _status(prefix, f"**{upload.name}** could not be read as it is (the sidebar says why)")
    if status == "needs-index":
        where.error(loaded)
        where.number_input(
            "Volume (4th dimension) to use", min_value=0, value=0, step=1, key=f"{prefix}volume-index-{upload.file_id}"
        )
        return None
    if status == "error":
        where.error(loaded)
        return None
    st.session_state.get(CARRIED, {}).pop(family.name, None)  # a new upload replaces a carried-over file
    _offer_switch(family, upload.name, loaded, where, prefix)
    return _from_decoded(family, upload.name, loaded, f"{prefix}upload-{upload.file_id}", where, prefix)


def _from_decoded(
    family: zoo.Family, name: str, loaded: Any, key: str, where: Any, prefix: str
) -> explore.InputImage | None:
    if key.startswith(f"{prefix}carried"):
        where.caption(f"Using **{name}**, carried over from the family chosen before.")
    if isinstance(loaded, Volume):
        return _volume_slice(loaded, key, where)
    assert isinstance(loaded, LoadedImage)
    return memo(
        ("upload-input", family.name, key, name), lambda: explore.input_from_image(loaded, max_side=_max_side(family))
    )


def _ask_for_linked_file(prefix: str) -> None:
    """A link made on an upload opens on the same view and asks for the file (files cannot travel in a URL)."""
    name = links.linked("file")
    if not prefix and name:
        links.note(
            "file",
            f"This link was made on an uploaded file, **{name}**: upload it in the sidebar to see "
            "the same view on it (files cannot travel in a link).",
        )


def _from_camera(family: zoo.Family, where: Any, prefix: str) -> explore.InputImage | None:
    """A picture from the device's camera, through the same path as an uploaded file."""
    shot = where.camera_input(
        "Take a picture",
        key=f"{prefix}camera-{family.name}",
        resolution=CAMERA_RESOLUTION,
        help="The browser asks for the camera once. The picture goes through the same path "
        "as an uploaded file; the photo family's denoisers fit it best.",
    )
    if shot is None:
        _status(prefix, "no picture taken yet")
        return None
    status, loaded = memo(("camera", shot.file_id), lambda: _decode(shot.getvalue(), shot.name, None))
    if status != "ok":
        where.error(loaded)
        _status(prefix, "the camera picture could not be read")
        return None
    name = shot.name  # "camera-input-<time>.jpg": the same name the picture's caption gives
    _offer_switch(family, name, loaded, where, prefix)
    return _from_decoded(family, name, loaded, f"{prefix}camera-{shot.file_id}", where, prefix)


SOURCES = {SAMPLE: "sample", UPLOAD: "upload", CAMERA: "camera"}


def pick_input(family: zoo.Family, where: Any = st.sidebar, prefix: str = "") -> explore.InputImage | None:
    """Sample, upload or camera controls in ``where``; the new valid input, or None (nothing chosen, or a bad file
    whose message is shown)."""
    shipped = bool(samples.list_samples(family.name))
    if prefix:  # a second input (Compare two images) stays out of the link
        source = where.radio(
            "Input", [SAMPLE, UPLOAD], index=0 if shipped else 1, key=f"{prefix}source-{family.name}", horizontal=True
        )
    else:
        source = links.select(
            where,
            "Input",
            list(SOURCES),
            index=0 if shipped else 1,
            key=f"source-{family.name}",
            param="input",
            names=list(SOURCES.values()),
            kind="radio",
            horizontal=True,
        )
    if source == CAMERA:
        return _from_camera(family, where, prefix)
    return _from_sample(family, where, prefix) if source == SAMPLE else _from_upload(family, where, prefix)


STATUS = "scse_input_status"  # session key: why this run's choice gave no new input (the sidebar's, prefix "")


def _status(prefix: str, why: str) -> None:
    if prefix == "":
        st.session_state[STATUS] = why


def _say_what_is_shown(family: zoo.Family) -> None:
    """When the new choice gave no input, say plainly that the picture on screen is the one chosen before."""
    why = st.session_state.pop(STATUS, None)
    kept = chosen_input(family.name)
    if why is not None and kept is not None:
        st.warning(f"{why[0].upper()}{why[1:]}: still shown is **{kept.name}**, chosen before, with its results.")


def choose_input(family: zoo.Family) -> explore.InputImage | None:
    """The sidebar's input for ``family``, shared by every page: the new valid choice, or the one chosen before if
    the new choice failed (or nothing was chosen yet); degraded as the family's controls say (noise added)."""
    st.session_state.pop(STATUS, None)
    image = pick_input(family)
    if image is not None:
        keep_input(family.name, image)
    else:
        _say_what_is_shown(family)
    image = chosen_input(family.name)
    if image is None or family.degradation is None:
        return image
    setting = controls_for(family.degradation).choose(family.degradation, image, family.name)
    return degraded(family, image, setting)


def degraded(family: zoo.Family, image: explore.InputImage, setting: Any = None) -> explore.InputImage:
    """``image`` through the family's degradation with ``setting`` (default: the one last chosen in the sidebar);
    unchanged for a family without one."""
    if family.degradation is None:
        return image
    if setting is None:
        setting = controls_for(family.degradation).last_setting(family.name)
    return memo(("degraded", family.name, image.key, setting.key()), lambda: explore.degraded_input(image, setting))
