"""The shipped families' datasets read from local files (nothing downloaded): Fashion-MNIST's IDX files, the MNI152
template's labelled slices, scikit-image's test photographs.

They sit in the core layer, below the app, because a family's test set is part of its record
(:attr:`scse_viz.family.Family.test_images`): the batch (``python -m scse_viz.batch test``) and the Gate health page
read it without the training code. What only training needs (synthetic and real heads, the photo family's training
pools) stays in :mod:`scse_viz.data`.
"""
