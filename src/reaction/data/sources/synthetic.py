"""Raw sources: where a dataset's raw split files come from, before preprocessing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from reaction.data.preprocess import SPLITS, RawSplits
from reaction.data.synthetic import GroundTruth, SyntheticConfig, ensure_generated
from reaction.metrics import keys


class SyntheticSource:
    """The synthetic generator as a raw source: generated once per config, then reused.

    Each semantically distinct config gets its own folder under ``root``, so sweeping the data
    size or seed never overwrites another dataset.
    """

    def __init__(self, root: str, config: SyntheticConfig, name: str = "synthetic") -> None:
        self.root = Path(root)
        self.config = config
        self.name = name
        self._truth: GroundTruth | None = None

    @property
    def out_dir(self) -> Path:
        digest = hashlib.sha256(
            json.dumps(self.config.semantic_dict(), sort_keys=True).encode()
        ).hexdigest()
        return self.root / f"{self.name}-{digest[:12]}"

    @property
    def truth(self) -> GroundTruth:
        if self._truth is None:
            self._truth = ensure_generated(self.config, self.out_dir)
        return self._truth

    def prepare(self) -> RawSplits:
        truth = self.truth
        split_paths = {split: (self.out_dir / f"{split}.parquet",) for split in SPLITS}
        return RawSplits(
            **split_paths,
            labels=tuple(truth.labels),
            categorical=tuple(truth.names(kind="categorical")),
            numeric=tuple(truth.names(kind="numeric")),
            dataset=self.name,
        )

    def reference_metrics(self) -> dict[str, float]:
        """The ceiling a model is measured against: Bayes-optimal test AUC/logloss of click, and
        of every further label (``conversion``) as ``bayes_auc/<label>``."""
        first, *others = self.truth.labels
        metrics = {
            keys.BAYES_AUC: self.truth.bayes_auc[first]["test"],
            "bayes_logloss": self.truth.bayes_logloss[first]["test"],
        }
        for label in others:
            metrics[f"{keys.BAYES_AUC}/{label}"] = self.truth.bayes_auc[label]["test"]
            metrics[f"bayes_logloss/{label}"] = self.truth.bayes_logloss[label]["test"]
        return metrics
