"""The shipped model families, one module each: the module's ``FAMILY`` is the family's whole record.

``scse_viz.zoo`` finds every module in this package, so a new family is one new module here plus its assets
(``assets/models/<name>/``, ``assets/samples/<name>/``) and, for training, ``scse_viz/train/<name>.py`` with its
``PARTS`` (the record names no training code).
"""
