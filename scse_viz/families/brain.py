"""Brain MRI tissue segmentation: U-Nets on 2-D slices of the MNI152 T1 template (background, CSF, GM, WM)."""

from __future__ import annotations

import numpy as np

from scse_viz.color import is_colour
from scse_viz.datasets.brain import test_images
from scse_viz.families.classes import BRAIN_CLASSES
from scse_viz.family import Family
from scse_viz.io import Volume
from scse_viz.models.architectures import UNetArchitecture
from scse_viz.preprocess import Prepared, brain_preprocess, brain_tensor
from scse_viz.tasks import SegmentationTask

ARCHITECTURE = UNetArchitecture(in_channels=1, num_classes=len(BRAIN_CLASSES), base_channels=16, depth=4, reduction=8)


def prepare(image: np.ndarray) -> Prepared:
    """Gray or colour slice -> robustly scaled, padded to a square, 160×160; results map back onto the slice."""
    pixels, geometry = brain_preprocess(image)
    return Prepared(pixels, brain_tensor(pixels), geometry)


def suits(loaded: object) -> bool:
    """Volumes and gray slices; a colour photo is no MRI."""
    return isinstance(loaded, Volume) or not is_colour(loaded.pixels)


FAMILY = Family(
    name="brain",
    title="Brain MRI tissue segmentation (U-Net)",
    task=SegmentationTask(BRAIN_CLASSES),
    prepare=prepare,
    build=ARCHITECTURE.build,
    trained_on="2-D slices (sagittal, coronal, axial) of two heads: a real whole-head T1 scan (Colin 27, from "
    "Debian's mricron-data: skull, scalp, eyes and face labelled background; 45 % of the samples), 40 % of its samples "
    "rendered from its label map in random, T1-, T2-, PD- and FLAIR-like contrasts, the rest its own T1; and the "
    "MNI152 2009a brain template, 60 % drawn as synthetic heads, the rest its own slices; all cropped and deformed "
    "like uploads",
    suits=suits,
    test_images=test_images,
)
