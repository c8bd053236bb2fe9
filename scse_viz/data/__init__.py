"""Data only training needs: synthetic heads, the real head (Colin 27), the photo family's training pools; numpy and
scipy, no downloads. The families' datasets with their test sets are :mod:`scse_viz.datasets` (below the app)."""
