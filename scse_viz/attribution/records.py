"""What an attribution hands to pages: a plain record (numbers and names, no modules, no tensors) and its error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scse_viz.errors import ScseVizError

# Names for people, by method id; the method classes (``scse_viz.attribution.catalog``) and progress messages use them.
METHOD_LABELS: dict[str, str] = {
    "integrated_gradients": "Integrated Gradients",
    "integrated_gradients_smoothgrad": "Integrated Gradients + SmoothGrad (NoiseTunnel)",
    "layer_gradcam": "LayerGradCam",
    "occlusion": "Occlusion",
}


class AttributionError(ScseVizError):
    """An attribution cannot be computed as asked (unknown class or block, empty class region, bad settings)."""


@dataclass(frozen=True)
class AttributionResult:
    """One attribution map for one image, one model and one target.

    ``attribution`` is H×W float32 at the model input's resolution: captum's per-input-channel attributions summed
    over channels (as captum's visualisation does), sign kept. Positive values raise the target, negative lower it.
    LayerGradCam's map is the block's map upsampled to that resolution with the block's own geometry.
    """

    method: str  # the id of the method that made it (a key of ``scse_viz.attribution.METHODS``)
    target: str  # what was explained, for people ("logit of class 3 (Dress)")
    attribution: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)  # every setting used, with "auto" values resolved
    evaluations: int = 0  # model evaluations (rows through the network) the method ran
    convergence_delta: float | None = None  # IG: sum(attribution) - (F(x) - F(baseline)); 0 for an exact integral
    output_difference: float | None = None  # IG: F(x) - F(baseline), to judge the delta against
    block: str | None = None  # LayerGradCam: the attention block's qualified module name

    @property
    def relative_delta(self) -> float | None:
        """|delta| / |F(x) - F(baseline)|: how far the map is from completeness, as a fraction (None if unknown)."""
        if self.convergence_delta is None or not self.output_difference:
            return None
        return abs(self.convergence_delta) / abs(self.output_difference)
