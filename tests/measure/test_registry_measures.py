"""Every concept of the registry is either measured by its own function or derived, never both."""

from __future__ import annotations

import subprocess
import sys

from models.concepts import REGISTRY
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
