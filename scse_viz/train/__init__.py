"""Training of the shipped model families (torch only); run ``python -m scse_viz.train --help``."""

from scse_viz.train.config import BrainConfig, FashionConfig, RunConfig, config_for

__all__ = ["BrainConfig", "FashionConfig", "RunConfig", "config_for"]
