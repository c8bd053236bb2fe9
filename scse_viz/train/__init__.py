"""Training of the shipped model families (torch only); run ``python -m scse_viz.train --help``.

Each family's parts (recipe, training loop, test measurement, samples) are the ``PARTS`` of the module named after
it (``scse_viz/train/<family name>.py``); :func:`scse_viz.train.parts.parts_for` finds them.
"""

from scse_viz.train.config import BrainConfig, FashionConfig, RunConfig

__all__ = ["BrainConfig", "FashionConfig", "RunConfig"]
