"""A generated corpus of hostile ECG uploads, each with the HTTP status class it must get.

Every case is a small function building the files from valid ones (:class:`ValidFiles`), so the
corpus needs no stored fixtures. Statuses: 413 (too large), 415 (unsupported), 422 (malformed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from models.ecg.io import UploadedFile
from models.ecg.limits import IngestLimits
from models.ecg.record import STANDARD_LEADS
from tests.io import builders


@dataclass(frozen=True)
class ValidFiles:
    """One valid upload per format, the starting point of every hostile case."""

    header: bytes
    data: bytes
    edf: bytes
    dicom: Callable[[], Dataset]
    muse: bytes
    aecg: bytes
    sierra: bytes


def valid_files() -> ValidFiles:
    """Build the valid uploads (12 leads, 500 Hz, 10 s)."""
    signal = builders.sine_ecg()
    raw = np.round(signal * 1000).astype("<i2")
    header = "rec 12 500 5000\n" + "".join(
        f"rec.dat 16 1000/mV 16 0 0 0 0 {lead}\n" for lead in STANDARD_LEADS
    )
    return ValidFiles(
        header=header.encode(),
        data=raw.T.tobytes(),
        edf=builders.edf_file(signal, 500.0).data,
        dicom=partial(builders.dicom_dataset, signal, 500.0),
        muse=builders.muse_xml(signal, 500.0),
        aecg=builders.aecg_xml(signal, 500.0),
        sierra=builders.sierra_xml(raw.tobytes()),
    )


@dataclass(frozen=True)
class HostileCase:
    """A named hostile upload and the status class it must be refused with."""

    name: str
    status: int
    build: Callable[[ValidFiles], list[UploadedFile]]
    limits: IngestLimits = field(default_factory=IngestLimits)


def _wfdb(
    header: str | bytes, data: bytes | None = None, data_name: str = "rec.dat"
) -> list[UploadedFile]:
    files = [UploadedFile("rec.hea", header if isinstance(header, bytes) else header.encode())]
    if data is not None:
        files.append(UploadedFile(data_name, data))
    return files


def _header(
    record_line: str, signal_line: str = "rec.dat 16 1000/mV 16 0 0 0 0 {lead}", n_lines: int = 12
) -> str:
    leads = [*STANDARD_LEADS, *(f"X{i}" for i in range(max(0, n_lines - 12)))]
    return (
        record_line
        + "\n"
        + "".join(signal_line.format(lead=lead) + "\n" for lead in leads[:n_lines])
    )


def _wfdb_cases() -> list[HostileCase]:
    cases = []

    def add(
        name: str,
        status: int,
        build: Callable[[ValidFiles], list[UploadedFile]],
        limits: IngestLimits | None = None,
    ) -> None:
        cases.append(HostileCase(f"wfdb-{name}", status, build, limits or IngestLimits()))

    for claimed in (1, 2500, 4999, 5001, 6000, 10_000, 100_000, 299_999):
        add(
            f"lying-sample-count-{claimed}",
            422,
            lambda v, n=claimed: _wfdb(_header(f"rec 12 500 {n}"), v.data),
        )
    for claimed in (300_001, 400_000_000, 10**12, 10**30):
        add(
            f"declares-{claimed}-samples",
            413,
            lambda v, n=claimed: _wfdb(_header(f"rec 12 500 {n}"), v.data),
        )
    for n_channels, status in (
        (0, 422),
        (8, 422),
        (13, 422),
        (17, 413),
        (10_000, 413),
        (10**9, 413),
    ):
        add(
            f"declares-{n_channels}-channels",
            status,
            lambda v, n=n_channels: _wfdb(_header(f"rec {n} 500 5000"), v.data),
        )
    add(
        "describes-16-signals-declares-12",
        422,
        lambda v: _wfdb(_header("rec 12 500 5000", n_lines=16), v.data),
    )
    for fs, status in (
        ("0", 422),
        ("10", 422),
        ("49.9", 422),
        ("2001", 413),
        ("1e9", 422),
        ("999999999999", 413),
        (".", 422),
        ("nan", 422),
        ("-500", 422),
        ("inf", 422),
    ):
        add(f"fs-{fs}", status, lambda v, f=fs: _wfdb(_header(f"rec 12 {f} 5000"), v.data))
    for gain in ("1e999", "-", "1e", "abc", "1.2.3"):
        add(
            f"gain-{gain}",
            422,
            lambda v, g=gain: _wfdb(
                _header("rec 12 500 5000", f"rec.dat 16 {g}/mV 16 0 0 0 0 {{lead}}"), v.data
            ),
        )
    add(
        "format-999",
        422,
        lambda v: _wfdb(
            _header("rec 12 500 5000", "rec.dat 999 1000/mV 16 0 0 0 0 {lead}"), v.data
        ),
    )
    add(
        "format-flac",
        415,
        lambda v: _wfdb(
            _header("rec 12 500 5000", "rec.dat 516 1000/mV 16 0 0 0 0 {lead}"), v.data
        ),
    )
    add(
        "mixed-formats-in-one-file",
        422,
        lambda v: _wfdb(
            _header("rec 2 500 5000", "rec.dat 16 1000/mV 16 0 0 0 0 {lead}", 1)
            + "rec.dat 212 1000/mV 12 0 0 0 0 II\n",
            v.data,
        ),
    )
    add("multi-segment", 415, lambda v: _wfdb("rec/2 12 500 5000\nseg1 2500\nseg2 2500\n", v.data))
    add("header-alone", 422, lambda v: _wfdb(v.header))
    add("data-file-of-other-name", 422, lambda v: _wfdb(v.header, v.data, "other.dat"))
    add("empty-data-file", 422, lambda v: _wfdb(v.header, b""))
    add(
        "empty-header",
        422,
        lambda v: [UploadedFile("rec.hea", b""), UploadedFile("rec.dat", v.data)],
    )
    for cut in (1, 2, 3, 1000, 60_000, 119_999):
        add(f"truncated-data-{cut}", 422, lambda v, c=cut: _wfdb(v.header, v.data[:c]))
    for extra in (24, 1000, 120_000):
        add(f"data-longer-by-{extra}", 422, lambda v, e=extra: _wfdb(v.header, v.data + b"\0" * e))
    add(
        "byte-offset-beyond-file",
        422,
        lambda v: _wfdb(
            _header("rec 12 500 5000", "rec.dat 16+999999999 1000/mV 16 0 0 0 0 {lead}"), v.data
        ),
    )
    add(
        "samples-per-frame-huge",
        413,
        lambda v: _wfdb(
            _header("rec 12 500 5000", "rec.dat 16x100000 1000/mV 16 0 0 0 0 {lead}"), v.data
        ),
    )
    add(
        "skew-beyond-record",
        422,
        lambda v: _wfdb(
            _header("rec 12 500 5000", "rec.dat 16:99999 1000/mV 16 0 0 0 0 {lead}"), v.data
        ),
    )
    # Issue 18: no sample count, so the skew escaped the check against the record length;
    # wfdb then allocated the skew (10^9 samples: 20 GB RSS, OOM-kill; 10^13: a 500).
    for skew in (999_999_999, 10**13):
        add(
            f"no-sample-count-skew-{skew}",
            422,
            lambda v, k=skew: _wfdb(
                _header("1 12 500", f"rec.dat 16:{k} 1000/mV 16 0 0 0 0 {{lead}}"), v.data
            ),
        )
    for name in ("../etc/passwd", "/abs/rec.dat", ".", "~", "rec.hea", "a b.dat"):
        add(
            f"data-file-name-{name}",
            422,
            lambda v, n=name: _wfdb(
                _header("rec 12 500 5000", f"{n} 16 1000/mV 16 0 0 0 0 {{lead}}"), v.data
            ),
        )
    add(
        "non-ascii-record-line",
        422,
        lambda v: _wfdb(
            "réc 12 500 5000\n".encode("latin-1") + v.header.split(b"\n", 1)[1], v.data
        ),
    )
    add(
        "non-utf8-signal-line",
        422,
        lambda v: _wfdb(v.header.replace(b" V6", b" V\xff\xfe6"), v.data),
    )
    add("duplicate-lead", 422, lambda v: _wfdb(v.header.replace(b" V6\n", b" V5\n"), v.data))
    add(
        "mlii-and-ii",
        422,
        lambda v: _wfdb(
            v.header.replace(b" I\n", b" MLII\n", 1).replace(b" V6\n", b" II\n"), v.data
        ),
    )
    add(
        "invalid-sample-values-in-one-lead",
        422,
        lambda v: _wfdb(v.header, _with_invalid_samples(v.data, 50)),
    )
    add("all-leads-invalid", 422, lambda v: _wfdb(v.header, b"\x00\x80" * (12 * 5000)))
    add(
        "two-headers", 422, lambda v: [*_wfdb(v.header, v.data), UploadedFile("rec2.hea", v.header)]
    )
    add(
        "five-files",
        413,
        lambda v: [*_wfdb(v.header, v.data), *(UploadedFile(f"x{i}", b"x") for i in range(3))],
    )
    add(
        "upload-over-byte-limit",
        413,
        lambda v: _wfdb(v.header, v.data),
        IngestLimits(max_upload_bytes=100_000),
    )
    # wfdb's own line expressions backtrack exponentially on lines like these (10 s of CPU for
    # the first, found by the property test); the field-by-field parser answers at once.
    add(
        "backtracking-record-line",
        422,
        lambda v: _wfdb(
            "rec 1981930842063 70761 7.84329e+146\n~ 310x0+99999999 1.57135e+16(x)/uV 1518857997 e 0 "
            "92266935 9.52965e-226 II\n../x.dat 32x1+24 1e+07/mmHg 45650 ECG1\n",
            v.data,
        ),
    )
    add(
        "backtracking-signal-line",
        422,
        lambda v: _wfdb(
            "rec 1 500 5000\nrec.dat 16 " + "1" * 60 + "." + "2" * 60 + "e" + " 0" * 40 + "\n",
            v.data,
        ),
    )
    add("record-line-only", 422, lambda v: _wfdb("rec 12 500 5000\n", v.data))
    add(
        "signal-line-garbage",
        422,
        lambda v: _wfdb("rec 1 500 5000\nrec.dat 16 1000/mV 16 0 0 0 0 I ( ( (\n!!!\n", v.data),
    )
    return cases


def _with_invalid_samples(data: bytes, count: int) -> bytes:
    samples = np.frombuffer(data, dtype="<i2").copy().reshape(-1, 12)
    samples[:count, 3] = -32768  # the format-16 "invalid sample" value
    return samples.tobytes()


def _edf_field(data: bytes, start: int, width: int, value: str) -> bytes:
    return data[:start] + value.encode("latin-1").ljust(width)[:width] + data[start + width :]


def _edf_signal_field(data: bytes, offset_in_block: int, width: int, value: str) -> bytes:
    """Set a per-signal header field for every one of the file's signals."""
    n_signals = int(data[252:256])
    start = 256 + offset_in_block * n_signals
    for index in range(n_signals):
        data = _edf_field(data, start + index * width, width, value)
    return data


