"""Hypothesis strategies for hostile HTTP input: ECG files, multipart bodies, URLs, JSON.

Every strategy builds a value from the valid uploads of :mod:`tests.io.hostile_corpus` or from
scratch; nothing is stored. Texts deliberately include what breaks naive code: NUL and other
control characters, surrogate-free odd Unicode, numbers beyond 64 bits, NaN and infinities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from models.ecg.io import UploadedFile
from models.ecg.record import STANDARD_LEADS
from tests.io.hostile_corpus import ValidFiles

#: Numbers as header text: what a lying header declares.
NUMBER_TEXT = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "-", "+", ".", "1e999", "-1e999", "nan", "inf", "0x10", "1_000",
                     "١٢", "１２", "5000\x00", "2147483648", "9223372036854775808", "-0"]),
)
#: Short texts with control characters and odd Unicode (surrogates excluded: not encodable).
ODD_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
#: Ids as clients might send them in a path: numbers out of every integer range, and words.
ODD_ID = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    ODD_TEXT,
    st.sampled_from(["0", "-1", "2147483648", "9223372036854775808", "1e3", "..", "%00", "ECG-"]),
)
#: JSON values of any shape (used as request bodies and as field values).
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | ODD_TEXT,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(ODD_TEXT, children, max_size=4),
    max_leaves=12,
)


@dataclass(frozen=True)
class Mutation:
    """One edit of a file's bytes: flip a byte, cut the file, or insert bytes."""

    kind: str
    position: float  # where, as a fraction of the file length
    payload: bytes

    def apply(self, data: bytes) -> bytes:
        """The edited bytes."""
        at = min(len(data), int(self.position * len(data)))
        if self.kind == "flip" and data:
            at = min(at, len(data) - 1)
            return data[:at] + bytes([data[at] ^ (self.payload[0] | 1)]) + data[at + 1 :]
        if self.kind == "cut":
            return data[:at]
        return data[:at] + self.payload + data[at:]


MUTATION = st.builds(
    Mutation,
    kind=st.sampled_from(["flip", "cut", "insert"]),
    position=st.floats(0.0, 1.0),
    payload=st.binary(min_size=1, max_size=64),
)


def valid_uploads(valid: ValidFiles) -> dict[str, list[UploadedFile]]:
    """One valid upload per format (the starting point of the mutation strategy)."""
    from tests.io import builders

    return {
        "wfdb": [UploadedFile("rec.hea", valid.header), UploadedFile("rec.dat", valid.data)],
        "edf": [UploadedFile("rec.edf", valid.edf)],
        "dicom": [UploadedFile("ecg.dcm", builders.dicom_bytes(valid.dicom()))],
        "muse": [UploadedFile("muse.xml", valid.muse)],
        "aecg": [UploadedFile("aecg.xml", valid.aecg)],
        "sierra": [UploadedFile("sierra.xml", valid.sierra)],
    }


@st.composite
def mutated_upload(draw: st.DrawFn, uploads: dict[str, list[UploadedFile]]) -> list[UploadedFile]:
    """A valid upload of a drawn format with one to four byte-level mutations."""
    files = list(uploads[draw(st.sampled_from(sorted(uploads)))])
    for mutation in draw(st.lists(MUTATION, min_size=1, max_size=4)):
        index = draw(st.integers(0, len(files) - 1))
        files[index] = UploadedFile(files[index].name, mutation.apply(files[index].data))
    return files


WFDB_FORMATS = ["16", "212", "8", "80", "24", "32", "61", "160", "310", "311", "0", "999",
                "16x2", "16:5", "16+100", "16x0", "16+-5", "508", "x"]


@st.composite
def wfdb_upload(draw: st.DrawFn, valid: ValidFiles) -> list[UploadedFile]:
    """A WFDB header whose fields are drawn (lying counts, rates, formats, gains, file names),
    with the valid data file, a cut of it, or random bytes."""
    n_lines = draw(st.integers(0, 14))
    record_line = " ".join([
        draw(st.sampled_from(["rec", "rec/2", "", "r" * 300, "rec\x00"])),
        draw(NUMBER_TEXT | st.just("12")),
        draw(NUMBER_TEXT | st.just("500")),
        draw(NUMBER_TEXT | st.just("5000")),
    ])
    lines = [record_line]
    for index in range(n_lines):
        file_name = draw(st.sampled_from(["rec.dat", "other.dat", "../rec.dat", "~", "rec.hea"]))
        gain = f"{draw(NUMBER_TEXT | st.just('1000'))}/{draw(st.sampled_from(['mV', 'uV', 'V', 'mmHg', '']))}"
        fields = [file_name, draw(st.sampled_from(WFDB_FORMATS)), gain,
                  draw(NUMBER_TEXT | st.just("16")), draw(NUMBER_TEXT | st.just("0")), "0", "0", "0",
                  STANDARD_LEADS[index % 12]]
        lines.append(" ".join(fields[: draw(st.integers(1, len(fields)))]))
    lines += draw(st.lists(st.sampled_from(["# age: 45", "# sex: F", "#" + "x" * 5000, "\x00"]),
                           max_size=2))
    header = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    data = draw(st.one_of(
        st.just(valid.data),
        st.integers(0, len(valid.data)).map(lambda cut: valid.data[:cut]),
        st.binary(max_size=4096),
    ))
    return [UploadedFile("rec.hea", header), UploadedFile("rec.dat", data)]


