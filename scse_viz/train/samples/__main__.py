"""``python -m scse_viz.train.samples``: see :mod:`scse_viz.train.samples`."""

import sys

from scse_viz.train.samples import main

sys.exit(main())
