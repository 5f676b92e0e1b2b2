"""Data sets QTLens trains and evaluates on: public ECG databases and the synthetic generator.

Every public-dataset loader takes the root folder of a dataset as published on PhysioNet,
validates it, and exposes one metadata row per record (split, labels, age, sex);
:mod:`models.data.registry` resolves a dataset by name. :mod:`models.data.cache` measures concepts
once per record and keeps a memory-mapped signal store so training epochs never re-parse WFDB.
:mod:`models.data.synthetic` renders synthetic ECGs with known concepts and causal labels.
Nothing here downloads.
"""