def _edf_cases() -> list[HostileCase]:
    cases = []

    def add(name: str, status: int, build: Callable[[bytes], bytes]) -> None:
        cases.append(
            HostileCase(
                f"edf-{name}", status, lambda v, b=build: [UploadedFile("rec.edf", b(v.edf))]
            )
        )

    for records, status in (
        ("0", 422),
        ("1", 422),
        ("11", 422),
        ("601", 413),
        ("1000000000", 413),
        ("-2", 422),
        ("x", 422),
        ("", 422),
    ):
        add(
            f"lying-record-count-{records or 'blank'}",
            status,
            lambda d, r=records: _edf_field(d, 236, 8, r),
        )
    add("unknown-record-count-truncated", 422, lambda d: _edf_field(d, 236, 8, "-1")[:-7])
    for signals, status in (
        ("0", 422),
        ("12", 422),
        ("14", 422),
        ("17", 413),
        ("9999", 413),
        ("abc", 422),
    ):
        add(f"declares-{signals}-signals", status, lambda d, s=signals: _edf_field(d, 252, 4, s))
    add("header-size-lies", 422, lambda d: _edf_field(d, 184, 8, "512"))
    for duration, status in (
        ("0", 422),
        ("-1", 422),
        ("abc", 422),
        ("1e-9", 413),
        ("nan", 422),
        ("1e300", 422),
    ):
        add(f"record-duration-{duration}", status, lambda d, t=duration: _edf_field(d, 244, 8, t))
    for samples, status in (("0", 422), ("499", 422), ("5000000", 413), ("x", 422)):
        add(
            f"samples-per-record-{samples}",
            status,
            lambda d, s=samples: _edf_signal_field(d, 216, 8, s),
        )
    # Per-signal columns start at 16 (transducer), 96 (dimension), 104/112 (physical min/max),
    # 120/128 (digital min/max), 136 (prefilter) and 216 (samples per record) bytes × signals.
    add("digital-range-empty", 422, lambda d: _edf_signal_field(d, 128, 8, "-32768"))
    add("physical-range-empty", 422, lambda d: _edf_signal_field(d, 112, 8, "-10000"))
    add("units-not-voltage", 422, lambda d: _edf_signal_field(d, 96, 8, "degC"))
    add("discontinuous-edf-plus-d", 415, lambda d: _edf_field(d, 192, 44, "EDF+D"))
    for cut in (255, 300, 3328, 3329, 5000, 100_000):
        add(f"truncated-at-{cut}", 422 if cut >= 256 else 415, lambda d, c=cut: d[:c])
    add("one-extra-byte", 422, lambda d: d + b"\0")
    # Issue 18: an 8 MB annotation channel cost 1.1 GB in pyedflib's annotation parser.
    add(
        "annotation-channel-400000-per-second",
        413,
        lambda d: builders.edf_with_annotations(d, 400_000),
    )
    return cases


