"""Which sidebar controls offer each kind of degradation: the pages layer's half of ``Family.degradation``.

A degradation (:mod:`scse_viz.degradation`) says what is done to a clean picture; the controls that let a person
choose it are streamlit, one layer up. They are registered here by the degradation's type, so the core record names
no module of the pages layer (dependencies point down).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scse_viz.degradation import AddedNoise
from scse_viz.ui import noise


@dataclass(frozen=True)
class DegradationControls:
    """The sidebar's controls of one kind of degradation."""

    choose: Callable[..., Any]  # (degradation, image, family name) -> the setting chosen in this run
    last_setting: Callable[[str], Any]  # family name -> the setting last chosen in this session


CONTROLS: dict[type, DegradationControls] = {AddedNoise: DegradationControls(noise.noise_controls, noise.last_setting)}


def controls_for(degradation: Any) -> DegradationControls:
    """The controls registered for the degradation's type (or the nearest of its base classes)."""
    for kind in type(degradation).__mro__:
        if kind in CONTROLS:
            return CONTROLS[kind]
    raise TypeError(f"no sidebar controls are registered for {type(degradation).__name__} (scse_viz.ui.degradations)")
