"""QTLens ML and signal core: ECG input, measurement, concept models, explanations.

Importable without the web application (``app``); nothing here imports ``app``.
"""
