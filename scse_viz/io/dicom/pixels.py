"""The pixels of one DICOM file: decoded by pydicom's decoders, split into slices if the file is a Siemens mosaic,
turned into modality values (``pydicom.pixels.apply_modality_lut``: the Modality LUT Sequence, or Rescale Slope and
Intercept) and, for a 2-D gray image, into display values (``pydicom.pixels.apply_voi_lut``: the VOI LUT Sequence,
or Window Center and Width through the file's VOI LUT Function)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from scse_viz.errors import (
    NonFiniteValuesError,
    UnreadableFileError,
    UnsupportedCompressionError,
    UnsupportedFormatError,
)
from scse_viz.io.dicom.header import (
    EXPORT_HINT,
    _capital,
    _dicom_errors,
    _float_or_none,
    _Image,
    _lookup,
    _values,
)

_RGB_LIKE = ("RGB", "YBR_ICT", "YBR_RCT")  # JPEG 2000 decoders undo the ICT/RCT colour transform themselves
_YBR_CONVERTIBLE = ("YBR_FULL", "YBR_FULL_422")
_WINDOW_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
# A window whose file names no VOI LUT Function (or one the app does not know) goes through LINEAR, the standard's
# default (PS3.3 C.11.2.1.2: centre − 0.5 and width − 1, the window of stored integer values), as pydicom's
# ``apply_windowing`` also reads a missing function. LINEAR needs a width of at least 1; a narrower window (float
# data whose header breaks that rule) falls back to LINEAR_EXACT, the only linear reading it has.
_DEFAULT_WINDOW_FUNCTION = "LINEAR"
_NARROW_WINDOW_FUNCTION = "LINEAR_EXACT"
_WINDOW_OUTPUT_BITS = 16  # windowing writes 0 … 2**16 − 1, which is then scaled to [0, 1]


def _decode(image: _Image, what: str) -> np.ndarray:
    """Decode all frames, (frames, rows, columns) or (frames, rows, columns, 3) RGB, in the decoder's own dtype (the
    stored integers, which a Modality LUT indexes with), a mosaic split into its slices; no rescale applied."""
    from pydicom.pixels import convert_color_space, get_decoder
    from pydicom.uid import UID

    try:
        syntax = UID(str(image.ds.file_meta.TransferSyntaxUID))
    except AttributeError as error:
        raise UnreadableFileError(
            f"{_capital(what)} is a DICOM file without a transfer syntax in its header, so its pixels cannot be "
            f"decoded. {EXPORT_HINT}"
        ) from error
    known = syntax.is_valid and syntax.name != str(syntax)
    label = f"{syntax.name} ({syntax})" if known else f"transfer syntax {syntax}"
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        decoder = None
    if decoder is None or not decoder.is_available:
        raise UnsupportedCompressionError(
            f"{_capital(what)} stores its pixels compressed as {label}, which the app cannot decode. {EXPORT_HINT}"
        )
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            array, meta = decoder.as_array(image.ds, raw=True)
            photometric = str(meta.get("photometric_interpretation", image.photometric)).strip().upper()
            if image.samples == 3 and photometric in _YBR_CONVERTIBLE:
                array = convert_color_space(array, photometric, "RGB", per_frame=True)
                photometric = "RGB"
    except _dicom_errors() as error:
        if decoder.is_native:
            raise UnreadableFileError(
                f"{_capital(what)} is a DICOM file whose pixel data cannot be read: it is probably truncated or "
                "corrupt. Export it again and upload the new file."
            ) from error
        raise UnreadableFileError(
            f"{_capital(what)} stores its pixels compressed as {label}, but they cannot be decoded: the file may be "
            f"corrupt, or use a variant of that compression the app's decoders do not handle. {EXPORT_HINT}"
        ) from error
    if image.samples == 3 and photometric not in _RGB_LIKE:
        raise UnsupportedFormatError(
            f"{_capital(what)} uses a colour encoding the app does not read (it reads grayscale, RGB and YBR). "
            f"{EXPORT_HINT}"
        )
    if image.samples not in (1, 3) or (image.samples == 1 and photometric not in ("MONOCHROME1", "MONOCHROME2")):
        raise UnsupportedFormatError(
            f"{_capital(what)} uses a colour encoding the app does not read (for example a colour palette); it reads "
            f"grayscale, RGB and YBR. {EXPORT_HINT}"
        )
    values = np.asarray(array)
    grid = image.mosaic
    stored = (1, image.rows * grid, image.columns * grid) if grid else (image.frames, image.rows, image.columns)
    expected = stored + ((3,) if image.samples == 3 else ())
    if values.size != int(np.prod(expected)):
        raise UnreadableFileError(
            f"{_capital(what)} holds fewer or more pixels than its header describes: it is probably corrupt. "
            "Export it again and upload the new file."
        )
    values = values.reshape(expected)
    if grid:
        values = _mosaic_tiles(values[0], grid, image.frames)
    if values.dtype.kind == "f":
        bad = values.size - int(np.count_nonzero(np.isfinite(values)))
        if bad:
            raise NonFiniteValuesError(
                f"{_capital(what)} has {bad:,} pixel value{'s' if bad != 1 else ''} that are NaN or infinite (out of "
                f"{values.size:,}). Replace them with numbers (for example 0) and upload it again."
            )
    return values


def _mosaic_tiles(mosaic: np.ndarray, grid: int, slices: int) -> np.ndarray:
    """(slices, rows, columns) from a mosaic of grid×grid tiles, taken row by row (the last row may be part empty)."""
    rows, columns = mosaic.shape[0] // grid, mosaic.shape[1] // grid
    tiles = mosaic.reshape(grid, rows, grid, columns).swapaxes(1, 2).reshape(grid * grid, rows, columns)
    return np.ascontiguousarray(tiles[:slices])


def _modality(stored: np.ndarray, image: _Image, what: str, dtype: Any = np.float32) -> np.ndarray:
    """Stored values to modality values (Hounsfield units, say) by ``pydicom.pixels.apply_modality_lut``, frame by
    frame where an enhanced file gives Rescale Slope/Intercept per frame; gray data only (colour is only cast).

    Differences from a bare ``apply_modality_lut(stored, ds)``: a Rescale Slope of 0 counts as 1 (it would erase
    the image: a broken header), and a Rescale Intercept without a slope (or the reverse) is applied with the
    missing one at its neutral value."""
    from pydicom.pixels import apply_modality_lut

    if image.samples != 1:
        return stored.astype(dtype)
    out = np.empty(stored.shape, dtype=dtype)
    per_frame = "PerFrameFunctionalGroupsSequence" in image.ds
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            shared = None if per_frame else _modality_module(image, 0)
            for frame in range(stored.shape[0]):  # frame by frame: pydicom's float64 temporaries stay one frame
                out[frame] = apply_modality_lut(
                    stored[frame], shared if shared is not None else _modality_module(image, frame)
                )
    except _dicom_errors() as error:
        raise UnsupportedFormatError(
            f"{_capital(what)} has a Modality LUT the app cannot apply (it may be corrupt, or index the pixels in "
            f"a way the app does not read). {EXPORT_HINT}"
        ) from error
    return out


def _modality_module(image: _Image, frame: int) -> Any:
    """The Modality LUT module that holds for ``frame``, as the small dataset ``apply_modality_lut`` reads."""
    from pydicom.dataset import Dataset

    module = Dataset()
    lut = image.ds.get("ModalityLUTSequence")
    if lut:
        module.file_meta = image.ds.file_meta  # the byte order of OW LUT data
        module.ModalityLUTSequence = lut
        return module
    slope = _float_or_none(_lookup(image.ds, "RescaleSlope", frame))
    intercept = _float_or_none(_lookup(image.ds, "RescaleIntercept", frame))
    module.RescaleSlope = 1.0 if slope is None or slope == 0.0 else slope
    module.RescaleIntercept = intercept or 0.0
    return module


def _displayed(values: np.ndarray, image: _Image) -> np.ndarray | None:
    """A 2-D gray image's modality values in [0, 1] through its VOI LUT by ``pydicom.pixels.apply_voi_lut``: the
    first VOI LUT Sequence item if there is one (as pydicom prefers it), else the first Window Center/Width pair
    through the VOI LUT Function the file names (LINEAR, LINEAR_EXACT or SIGMOID; none or another: LINEAR, the
    standard's default, or LINEAR_EXACT for a window narrower than 1 that LINEAR cannot take).
    A LUT's output runs from its lowest to its highest entry, a window's over its whole output range; both are
    scaled to [0, 1]. None when the file gives neither (or only a broken one): the caller scales it robustly."""
    from pydicom.dataset import Dataset
    from pydicom.pixels import apply_voi_lut

    module = Dataset()
    module.file_meta = image.ds.file_meta
    module.PhotometricInterpretation = "MONOCHROME2"  # MONOCHROME1's inversion is the caller's, after the VOI
    module.BitsStored, module.PixelRepresentation = _WINDOW_OUTPUT_BITS, 0  # windowing writes 0 … 2**16 − 1
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            lut = image.ds.get("VOILUTSequence")
            if lut and "LUTDescriptor" in lut[0] and "LUTData" in lut[0]:
                module.VOILUTSequence = lut
                entries, first, _ = (int(v) for v in _values(lut[0].LUTDescriptor)[:3])
                entries = entries or 2**16
                # Clipped to the LUT's inputs first, as pydicom does, but before its cast to uint16 could wrap.
                shown = apply_voi_lut(np.clip(values, first, first + entries - 1), module).astype(np.float64)
                table = np.asarray(_lut_entries(lut[0], module), dtype=np.float64)
                low, high = float(table.min()), float(table.max())
                return np.zeros_like(shown) if high <= low else (shown - low) / (high - low)
            center = _float_or_none(_lookup(image.ds, "WindowCenter", 0))
            width = _float_or_none(_lookup(image.ds, "WindowWidth", 0))
            if center is None or width is None or width <= 0:
                return None
            function = str(_lookup(image.ds, "VOILUTFunction", 0) or "").strip().upper()
            if function not in _WINDOW_FUNCTIONS:
                function = _DEFAULT_WINDOW_FUNCTION
            if function == "LINEAR" and width < 1:
                function = _NARROW_WINDOW_FUNCTION
            module.WindowCenter, module.WindowWidth, module.VOILUTFunction = center, width, function
            shown = apply_voi_lut(np.asarray(values, dtype=np.float64), module)
            return np.clip(shown / float(2**_WINDOW_OUTPUT_BITS - 1), 0.0, 1.0)
    except _dicom_errors():
        return None


def _lut_entries(item: Any, module: Any) -> np.ndarray:
    """Every entry of a VOI LUT item, read by pydicom itself: the LUT applied to each of its own inputs."""
    from pydicom.pixels import apply_voi

    entries, first = (int(v) for v in _values(item.LUTDescriptor)[:2])
    entries = entries or 2**16
    return apply_voi(np.arange(first, first + entries, dtype=np.int64), module)


def _invert_planes(stack: np.ndarray, indices: list[int]) -> None:
    """MONOCHROME1, in place: flip the values of these planes within their common range (lowest ↔ highest), so
    high values are bright and the slices of a series stay comparable."""
    chosen = stack[indices]
    stack[indices] = chosen.min() + chosen.max() - chosen
