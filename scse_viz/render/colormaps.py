"""Which colour scales the app draws maps with, in one place, so every page follows one rule.

The rule: a map's colours must say its numbers to everyone. A scale for values from low to high (a gate from 0 to
1, a noise level) is one of matplotlib's perceptually uniform maps, whose lightness rises steadily from the low end
to the high one, so the order of two colours can be read by lightness alone, which colour-vision deficiencies keep.
A scale for values of both signs (an attribution, the scSE gain, removed noise) is diverging around a white 0, with
the same lightness at +v and −v and hues (red, blue) that stay apart under protan, deutan and tritan vision.
``tests/test_colormaps.py`` checks every scale here in CAM02-UCS with simulated colour-vision deficiencies.
``jet`` (and the other rainbows) are not offered: their lightness goes up and down, so they draw edges that are not
in the data and order colours differently for different viewers.
"""

from __future__ import annotations

SEQUENTIAL = (
    "magma",
    "viridis",
    "inferno",
    "plasma",
    "cividis",
)  # offered for maps from 0 to 1 (the first is the default)
DIVERGING = "RdBu_r"  # signed values, white at 0, red above and blue below
GATE = SEQUENTIAL[0]  # sSE maps q and other gates on 0..1
LEVEL = "viridis"  # unsigned levels that are not gates (feature values, a gate beside the noise map it is compared to)
NOISE_LEVEL = "magma"  # the true noise level σ of a photo
