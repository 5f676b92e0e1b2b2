"""Public ECG datasets (PTB-XL, PhysioNet Challenge 2021, ECGRDVQ, LUDB, QTDB) and their caches.

Every loader takes the root folder of a dataset as published on PhysioNet, validates it, and
exposes one metadata row per record (split, labels, age, sex). :mod:`models.data.registry`
resolves a dataset by name; :mod:`models.data.cache` measures concepts once per record and keeps a
memory-mapped signal store so training epochs never re-parse WFDB. Nothing here downloads.
"""
