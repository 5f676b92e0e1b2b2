"""Hard limits every reader enforces *before* allocating signal memory."""

from __future__ import annotations

from dataclasses import dataclass

#: Records shorter than this (s) hold too few beats to measure intervals: the readers warn, and
#: the app (``QTLENS_MIN_DURATION_S``) refuses them.
SHORT_RECORD_S = 2.0


@dataclass(frozen=True)
class IngestLimits:
    """Safety limits for ECG input; the app builds one from its settings.

    Attributes:
        max_upload_bytes: total bytes of all files of one upload (default 20 MB).
        max_channels: most signal channels a header may declare.
        min_fs_hz, max_fs_hz: accepted sampling-rate range in Hz.
        max_duration_s: longest accepted record in seconds.
        min_duration_s: shortest accepted record in seconds (0 = any: the readers then only warn
            that a record is too short to measure intervals; the app refuses one).
        max_files: most files in one upload (a WFDB record is a header plus data files).
    """

    max_upload_bytes: int = 20 * 1024 * 1024
    max_channels: int = 16
    min_fs_hz: float = 50.0
    max_fs_hz: float = 2000.0
    max_duration_s: float = 600.0
    min_duration_s: float = 0.0
    max_files: int = 4

    @property
    def max_samples_per_channel(self) -> int:
        """Largest sample count per channel the duration and rate limits allow."""
        return int(self.max_duration_s * self.max_fs_hz)
