"""The one LightningModule that trains and evaluates every CTR model on the same terms.

Models map ``(B, F)`` field ids to logits (``reaction.models.base``); this module owns the loss,
the metrics, the optimizer groups and the logging, which is what makes numbers of different
models comparable.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import nn

from reaction.config import ConfigError
from reaction.data.batch import Batch
from reaction.fusion.config import FusionConfig, tower_mismatch_problem
from reaction.fusion.objective import FusionObjective
from reaction.lit.labels import label_key, label_spec
from reaction.metrics import keys
from reaction.metrics.ctr import TowerMetrics, ctr_metrics
from reaction.models.base import CTRModel
from reaction.models.layers.embedding import split_parameters

STAGES = ("val", "test")


def module_problems(
    lr: float,
    weight_decay: float,
    embedding_lr: float,
    embedding_weight_decay: float,
    plateau_factor: float | None,
) -> list[str]:
    """What is wrong with the optimizer settings (``conf/module``), each naming key and value;
    checked by ``CTRModule`` and, before any data is read, by ``reaction.cli.validation``."""
    rates = {"lr": lr, "embedding_lr": embedding_lr}
    decays = {"weight_decay": weight_decay, "embedding_weight_decay": embedding_weight_decay}
    problems = [f"module.{k}={v}: learning rates must be > 0" for k, v in rates.items() if v <= 0]
    problems += [f"module.{k}={v}: weight decays must be >= 0" for k, v in decays.items() if v < 0]
    if plateau_factor is not None and not 0 < plateau_factor < 1:
        problems.append(
            f"module.plateau_factor={plateau_factor}: plateau_factor must be in (0, 1) or null"
        )
    return problems


class CTRModule(L.LightningModule):
    """BCE-with-logits training of ``net`` on the batch's labels (``labels``: names from
    ``dataset_labels``; null: the first only, ``reaction.lit.labels``), through one path for
    every model: the net's training output (``reaction.models.base.ModelOutput``, ``T`` towers;
    ``T = 1`` for the baselines) goes through ``objective`` (per-tower cross-entropy, the model's
    auxiliary losses and the fusion terms, ``reaction.fusion.objective``; plain cross-entropy by
    default). Every tower is evaluated; ``val/auc`` is the served prediction's (the best tower,
    which the net records at each validation end, or the merged towers) and so are ``test/*``.
    With several towers, each tower's and the towers' average metrics are logged too. With
    several labels the net predicts each (``forward_labels``), the objective sums the labels'
    weighted losses and every key above is logged per label as ``stage/<label>/...``; the
    primary (first) label keeps the plain keys.

    Embedding tables get their own Adam group: CTR embeddings are sparse, huge and overfit
    differently from dense layers, so they usually want another learning rate / weight decay.
    """

    def __init__(
        self,
        net: CTRModel,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        embedding_lr: float = 1e-3,
        embedding_weight_decay: float = 0.0,
        auc_thresholds: int | None = None,
        plateau_factor: float | None = 0.1,
        plateau_patience: int = 0,
        objective: FusionObjective | None = None,
        labels: Sequence[str] | None = None,
        label_weights: Sequence[float] | None = None,
        monitor_label: str | None = None,
        dataset_labels: Sequence[str] = ("click",),
    ) -> None:
        super().__init__()
        problems = module_problems(
            lr, weight_decay, embedding_lr, embedding_weight_decay, plateau_factor
        )
        if problems:
            raise ConfigError(problems, "module config")
        # the label settings stay out: as ListConfigs they would not pass a weights-only
        # checkpoint load, and the run config holds them anyway
        label_args = ["labels", "label_weights", "monitor_label", "dataset_labels"]
        self.save_hyperparameters(ignore=["net", "objective", *label_args])
        self.net = net
        self.objective = objective or FusionObjective(FusionConfig(towers=net.num_towers))
        towers = self.objective.cfg.towers
        if problem := tower_mismatch_problem(towers, net.num_towers, type(net).__name__):
            raise ValueError(problem)
        self.labels = label_spec(labels, label_weights, monitor_label, dataset_labels)
        if net.num_labels != len(self.labels.names):
            raise ValueError(
                f"{type(net).__name__} predicts {net.num_labels} label(s), "
                f"module.labels={list(self.labels.names)} names {len(self.labels.names)}"
            )
        # per stage, one entry per label (label 0 under the plain keys)
        self.towers = nn.ModuleDict(
            {
                stage: nn.ModuleList(
                    TowerMetrics(self._prefix(stage, label), towers, auc_thresholds)
                    for label in self._label_ids
                )
                for stage in STAGES
            }
        )
        self.merged = nn.ModuleDict(
            {
                stage: nn.ModuleList(
                    ctr_metrics(f"{self._prefix(stage, label)}/", auc_thresholds)
                    for label in self._label_ids
                )
                for stage in STAGES
            }
        )

    @property
    def _label_ids(self) -> range:
        return range(len(self.labels.names))

    def _prefix(self, stage: str, label: int) -> str:
        """``val`` for the primary label (the keys every single-label run logs), else
        ``val/<label>``."""
        return stage if label == 0 else f"{stage}/{self.labels.names[label]}"

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)

    def _targets(self, batch: Batch) -> torch.Tensor:
        """``(B, L)``: the trained labels' columns of the batch, in ``module.labels`` order."""
        return batch.labels[:, list(self.labels.columns)]

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        outs = self.net.forward_labels(batch.features, with_hidden=self.objective.needs_hidden)
        terms = self.objective.forward_labels(
            outs, self._targets(batch), self.labels.weights, self.labels.names, batch.features
        )
        for name, value in terms.items():
            if name != "total":
                self.log(f"train/{name}", value, batch_size=len(batch))
        self.log(keys.TRAIN_LOSS, terms["total"], prog_bar=True, batch_size=len(batch))
        return terms["total"]

    def _evaluate(self, batch: Batch, stage: str) -> None:
        targets = self._targets(batch)
        for label, out in enumerate(self.net.forward_labels(batch.features)):
            self.towers[stage][label].update(out.logits, targets[:, label])
            if out.merged is not None:
                self.merged[stage][label].update(out.merged, targets[:, label])

    def _label_metrics(self, stage: str, label: int) -> dict[str, float]:
        """One label's tower metrics (with several towers) and its served prediction's
        ``auc`` / ``logloss``; at validation end its served tower is chosen first."""
        net, prefix = self.net.label_net(label), self._prefix(stage, label)
        values, aucs = self.towers[stage][label].compute_and_reset()
        if net.merges_towers:
            merged = self.merged[stage][label]
            served = {k: float(v) for k, v in merged.compute().items()}
            merged.reset()
        else:
            if stage == "val" and not self.trainer.sanity_checking:
                net.choose_served(aucs)
            k = net.served_index
            served = {f"{prefix}/{m}": values[f"{prefix}/tower{k}/{m}"] for m in ("auc", "logloss")}
            if stage == "val" and net.num_towers > 1:
                served[f"{prefix}/{keys.SERVED_TOWER_NAME}"] = float(k)
        return {**values, **served} if net.num_towers > 1 else served

    def _epoch_metrics(self, stage: str) -> dict[str, float]:
        """Every label's metrics; with several labels the primary's served ``auc`` and
        ``logloss`` also under ``stage/<label>/``, beside the plain keys."""
        values: dict[str, float] = {}
        for label in self._label_ids:
            values.update(self._label_metrics(stage, label))
        if self.labels.multi:
            primary = self.labels.names[0]
            for m in ("auc", "logloss"):
                values[label_key(stage, primary, m)] = values[f"{stage}/{m}"]
        return values

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        values = self._epoch_metrics("val")
        if self.trainer.sanity_checking:
            return
        # already synced by torchmetrics; sync_dist averages identical values (and keeps DDP quiet)
        self.log(keys.VAL_AUC, values.pop(keys.VAL_AUC), prog_bar=True, sync_dist=True)
        self.log_dict(values, sync_dist=True)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self.log_dict(self._epoch_metrics("test"), sync_dist=True)

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig | torch.optim.Optimizer:
        """Adam; with ``plateau_factor`` every learning rate is cut when val AUC stops improving.

        The cut-on-plateau schedule is the usual CTR recipe (FuxiCTR/BARS): one more epoch at a
        lower rate typically adds a few 1e-3 AUC before early stopping ends the run.
        """
        embedding, dense = split_parameters(self.net)
        # the objective's own learned parts (ECKD's gate, BKD's bridge); frozen teachers skipped
        extra_embedding, extra_dense = split_parameters(self.objective)
        embedding, dense = embedding + extra_embedding, dense + extra_dense
        hp = self.hparams
        groups = [
            {"params": embedding, "lr": hp.embedding_lr, "weight_decay": hp.embedding_weight_decay},
            {"params": dense, "lr": hp.lr, "weight_decay": hp.weight_decay},
        ]
        optimizer = torch.optim.Adam([g for g in groups if g["params"]])
        if hp.plateau_factor is None:
            return optimizer
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=hp.plateau_factor, patience=hp.plateau_patience
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "monitor": self.labels.monitor,
                "interval": "epoch",
            },
        }