#: EDF main-header fields (offset, width) and per-signal columns (offset per signal, width).
EDF_FIELDS = [(0, 8), (168, 8), (176, 8), (184, 8), (192, 44), (236, 8), (244, 8), (252, 4)]
EDF_SIGNAL_COLUMNS = [(0, 16), (96, 8), (104, 8), (112, 8), (120, 8), (128, 8), (216, 8)]


@st.composite
def edf_upload(draw: st.DrawFn, valid: ValidFiles) -> list[UploadedFile]:
    """The valid EDF+ file with one to five header fields replaced by hostile text."""
    data = bytearray(valid.edf)
    n_signals = int(data[252:256])
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            start, width = draw(st.sampled_from(EDF_FIELDS))
        else:
            offset, width = draw(st.sampled_from(EDF_SIGNAL_COLUMNS))
            start = 256 + offset * n_signals + draw(st.integers(0, n_signals - 1)) * width
        text = draw(NUMBER_TEXT | st.sampled_from(["EDF+C", "EDF+D", "BIOSEMI", "uV", "mV"]))
        data[start : start + width] = text.encode("latin-1", "replace").ljust(width)[:width]
    cut = draw(st.none() | st.integers(0, len(data)))
    return [UploadedFile("rec.edf", bytes(data[:cut] if cut is not None else data))]


@st.composite
def amplified_upload(draw: st.DrawFn, valid: ValidFiles) -> list[UploadedFile]:
    """Small files that claim or expand to much more (issue 18): WFDB skews and byte offsets
    with or without a sample count, deflated DICOM (zeros deflate ≈ 1000:1, cut or not), EDF+
    annotation channels of any width, and Sierra XLI runs declaring long, fast records."""
    from tests.io import builders

    kind = draw(st.sampled_from(["wfdb", "dicom", "edf", "sierra"]))
    if kind == "wfdb":
        count = draw(st.sampled_from(["", " 5000", " 2500", " 300000"]))
        skew = draw(st.sampled_from(["", ":0", ":4999", ":5000"])
                    | st.integers(0, 10**14).map(lambda k: f":{k}"))
        offset = draw(st.sampled_from(["", "+0", "+24"])
                      | st.integers(0, 10**14).map(lambda k: f"+{k}"))
        lines = [f"rec 12 {draw(st.sampled_from(['500', '2000', '50']))}{count}"]
        lines += [f"rec.dat 16{skew if draw(st.booleans()) else ''}{offset} 1000/mV 16 0 0 0 0 "
                  f"{lead}" for lead in STANDARD_LEADS]
        header = ("\n".join(lines) + "\n").encode()
        return [UploadedFile("rec.hea", header), UploadedFile("rec.dat", valid.data)]
    if kind == "dicom":
        padding = draw(st.sampled_from([0, 1 << 20, 19 << 20, 21 << 20, 100 << 20]))
        data = builders.deflated_dicom_bytes(valid.dicom(), padding)
        if draw(st.booleans()):  # a fraction: the file's UIDs, hence its length, vary
            data = data[: int(draw(st.floats(0, 1)) * len(data))]
        return [UploadedFile("ecg.dcm", data)]
    if kind == "edf":
        width = draw(st.sampled_from([1, 57, 2000, 20_000, 999_999]) | st.integers(1, 999_999))
        data = builders.edf_with_annotations(valid.edf, width)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
        return [UploadedFile("rec.edf", data)]
    n_leads = draw(st.sampled_from([1, 12, 16]))
    n_bytes = draw(st.sampled_from([2, 10_000, 2_400_000]) | st.integers(1, 2_400_001))
    document = builders.sierra_xml(
        builders.lzw_run_chunk(n_bytes, byte=draw(st.sampled_from([0, 64, 65, 255]))) * n_leads,
        n_leads=n_leads, compression="XLI",
        fs_hz=draw(st.sampled_from(["500", "2000"])),
        duration_ms=draw(st.sampled_from(["10000", "600000", "600001", "1"])),
    )
    return [UploadedFile("ecg.xml", document)]


XML_ROOTS = [("RestingECG", ""), ("AnnotatedECG", "urn:hl7-org:v3"),
             ("restingecgdata", "http://www3.medical.philips.com"), ("svg", "")]
