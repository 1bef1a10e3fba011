"""The CTR metrics equal scikit-learn's on random data, batch-split or not."""

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

from reaction.metrics.ctr import ctr_metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_and_logloss_equal_sklearn_over_uneven_batches(seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, size=3001).astype(np.float32)
    labels = (rng.random(3001) < 0.25).astype(np.float32)
    metrics = ctr_metrics("val/")
    for chunk in np.array_split(np.arange(3001), 7):
        metrics.update(torch.from_numpy(logits[chunk]), torch.from_numpy(labels[chunk]))
    result = metrics.compute()
    probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
    assert result["val/auc"].item() == pytest.approx(roc_auc_score(labels, probs), abs=1e-6)
    assert result["val/logloss"].item() == pytest.approx(log_loss(labels, probs), abs=1e-5)


def test_logloss_stays_finite_for_saturated_logits() -> None:
    metrics = ctr_metrics("test/")
    metrics.update(torch.tensor([80.0, -80.0]), torch.tensor([0.0, 1.0]))
    value = metrics.compute()["test/logloss"].item()
    assert np.isfinite(value) and value == pytest.approx(80.0, rel=1e-3)


def test_binned_auc_is_close_to_exact() -> None:
    rng = np.random.default_rng(3)
    logits = torch.from_numpy(rng.normal(size=20_000).astype(np.float32))
    labels = (
        torch.rand(20_000, generator=torch.Generator().manual_seed(0)) < torch.sigmoid(logits)
    ).float()
    exact, binned = ctr_metrics("a/"), ctr_metrics("b/", auc_thresholds=2000)
    exact.update(logits, labels)
    binned.update(logits, labels)
    assert binned.compute()["b/auc"].item() == pytest.approx(
        exact.compute()["a/auc"].item(), abs=2e-3
    )