def _dicom_case(name: str, status: int, change: Callable[[Dataset], object]) -> HostileCase:
    def build(valid: ValidFiles) -> list[UploadedFile]:
        dataset = valid.dicom()
        change(dataset)
        return [UploadedFile("ecg.dcm", builders.dicom_bytes(dataset))]

    return HostileCase(f"dicom-{name}", status, build)


def _set_group(attribute: str, value: object) -> Callable[[Dataset], None]:
    return lambda dataset: setattr(dataset.WaveformSequence[0], attribute, value)


def _meta_group_length_of_one_byte(valid: ValidFiles) -> bytes:
    """A DICOM file whose (0002,0000) UL element holds one byte instead of four."""
    data = builders.dicom_bytes(valid.dicom())
    return data[:132] + b"\x02\x00\x00\x00UL\x01\x00" + data[140:141] + data[144:]


def _dicom_cases() -> list[HostileCase]:
    cases = [
        _dicom_case("without-waveform-sequence", 422, lambda d: delattr(d, "WaveformSequence")),
        _dicom_case(
            "empty-waveform-sequence",
            422,
            lambda d: setattr(d, "WaveformSequence", DicomSequence([])),
        ),
        _dicom_case(
            "ct-image-sop-class",
            415,
            lambda d: setattr(d, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.2"),
        ),
        _dicom_case(
            "truncated-waveform-data",
            422,
            lambda d: setattr(
                d.WaveformSequence[0], "WaveformData", d.WaveformSequence[0].WaveformData[:1000]
            ),
        ),
        _dicom_case(
            "channel-definitions-missing",
            422,
            _set_group("ChannelDefinitionSequence", DicomSequence([])),
        ),
        _dicom_case("bits-12", 415, _set_group("WaveformBitsAllocated", 12)),
        _dicom_case("float-interpretation", 415, _set_group("WaveformSampleInterpretation", "FL")),
        _dicom_case(
            "units-mmhg",
            422,
            lambda d: [
                setattr(channel.ChannelSensitivityUnitsSequence[0], "CodeValue", "mm[Hg]")
                for channel in d.WaveformSequence[0].ChannelDefinitionSequence
            ],
        ),
    ]
    for channels, status in ((0, 422), (11, 422), (17, 413), (10_000, 413), (65_535, 413)):
        cases.append(
            _dicom_case(
                f"declares-{channels}-channels",
                status,
                _set_group("NumberOfWaveformChannels", channels),
            )
        )
    for samples, status in (
        (0, 422),
        (4000, 422),
        (6000, 422),
        (400_000_000, 413),
        (2**32 - 1, 413),
    ):
        cases.append(
            _dicom_case(
                f"declares-{samples}-samples",
                status,
                _set_group("NumberOfWaveformSamples", samples),
            )
        )
    for fs, status in (("0", 422), ("10", 422), ("1e9", 413), ("-500", 422)):
        cases.append(_dicom_case(f"fs-{fs}", status, _set_group("SamplingFrequency", fs)))

    def truncated(length: int) -> Callable[[ValidFiles], list[UploadedFile]]:
        return lambda v: [UploadedFile("ecg.dcm", builders.dicom_bytes(v.dicom())[:length])]

    # Cut right after the marker, pydicom sees an empty dataset: not an ECG (415).
    cases.append(HostileCase("dicom-file-truncated-at-132", 415, truncated(132)))
    for length in (200, 400, 1000, 5000):
        cases.append(HostileCase(f"dicom-file-truncated-at-{length}", 422, truncated(length)))
    # Issue 18: pydicom inflates a deflated dataset in one call (1 MB -> 1 GB).
    cases.append(
        HostileCase(
            "dicom-deflated-inflates-to-64-mb",
            413,
            lambda v: [UploadedFile("ecg.dcm", builders.deflated_dicom_bytes(v.dicom(), 64 << 20))],
        )
    )
    cases.append(
        HostileCase(
            "dicom-deflated-stream-truncated",
            422,
            lambda v: [UploadedFile("ecg.dcm", builders.deflated_dicom_bytes(v.dicom())[:3000])],
        )
    )
    # Issue 18, found by the HTTP fuzz test: (0002,0000) UL with a 1-byte value -> 500.
    cases.append(
        HostileCase(
            "dicom-meta-group-length-of-one-byte",
            422,
            lambda v: [UploadedFile("ecg.dcm", _meta_group_length_of_one_byte(v))],
        )
    )
    cases.append(
        HostileCase(
            "dicom-marker-then-garbage",
            415,
            lambda v: [UploadedFile("ecg.dcm", b"\0" * 128 + b"DICM" + bytes(range(256)) * 8)],
        )
    )
    return cases


def _entity_documents(root: str, namespace: str) -> dict[str, bytes]:
    """Entity attacks against a document whose root element is ``root``."""
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    laughs = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    return {
        "billion-laughs": f'<?xml version="1.0"?><!DOCTYPE {root} [{laughs}]><{root}{xmlns}>&lol9;</{root}>'.encode(),
        "external-entity": f'<?xml version="1.0"?><!DOCTYPE {root} [<!ENTITY x SYSTEM "file:///etc/passwd">]><{root}{xmlns}>&x;</{root}>'.encode(),
        "external-parameter-entity": f'<?xml version="1.0"?><!DOCTYPE {root} [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]><{root}{xmlns}/>'.encode(),
        "quadratic-blowup": f'<?xml version="1.0"?><!DOCTYPE {root} [<!ENTITY a "{"x" * 10_000}">]><{root}{xmlns}>{"&a;" * 1000}</{root}>'.encode(),
        "unclosed-root": f'<?xml version="1.0"?><{root}{xmlns}><a>'.encode(),
    }


def _xml_cases() -> list[HostileCase]:
    cases = []
    for label, root, namespace in (
        ("muse", "RestingECG", ""),
        ("aecg", "AnnotatedECG", "urn:hl7-org:v3"),
        ("sierra", "restingecgdata", "http://www3.medical.philips.com"),
    ):
        for attack, document in _entity_documents(root, namespace).items():
            cases.append(
                HostileCase(
                    f"{label}-{attack}", 422, lambda v, d=document: [UploadedFile("ecg.xml", d)]
                )
            )
    cases.append(
        HostileCase(
            "xml-unknown-root",
            415,
            lambda v: [UploadedFile("ecg.xml", b"<?xml version='1.0'?><svg/>")],
        )
    )

    def muse(name: str, status: int, change: Callable[[bytes], bytes]) -> None:
        cases.append(
            HostileCase(
                f"muse-{name}", status, lambda v, c=change: [UploadedFile("ecg.xml", c(v.muse))]
            )
        )

    def sub(pattern: str, replacement: str, count: int = 0) -> Callable[[bytes], bytes]:
        return lambda document: re.sub(
            pattern.encode(), replacement.encode(), document, count=count
        )

    signal = builders.sine_ecg()
    muse(
        "base64-garbage",
        422,
        lambda d: builders.muse_xml(signal, 500.0, lead_data="!!!not*base64!!!" * 834 + "===="),
    )
    muse(
        "base64-wrong-length",
        422,
        lambda d: builders.muse_xml(signal, 500.0, lead_data="AAAA" * 100),
    )
    muse(
        "base64-bad-padding", 422, lambda d: builders.muse_xml(signal, 500.0, lead_data="A" * 13336)
    )
    for count, status in (("400000000", 413), ("0", 422), ("4999", 422), ("-5", 422), ("x", 422)):
        muse(
            f"sample-count-{count}",
            status,
            sub(r"<LeadSampleCountTotal>\d+<", f"<LeadSampleCountTotal>{count}<"),
        )
    for base, status in (("0", 422), ("1e9", 413), ("NaN", 422), ("", 422), ("10", 422)):
        muse(
            f"sample-base-{base or 'blank'}",
            status,
            sub(r"<SampleBase>\d+<", f"<SampleBase>{base}<"),
        )
    muse("no-waveform", 422, sub(r"<Waveform>.*</Waveform>", ""))
    muse(
        "seventeen-leads",
        413,
        lambda d: d.replace(
            b"</Waveform>", re.search(rb"<LeadData>.*?</LeadData>", d)[0] * 9 + b"</Waveform>"
        ),
    )
    muse("duplicate-lead", 422, sub(r"<LeadID>V6<", "<LeadID>V5<"))
    muse("lead-sample-size-4", 422, sub(r"<LeadSampleSize>2<", "<LeadSampleSize>4<"))
    muse("units-not-voltage", 422, sub(r"MICROVOLTS", "MMHG"))
    muse("sample-exponent-huge", 422, sub(r"<SampleExponent>0<", "<SampleExponent>400<"))

    def aecg(name: str, status: int, document: Callable[[ValidFiles], bytes]) -> None:
        cases.append(
            HostileCase(
                f"aecg-{name}", status, lambda v, d=document: [UploadedFile("ecg.xml", d(v))]
            )
        )

    aecg(
        "no-series",
        422,
        lambda v: re.sub(rb"<component><series>.*</series></component>", b"", v.aecg),
    )
    for increment, status in (
        ("0", 422),
        ("-0.002", 422),
        ("1", 422),
        ("1e-9", 413),
        ("abc", 422),
        ("nan", 422),
    ):
        aecg(
            f"increment-{increment}",
            status,
            lambda v, i=increment: builders.aecg_xml(signal, 500.0, increment=i),
        )
    aecg("digits-garbage", 422, lambda v: builders.aecg_xml(signal, 500.0, digits="1 2 3 x 5"))
    aecg("digits-nan", 422, lambda v: builders.aecg_xml(signal, 500.0, digits="1 2 nan 4"))
    aecg("digits-empty", 422, lambda v: builders.aecg_xml(signal, 500.0, digits=""))
    aecg(
        "digits-too-many",
        413,
        lambda v: builders.aecg_xml(signal[:1], 500.0, leads=("II",), digits="0 " * 300_001),
    )
    aecg(
        "seventeen-leads",
        413,
        lambda v: builders.aecg_xml(
            np.zeros((17, 10)), 500.0, leads=tuple(f"V{i}" for i in range(17))
        ),
    )
    aecg("leads-of-different-length", 422, lambda v: v.aecg.replace(b"<digits>", b"<digits>7 ", 1))
    aecg("unit-not-voltage", 422, lambda v: builders.aecg_xml(signal, 500.0, unit="mm[Hg]"))
    aecg(
        "no-time-sequence",
        422,
        lambda v: re.sub(
            rb'<component><sequence><code code="TIME_ABSOLUTE"/>.*?</component>',
            b"",
            v.aecg,
            count=1,
        ),
    )

    def sierra(name: str, status: int, document: Callable[[ValidFiles], bytes]) -> None:
        cases.append(
            HostileCase(
                f"sierra-{name}", status, lambda v, d=document: [UploadedFile("ecg.xml", d(v))]
            )
        )

    raw = np.zeros((12, 5000), "<i2").tobytes()
    sierra(
        "xli-decompression-bomb",
        422,
        lambda v: builders.sierra_xml(builders.lzw_bomb_chunk(1500) * 12, compression="XLI"),
    )
    sierra(
        "xli-truncated-chunk",
        422,
        lambda v: builders.sierra_xml(builders.lzw_bomb_chunk(1500)[:500], compression="XLI"),
    )
    sierra(
        "xli-too-few-leads",
        422,
        lambda v: builders.sierra_xml(
            builders.lzw_bomb_chunk(50) * 2, compression="XLI", duration_ms="100"
        ),
    )
    # Issue 18: a sample beyond 16 bits made sierraecg's decoder raise OverflowError (a 500).
    sierra(
        "xli-sample-overflow",
        422,
        lambda v: builders.sierra_xml(
            builders.lzw_run_chunk(1000) * 12, compression="XLI", duration_ms="1000"
        ),
    )
    # 12 leads x 2000 Hz x 600 s declared in 53 kB of codes: decoded one code at a time (it cost
    # 2.3 s of CPU per lead byte by byte), then refused for the same overflow.
    sierra(
        "xli-12-leads-2000-hz-600-s",
        422,
        lambda v: builders.sierra_xml(
            builders.lzw_run_chunk(2_400_000) * 12, compression="XLI", fs_hz="2000",
            duration_ms="600000",
        ),
    )
    sierra("base64-garbage", 422, lambda v: builders.sierra_xml(b"", encoded="$$$$" * 100))
    sierra("uncompressed-wrong-size", 422, lambda v: builders.sierra_xml(raw[:-2]))
    sierra("version-1-02", 415, lambda v: builders.sierra_xml(raw, version="1.02"))
    sierra("compression-unknown", 415, lambda v: builders.sierra_xml(raw, compression="ZIP"))
    for leads, status in ((0, 422), (17, 413), (10_000, 413)):
        sierra(
            f"declares-{leads}-leads",
            status,
            lambda v, n=leads: builders.sierra_xml(raw, n_leads=n),
        )
    for fs, status in (("0", 422), ("1e9", 413), ("x", 422)):
        sierra(f"sampling-rate-{fs}", status, lambda v, f=fs: builders.sierra_xml(raw, fs_hz=f))
    for duration, status in (("1e300", 413), ("900000", 413), ("0", 422), ("-10", 422)):
        sierra(
            f"duration-{duration}",
            status,
            lambda v, t=duration: builders.sierra_xml(raw, duration_ms=t),
        )
    return cases


def _garbage_cases() -> list[HostileCase]:
    rng = np.random.default_rng(20240601)
    cases = []
    for size in (1, 7, 64, 255, 256, 1000, 4096, 65_536, 1_000_000):
        for name in ("ecg.hea", "ecg.xml", "ecg.edf", "ecg.dcm"):
            blob = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
            cases.append(
                HostileCase(
                    f"garbage-{size}-bytes-as-{name}",
                    415,
                    lambda v, b=blob, n=name: [UploadedFile(n, b)],
                )
            )
    for name in ("ecg.hea", "ecg.xml", "ecg.edf", "ecg.dcm", "ecg.dat"):
        cases.append(
            HostileCase(f"empty-file-{name}", 422, lambda v, n=name: [UploadedFile(n, b"")])
        )
    cases.append(HostileCase("no-files", 422, lambda v: []))
    cases.append(
        HostileCase(
            "text-file",
            415,
            lambda v: [UploadedFile("notes.txt", b"Patient Jane Doe, QTc 480 ms\n")],
        )
    )
    cases.append(
        HostileCase(
            "pdf-named-hea",
            415,
            lambda v: [UploadedFile("rec.hea", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj")],
        )
    )
    cases.append(
        HostileCase(
            "utf16-garbage",
            415,
            lambda v: [UploadedFile("ecg.xml", "\ufeffhello world".encode("utf-16"))],
        )
    )
    return cases


def hostile_cases() -> list[HostileCase]:
    """The whole corpus (over 200 cases)."""
    return [*_wfdb_cases(), *_edf_cases(), *_dicom_cases(), *_xml_cases(), *_garbage_cases()]
