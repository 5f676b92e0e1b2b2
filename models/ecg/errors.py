"""Errors raised for bad ECG input, each carrying the HTTP status the API answers with.

Readers raise these (never bare ``ValueError``/``KeyError`` from a parsing library); the API maps
``status_code`` to the response and the CLI prints ``message``. ``field`` names the header field or
part of the upload at fault, so the clinician reads *what* is wrong ("header says 12 leads but the
data file holds 8"), not a stack trace.
"""

from __future__ import annotations


class EcgInputError(ValueError):
    """An ECG upload or file that QTLens refuses, with a plain-language reason."""

    status_code: int = 422
    kind: str = "malformed_ecg"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __reduce__(self) -> tuple[type[EcgInputError], tuple[str, str | None]]:
        # Pickled with its field: errors cross from the worker processes to the API process.
        return type(self), (self.message, self.field)

    def to_dict(self) -> dict[str, str | None]:
        """JSON body for the API error response."""
        return {"error": self.kind, "message": self.message, "field": self.field}


class MalformedEcg(EcgInputError):
    """The file is of a known format but its content is inconsistent or broken (HTTP 422)."""

    status_code = 422
    kind = "malformed_ecg"


class UnsupportedFormat(EcgInputError):
    """No reader recognises the content (HTTP 415)."""

    status_code = 415
    kind = "unsupported_format"


class InputTooLarge(EcgInputError):
    """The upload or the signal it declares exceeds a configured limit (HTTP 413)."""

    status_code = 413
    kind = "too_large"
