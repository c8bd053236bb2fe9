"""Import torchvision once, the same way on every install.

PyPI's torchvision wheels are built against CUDA torch. Beside a CPU-only torch build their C extension does not
load, and ``import torchvision`` then dies while registering fake kernels for ``torchvision::nms`` and
``torchvision::qnms``: those operators' schemas were meant to come from the extension. We only use the pure-Python
parts (transforms.v2, models, utils), so when that exact failure happens we define the two schemas ourselves and
import again. On a normal install the first import succeeds and nothing here runs. Calling the detection ops
(``torchvision.ops.nms``) still fails with torchvision's own "not compiled" message, as it should.
"""

from __future__ import annotations

import sys
from types import ModuleType

import torch

_MISSING_OPS = ("nms", "qnms")
_schema_library: torch.library.Library | None = None  # kept alive: dropping it would undefine the schemas


def _define_missing_schemas() -> None:
    global _schema_library
    _schema_library = torch.library.Library("torchvision", "DEF")  # noqa: TOR901 - schemas only, no kernels
    for op in _MISSING_OPS:
        _schema_library.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


def import_torchvision() -> ModuleType:
    """Return the ``torchvision`` module, working around a C extension that cannot load."""
    try:
        import torchvision
    except RuntimeError as error:
        if "torchvision::nms does not exist" not in str(error):
            raise
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        _define_missing_schemas()
        import torchvision
    return torchvision


torchvision = import_torchvision()