XML_TAGS = ["Waveform", "LeadData", "WaveFormData", "SampleBase", "LeadID", "LeadSampleCountTotal",
            "component", "series", "sequence", "digits", "increment", "value", "scale",
            "waveforms", "parsedwaveforms", "dataacquisition", "signalcharacteristics",
            "samplingrate", "numberchannelsvalid", "PatientDemographics", "Gender", "PatientAge"]
ENTITY_DECLARATIONS = [
    "",
    '<!ENTITY a "aaaaaaaaaa">' + "".join(f'<!ENTITY {name} "{("&" + previous + ";") * 10}">'
                                         for previous, name in zip("abc", "bcd", strict=True)),
    '<!ENTITY x SYSTEM "file:///etc/passwd">',
    '<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;',
    '<!ELEMENT a ANY>',
]


def _xml_element(tag: str, children: list[str], text: str) -> str:
    return f"<{tag}>{text}{''.join(children)}</{tag}>"


XML_BODY = st.recursive(
    st.builds(lambda tag, text: _xml_element(tag, [], text), st.sampled_from(XML_TAGS),
              NUMBER_TEXT | st.sampled_from(["&d;", "&x;", "QUJD", "1 2 3", "<![CDATA[x]]>"])),
    lambda children: st.builds(_xml_element, st.sampled_from(XML_TAGS),
                               st.lists(children, max_size=4), st.just("")),
    max_leaves=16,
)


@st.composite
def xml_upload(draw: st.DrawFn) -> list[UploadedFile]:
    """An XML document under an ECG root with entity declarations (bombs, external entities),
    random nesting of the formats' element names, and sometimes very deep nesting."""
    root, namespace = draw(st.sampled_from(XML_ROOTS))
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    doctype = draw(st.sampled_from(ENTITY_DECLARATIONS))
    body = "".join(draw(st.lists(XML_BODY, max_size=4)))
    depth = draw(st.sampled_from([0, 0, 0, 1000, 100_000]))
    body += "<a>" * depth + "</a>" * depth
    document = f'<?xml version="1.0"?><!DOCTYPE {root} [{doctype}]><{root}{xmlns}>{body}</{root}>'
    if draw(st.booleans()):
        document = document[: draw(st.integers(0, len(document)))]
    return [UploadedFile(draw(st.sampled_from(["ecg.xml", "ecg.hea", "x"])),
                         document.encode("utf-8", "surrogatepass"))]


@dataclass(frozen=True)
class RawRequest:
    """A request whose body and content type are given byte for byte."""

    method: str
    path: str
    content: bytes
    content_type: str | None


def multipart_body(boundary: str, parts: list[tuple[str, bytes]], closed: bool) -> bytes:
    """A multipart body from ``(Content-Disposition value, content)`` parts."""
    chunks = [
        f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n".encode("utf-8", "surrogatepass")
        + content + b"\r\n"
        for disposition, content in parts
    ]
    return b"".join(chunks) + (f"--{boundary}--\r\n".encode() if closed else b"")


FILENAMES = st.one_of(st.sampled_from(["rec.hea", "../../etc/passwd", "", "a" * 5000, "x\x00.dat",
                                       'q"uote.hea', "rec.dat", "café.xml", "CON"]), ODD_TEXT)


