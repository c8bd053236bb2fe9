"""Architectures buildable in the four variants ``none | cse | sse | scse`` from one argument."""

from scse_viz.models.resnet import ResidualClassifier
from scse_viz.models.unet import UNet2D

__all__ = ["ResidualClassifier", "UNet2D"]
