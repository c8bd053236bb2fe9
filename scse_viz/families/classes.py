"""The class names of the shipped families' tasks: plain constants, so a family record and its dataset reader
(:mod:`scse_viz.datasets`) share one list.

``scse_viz.zoo`` skips this module (it defines no ``FAMILY``).
"""

BRAIN_CLASSES: tuple[str, ...] = ("background", "CSF", "GM", "WM")
FASHION_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
