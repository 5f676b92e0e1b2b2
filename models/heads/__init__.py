"""Task heads learned from concept tables, and their composition with a concept network.

A concept bottleneck separates ECG → concepts from concepts → risk, so the second half can be
learned from any table of measured concepts — the "independent" CBM of Koh et al. (ICML 2020) —
and put behind any network that predicts the same registry concepts:

* :mod:`models.heads.logistic` — :class:`~models.heads.logistic.LogisticTaskHead`, a logistic
  head on registry concepts (+ age, sex), stored as readable JSON, and
  :class:`~models.heads.logistic.ComposedConceptModel`, a concept network whose task logits
  for some tasks come from such heads (forward pass, interventions and contributions alike);
* :mod:`models.heads.fit` — fitting a head on the ECGRDVQ drug study with leave-one-subject-out
  evaluation against the QTcF-only rule;
* :mod:`models.heads.report` — the HTML report of that evaluation;
* :mod:`models.heads.compose` — writing a bundle whose card names the head in force per task
  and the data each was learned from;
* :mod:`models.heads.commands` — ``qtlens train-head`` and ``qtlens compose-bundle``.
"""
