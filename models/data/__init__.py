"""Public ECG datasets as :class:`~models.ecg.record.Ecg` records with their labels/annotations."""