@st.composite
def malformed_multipart(draw: st.DrawFn, valid: ValidFiles) -> RawRequest:
    """A multipart upload with odd boundaries, dispositions, file names, part counts and cuts."""
    boundary = draw(st.sampled_from(["b", "x" * 70, "----qtlens", "a b", "é"])
                    | ODD_TEXT.map(lambda text: "".join(ch for ch in text if ch.isprintable())))
    n_parts = draw(st.sampled_from([0, 1, 2, 3, 5, 50, 1100]))
    part = st.tuples(
        st.one_of(
            FILENAMES.map(lambda name: f'form-data; name="files"; filename="{name}"'),
            st.sampled_from(['form-data; name="files"', 'form-data; name="other"',
                             "form-data", "attachment; filename=x", "", 'form-data; name="csrf_token"']),
        ),
        st.sampled_from([valid.header, valid.data[:1000], b"", b"\x00" * 10]) | st.binary(max_size=256),
    )
    parts = draw(st.lists(part, min_size=min(n_parts, 3), max_size=min(n_parts, 3)))
    parts = (parts * (n_parts // max(1, len(parts)) + 1))[:n_parts] if parts else []
    body = multipart_body(boundary, parts, draw(st.booleans()))
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    content_type = draw(st.sampled_from([
        f"multipart/form-data; boundary={boundary}", "multipart/form-data",
        "multipart/form-data; boundary=", "multipart/form-data; boundary=other",
        "multipart/mixed; boundary=b", "application/octet-stream", "text/plain", None,
        "application/x-www-form-urlencoded",
    ]))
    return RawRequest("POST", "/api/v1/records", body, content_type)


def url_path(template: str, values: list[str]) -> str:
    """``template`` with each ``{}`` replaced by the next value, percent-encoded."""
    return template.format(*(quote(value, safe="") for value in values))


#: Every route of the service with its path parameters marked ``{}``.
ROUTE_TEMPLATES = [
    "/api/v1/records", "/api/v1/records/{}", "/api/v1/records/{}/signal",
    "/api/v1/records/{}/review", "/api/v1/records/{}/reopen", "/api/v1/records/{}/predictions",
    "/api/v1/predictions/{}",
    "/api/v1/predictions/{}/interventions", "/api/v1/predictions/{}/interventions/{}",
    "/api/v1/predictions/{}/suggestion", "/api/v1/exports/interventions",
    "/api/v1/exports/predictions", "/api/v1/analytics/interventions", "/api/v1/admin/users",
    "/api/v1/admin/users/{}", "/api/v1/admin/model", "/api/v1/me", "/api/v1/me/tokens",
    "/api/v1/me/tokens/{}", "/api/v1/auth/csrf", "/api/v1/auth/login", "/api/v1/concepts",
    "/api/v1/health", "/api/v1/ready", "/health", "/ready", "/", "/login", "/worklist",
    "/records/{}", "/research", "/admin", "/account", "/static/{}", "/static/vendor/{}", "/{}",
]
QUERY_NAMES = ["status", "sort", "limit", "offset", "start_s", "duration_s", "format", "from",
               "to", "model", "user", "concept", "policy", "task", "next"]
QUERY_VALUES = st.one_of(ODD_ID, NUMBER_TEXT, st.sampled_from(
    ["csv", "jsonl", "parquet", "newest", "oldest", "new", "predicted", "reviewed",
     "2024-02-30", "2024-01-01", "9999-12-31", "0001-01-01", "expected_risk_change", "random",
     "lqts_risk", "tdp_risk", "qt", "qtc_fridericia"]))


@st.composite
def odd_request(draw: st.DrawFn, known_ids: list[str]) -> tuple[str, str, dict[str, str]]:
    """``(method, path, query)``: any route, hostile or real path parameters, odd queries."""
    template = draw(st.sampled_from(ROUTE_TEMPLATES))
    values = [draw(st.sampled_from(known_ids) | ODD_ID) for _ in range(template.count("{}"))]
    query = draw(st.dictionaries(st.sampled_from(QUERY_NAMES) | ODD_TEXT, QUERY_VALUES,
                                 max_size=4))
    method = draw(st.sampled_from(["GET", "GET", "GET", "HEAD", "OPTIONS", "PUT", "PATCH",
                                   "DELETE", "POST"]))
    return method, url_path(template, values), query


#: JSON routes with a body, by path template (prediction or user path parameters filled later).
JSON_ROUTES = [
    ("POST", "/api/v1/auth/login", {"username": "clinician1", "password": "x" * 12}),
    ("POST", "/api/v1/predictions/{}/interventions", {"concept": "qt", "value": 450.0}),
    ("POST", "/api/v1/admin/users", {"username": "new", "password": "x" * 12, "role": "clinician"}),
    ("PATCH", "/api/v1/admin/users/{}", {"role": "clinician"}),
    ("POST", "/api/v1/me/tokens", {"name": "script", "expires_days": 30}),
]


@st.composite
def bad_json(draw: st.DrawFn) -> tuple[str, str, dict[str, Any], bytes, str | None]:
    """``(method, template, valid body, hostile body bytes, content type)``: a route's valid
    body with fields replaced by any JSON value, or raw bytes, or JSON of another shape."""
    method, template, valid = draw(st.sampled_from(JSON_ROUTES))
    kind = draw(st.sampled_from(["fields", "fields", "shape", "bytes", "numbers"]))
    if kind == "fields":
        body: Any = dict(valid)
        for key in draw(st.lists(st.sampled_from([*valid, "extra"]), min_size=1, max_size=3)):
            body[key] = draw(JSON_VALUE)
        content = json.dumps(body).encode()
    elif kind == "numbers":
        number = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0", "1" * 500,
                                       "0.000000000000000000000000001", "4.9e-324"]))
        content = json.dumps(valid).replace('450.0', number).replace('30}', number + "}").encode()
    elif kind == "shape":
        content = json.dumps(draw(JSON_VALUE)).encode()
    else:
        content = draw(st.binary(max_size=512) | st.just(b'{"a":' * 10_000))
    content_type = draw(st.sampled_from(["application/json", "application/json", "text/plain",
                                         "application/json; charset=latin-1", None,
                                         "application/x-www-form-urlencoded"]))
    return method, template, valid, content, content_type
