"""Precision and recall of every rule against the generator's ground truth."""

from pathlib import Path

import pandas as pd
import pytest
from paths import SAMPLE

from auditkit import audit, load
from auditkit.rules import RULES
from auditkit.sample import generate_sample


def scores(bundle_path: Path) -> pd.DataFrame:
    """Per rule: true positives, false positives, false negatives, precision, recall."""
    found = audit(load(bundle_path)).findings[["rule", "subject_id"]]
    truth = pd.read_csv(bundle_path / "ground_truth.csv", dtype=str)
    both = found.merge(truth, how="outer", indicator=True)
    counts = pd.crosstab(both["rule"], both["_merge"]).reindex(
        index=list(RULES), columns=["both", "left_only", "right_only"], fill_value=0
    )
    counts.columns = ["tp", "fp", "fn"]
    counts["precision"] = counts["tp"] / (counts["tp"] + counts["fp"])
    counts["recall"] = counts["tp"] / (counts["tp"] + counts["fn"])
    return counts


def test_shipped_sample_is_found_exactly():
    table = scores(SAMPLE)
    assert (table["tp"] > 0).all(), table
    assert table["precision"].tolist() == [1.0] * len(RULES), table
    assert table["recall"].tolist() == [1.0] * len(RULES), table


@pytest.mark.parametrize("seed", [11, 23])
def test_generated_year_precision_and_recall(tmp_path, seed):
    generate_sample(tmp_path, clients=150, seed=seed)
    table = scores(tmp_path)
    assert (table["tp"] >= 2).all(), table
    assert table["precision"].min() == 1.0, table
    assert table["recall"].min() == 1.0, table
