"""Every concept of the registry is either measured by its own function or derived, never both;
a value is flagged exactly when it lies outside the usual range shown beside it."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from models.concepts import REGISTRY, FlagLevel, get_concept
from models.ecg import concept_measures


def test_every_measured_concept_has_its_function_and_every_derived_one_a_formula() -> None:
    for concept in REGISTRY:
        if concept.is_derived:
            assert concept.derive is not None and concept.measure is None, concept.name
        else:
            assert concept.measure is getattr(concept_measures, f"measure_{concept.name}"), concept.name


def test_no_measurement_function_is_left_without_a_concept() -> None:
    functions = {name for name in dir(concept_measures) if name.startswith("measure_")}
    wired = {concept.measure.__name__ for concept in REGISTRY if concept.measure is not None}
    assert functions == wired


def test_rate_corrected_concepts_are_the_rr_based_corrections() -> None:
    corrected = {concept.name for concept in REGISTRY if concept.rate_corrected}
    assert corrected == {
        "qtc_bazett", "qtc_fridericia", "qtc_framingham", "qtc_hodges", "jtpeak_c", "qtc_variability",
    }


def test_the_registry_imports_without_neurokit2() -> None:
    code = "import sys, models.concepts; print('neurokit2' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("concept", [c for c in REGISTRY if not c.is_binary], ids=lambda c: c.name)
@pytest.mark.parametrize("sex", ["male", "female", None])
def test_a_value_is_flagged_exactly_when_it_lies_outside_the_range_shown(concept, sex) -> None:
    """The screen never shows "normal" beside a range that excludes the value, nor a flag beside
    one that includes it (J-Tpeak_c 120 ms next to "170–260 ms" was unflagged). A raw interval
    whose range holds at 60 bpm says so and is flagged only by its own cut-offs."""
    low, high = concept.normal_bounds(sex)
    span = (high if high is not None else 0.0) - (low if low is not None else 0.0)
    step = max(abs(span), 1.0) * 0.02
    shown = concept.normal_range_text(sex)
    for bound, outside in ((low, -step), (high, step)):
        if bound is None:
            continue
        assert concept.flag(bound, sex).level is FlagLevel.NORMAL, (bound, shown)
        beyond = concept.flag(bound + outside, sex)
        if concept.range_at_60_bpm:
            assert shown.endswith("at 60 bpm") and beyond.level is FlagLevel.NORMAL, shown
        else:
            assert beyond.out_of_range, (bound + outside, shown)


def test_the_range_follows_the_sex_specific_cut_off_and_the_rate() -> None:
    qtc = get_concept("qtc_fridericia")
    assert qtc.normal_range_text("female") == "340–460 ms"
    assert qtc.normal_range_text("male") == "340–450 ms"
    assert qtc.normal_range_text(None) == "340–450 ms"  # unknown sex: the sensitive limit
    assert qtc.flag(455, "female").level is FlagLevel.NORMAL
    assert qtc.flag(455, "male").level is FlagLevel.BORDERLINE
    # "≥ 480 ms" means 480 itself; the Schwartz score is named only where it counts: Bazett's.
    assert qtc.flag(480, "female").level is FlagLevel.ABNORMAL
    assert qtc.flag(479.9, "female").level is FlagLevel.BORDERLINE
    assert qtc.flag(500, "female").level is FlagLevel.ABNORMAL  # "> 500 ms" is critical
    assert "Schwartz LQTS score counts Bazett" in qtc.flag(480).note
    assert get_concept("qtc_bazett").flag(480).note.endswith("in the Schwartz LQTS score")
    jtpeak_c = get_concept("jtpeak_c")  # no clinical cut-off below: the usual range flags it
    assert jtpeak_c.flag(120).level is FlagLevel.BORDERLINE
    assert jtpeak_c.flag(120).note == "below the usual range"
    qt = get_concept("qt")  # a raw interval: 330 ms is normal at 110 bpm; QTc carries the flag
    assert qt.normal_range_text() == "350–440 ms at 60 bpm"
    assert qt.flag(330).level is FlagLevel.NORMAL and qt.flag(520).level is FlagLevel.CRITICAL
    assert get_concept("heart_rate").normal_range_text() == "50–100 bpm"  # AHA bradycardia cut-off


def test_a_heart_rate_is_flagged_as_its_rr_interval_is() -> None:
    """A derived view never disagrees with its input: 130 bpm is the same marked tachycardia
    whether read as a rate or as an RR of 462 ms, 250 bpm is critical both ways."""
    heart_rate, rr = get_concept("heart_rate"), get_concept("rr")
    for bpm in np.arange(25.5, 260.0, 1.0):
        by_rate, by_rr = heart_rate.flag(float(bpm)), rr.flag(60000.0 / float(bpm))
        assert (by_rate.level, by_rate.note) == (by_rr.level, by_rr.note), bpm
    assert heart_rate.flag(130.0).level is FlagLevel.ABNORMAL
    assert heart_rate.flag(250.0).level is FlagLevel.CRITICAL


def _context(delineation: SimpleNamespace) -> concept_measures.MeasureContext:
    """A measured record with the given delineation (its leads named by ``delineation.leads``),
    for calling the measurement rules the way the pipeline does."""
    return concept_measures.MeasureContext(fs_hz=500.0, lead_names=tuple(delineation.leads),
                                           beats=SimpleNamespace(), delineation=delineation)


@pytest.mark.parametrize("lead", ["II", "V5"])
def test_a_t_amplitude_is_flagged_inverted_exactly_when_the_finding_counts_it(lead) -> None:
    """The T-amplitude row and the Inverted-T row never contradict each other: a T wave of
    −0.02 mV in V5 was flagged "inverted T wave" beside "Inverted T: no" (HL7 aECG sample). A
    shallower negative T is flat (borderline), a deeper one inverted on both rows."""
    concept = get_concept(f"t_amplitude_{lead.lower()}")
    for amplitude_mv in np.round(np.arange(-0.20, 0.20, 0.01), 2):
        other = "V5" if lead == "II" else "II"
        leads = {lead: SimpleNamespace(t_amplitude_mv=float(amplitude_mv)),
                 other: SimpleNamespace(t_amplitude_mv=0.3)}
        finding = concept_measures.measure_t_inverted(_context(SimpleNamespace(leads=leads)))
        flag = concept.flag(float(amplitude_mv))
        assert (flag.note == "inverted T wave") == (finding == 1.0), (amplitude_mv, flag)
        if -0.05 <= amplitude_mv < 0.1:
            assert (flag.level, flag.note) == (FlagLevel.BORDERLINE, "flat T wave"), amplitude_mv


def test_a_qrs_is_flagged_wide_exactly_when_qt_is_declined_for_it() -> None:
    """A QRS of 120 ms was flagged "incomplete conduction delay" beside "QT unavailable: QRS is
    120 ms (≥ 120 ms)" (HL7 aECG sample): the QRS row's "wide" flag and the QT rule agree."""
    qrs = get_concept("qrs")
    for qrs_ms in np.arange(100.0, 140.0, 0.5):
        context = _context(SimpleNamespace(
            leads={"II": SimpleNamespace()},
            global_fiducials=SimpleNamespace(qrs_onset_s=-0.04, qrs_offset_s=-0.04 + qrs_ms / 1000,
                                             t_end_s=0.4)))
        declined = isinstance(concept_measures.measure_qt(context), concept_measures.Unavailable)
        measured = concept_measures.measure_qrs(context)
        wide = qrs.flag(measured)
        assert (wide.note == "wide QRS: QT less interpretable") == declined, qrs_ms
        assert (wide.level is FlagLevel.ABNORMAL) == declined, qrs_ms


def test_a_measured_rows_flag_names_a_finding_only_where_the_finding_is_read_from_it() -> None:
    """T flatness 0.88 was flagged "flat, broad T wave" beside "Broad-based T: no" (10 of 431
    real records): a flatness index measures shape, the finding duration. A continuous row's
    flag may name a binary finding only when the finding is defined on that row's value."""
    read_from = {"inverted": {"t_amplitude_ii", "t_amplitude_v5"}}
    findings = {"inverted", "notched", "broad", "broad-based", "late-onset", "alternans"}
    for concept in REGISTRY:
        if concept.is_binary:
            continue
        for threshold in concept.thresholds:
            for word in findings & set(threshold.note.lower().replace(",", " ").split()):
                assert concept.name in read_from.get(word, set()), (concept.name, threshold.note)
