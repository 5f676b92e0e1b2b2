"""The one split rule of the real development records (models.data.splits)."""

from __future__ import annotations

import numpy as np
import pytest

from models.data.real import RealSet
from models.data.splits import ROLES, name_role, ptbxl_role, record_role


def test_ptbxl_roles_follow_strat_fold() -> None:
    assert [ptbxl_role(fold) for fold in range(1, 9)] == ["train"] * 6 + ["tune", "check"]
    with pytest.raises(ValueError, match="strat_fold"):
        record_role("ptbxl", "00001")


def test_name_roles_are_stable_and_cover_every_role() -> None:
    names = [str(i) for i in range(1, 400)]
    roles = [name_role(name) for name in names]
    assert roles == [record_role("ludb", name) for name in names]
    share = {role: roles.count(role) / len(roles) for role in ROLES}
    assert 0.5 < share["train"] < 0.7 and 0.05 < share["tune"] < 0.16 and 0.2 < share["check"] < 0.4
    assert name_role("E07504") == "train" and name_role("1") == "check"


def test_real_set_roles_are_disjoint_per_record(real_set: RealSet) -> None:
    """Every window of a record has that record's role (QTDB windows never straddle roles)."""
    base = np.array([name.split("@")[0] for name in real_set.record_id])
    for dataset in np.unique(real_set.dataset):
        rows = real_set.dataset == dataset
        for record in np.unique(base[rows]):
            assert len(set(real_set.role[rows & (base == record)])) == 1
    summary = real_set.summary()
    assert all(summary[name]["check"] > 0 for name in summary)
    assert summary["ptbxl"]["train"] > 200
