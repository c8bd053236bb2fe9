"""Typed exceptions for everything a user can get wrong.

Every message is written for the person in front of the app: it says what was wrong with *their* input and what to
do, never a stack trace. The app catches :class:`ScseVizError` alone and shows ``str(error)``.
"""

from __future__ import annotations


class ScseVizError(Exception):
    """Base of every error that a user's input (file, checkpoint, model, settings) can cause."""


class InputError(ScseVizError):
    """An uploaded image or volume cannot be used."""


class EmptyFileError(InputError):
    """The file has zero bytes."""


class UnsupportedFormatError(InputError):
    """The file is of a type we do not read."""


class UnsupportedCompressionError(UnsupportedFormatError):
    """A DICOM file's pixel data is compressed with a transfer syntax that no installed decoder can read."""


class UnreadableFileError(InputError):
    """The file claims a supported type but cannot be decoded (corrupt or truncated)."""


class ImageTooLargeError(InputError):
    """The image has more pixels than we accept (guards against decompression bombs)."""


class ImageTooSmallError(InputError):
    """The image is smaller than the smallest size a model can use."""


class NonFiniteValuesError(InputError):
    """The image or volume holds NaN or infinite values."""


class VolumeIndexRequiredError(InputError):
    """A 4-D volume was given without saying which 3-D volume to use (or the index is out of range)."""


class SliceIndexError(InputError):
    """The slice axis or index does not exist in the volume."""


class CheckpointError(ScseVizError):
    """A weights file does not fit the model it is loaded into, or is not a safetensors file."""


class CaptureError(ScseVizError):
    """Attention capture cannot do what was asked (for example, knock out a gate it cannot replace)."""


class UnsupportedBlockError(ScseVizError):
    """The teaching walk-through cannot recompute this block step by step from its weights."""


class UserModelError(ScseVizError):
    """A model a person brought cannot be used: unreadable or unsafe weights, an unknown architecture, weights that
    do not fit it, or a model that cannot run on the image."""
