"""Post-hoc explanations of QTLens models and the CBM-versus-post-hoc comparison.

* :mod:`models.explain.attributions` — captum gradient attributions behind one call,
  ``explain(method, bundle_or_model, ecg, target) -> Attribution``;
* :mod:`models.explain.tcav` — TCAV (captum's concept activation vectors) with random-concept
  significance tests and an on-disk cache of activations and CAVs;
* :mod:`models.explain.metrics` — localisation, faithfulness and the model-randomisation check;
* :mod:`models.explain.compare` — ``qtlens compare``: the CBM against the black box explained
  post hoc, as one HTML + JSON report.
"""
