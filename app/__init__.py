"""QTLens web service: a thin FastAPI layer (HTTP, auth, persistence) over :mod:`models`."""
