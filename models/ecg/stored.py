"""A record's signal as QTLens stores it: float32 ``.npy`` bytes, zlib-compressed.

:class:`StoredEcg` is a stored record with what an :class:`~models.ecg.record.Ecg` needs beside
its signal: small and picklable, so that the API process hands the compressed bytes to a worker
process (:mod:`app.isolation`), which decodes them, instead of decoding and sending the
signal (a 12-lead 10-s 500 Hz record: ~75 kB instead of 240 kB).
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import numpy as np

from models.ecg.record import Ecg, Sex

#: zlib level of stored signals (1 = fastest; signals are written on every upload).
SIGNAL_COMPRESSION_LEVEL = 1


def encode_signal(signal_mv: np.ndarray) -> bytes:
    """A float32 [leads, samples] signal in mV as zlib-compressed ``.npy`` bytes.

    Level 1 keeps most of the gain (a 12-lead 10-s 500 Hz record: 240 kB → ~75 kB) at ~2 ms,
    a third of ``np.savez_compressed``'s time on the upload path.
    """
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(signal_mv, dtype=np.float32), allow_pickle=False)
    return zlib.compress(buffer.getvalue(), SIGNAL_COMPRESSION_LEVEL)


def decode_signal(blob: bytes) -> np.ndarray:
    """The float32 [leads, samples] signal in mV stored by :func:`encode_signal`."""
    return np.load(io.BytesIO(zlib.decompress(blob)), allow_pickle=False)


@dataclass(frozen=True)
class StoredEcg:
    """A stored record: its compressed signal (:func:`encode_signal`) and metadata.

    Attributes:
        signal_blob: the signal in mV as :func:`encode_signal` wrote it.
        fs_hz: sampling rate in Hz.
        lead_names: one canonical name per signal row.
        age_years, sex, source_format: as in :class:`~models.ecg.record.Ecg`.
    """

    signal_blob: bytes
    fs_hz: float
    lead_names: tuple[str, ...]
    age_years: int | None
    sex: Sex | None
    source_format: str

    @classmethod
    def of(cls, ecg: Ecg) -> StoredEcg:
        """``ecg`` as it is stored (its signal compressed by :func:`encode_signal`)."""
        return cls(encode_signal(ecg.signal_mv), ecg.fs_hz, ecg.lead_names, ecg.age_years,
                   ecg.sex, ecg.source_format)

    def ecg(self) -> Ecg:
        """The record as an :class:`~models.ecg.record.Ecg` (the signal decoded)."""
        return Ecg(signal_mv=decode_signal(self.signal_blob), fs_hz=self.fs_hz,
                   lead_names=self.lead_names, age_years=self.age_years, sex=self.sex,
                   source_format=self.source_format)
