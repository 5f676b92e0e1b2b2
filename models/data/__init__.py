"""Data sets QTLens trains and evaluates on (public ECG databases and the synthetic generator)."""
