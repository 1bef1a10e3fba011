"""The one LightningModule that trains and evaluates every CTR model on the same terms.

Models only map ``(B, F)`` field ids to ``(B,)`` logits; this module owns the loss, the metrics,
the optimizer groups and the logging, which is what makes numbers of different models comparable.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import nn

from reaction.data.batch import Batch
from reaction.fusion.objective import (
    FusionConfig,
    FusionObjective,
    is_multi_tower,
    single_tower_problem,
)
from reaction.metrics import keys
from reaction.metrics.ctr import TowerMetrics, ctr_metrics
from reaction.models.layers.auxiliary import pop_auxiliary_losses
from reaction.models.layers.embedding import split_parameters
from reaction.utils.config import ConfigError


def module_problems(
    lr: float,
    weight_decay: float,
    embedding_lr: float,
    embedding_weight_decay: float,
    plateau_factor: float | None,
) -> list[str]:
    """What is wrong with the optimizer settings (``conf/module``), each naming key and value;
    checked by ``CTRModule`` and, before any data is read, by ``reaction.utils.validation``."""
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
    """BCE-with-logits training of ``net`` on the first label of the batch, plus any auxiliary
    terms its layers produced (``reaction.models.layers.auxiliary``), each logged.

    A multi-tower net (``num_towers``, ``forward_towers``; e.g. REACTION) trains through
    ``objective`` (per-tower cross-entropy + fusion terms, ``reaction.fusion.objective``); every
    tower and the towers' average are evaluated, ``val/auc`` is the best tower's (the one
    served, which the net records) and ``test/*`` are the served tower's.

    Embedding tables get their own Adam group: CTR embeddings are sparse, huge and overfit
    differently from dense layers, so they usually want another learning rate / weight decay.
    """

    def __init__(
        self,
        net: nn.Module,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        embedding_lr: float = 1e-3,
        embedding_weight_decay: float = 0.0,
        auc_thresholds: int | None = None,
        plateau_factor: float | None = 0.1,
        plateau_patience: int = 0,
        objective: FusionObjective | None = None,
    ) -> None:
        super().__init__()
        problems = module_problems(
            lr, weight_decay, embedding_lr, embedding_weight_decay, plateau_factor
        )
        if problems:
            raise ConfigError(problems, "module config")
        self.save_hyperparameters(ignore=["net", "objective"])
        self.net = net
        self.val_metrics = ctr_metrics("val/", auc_thresholds)
        self.test_metrics = ctr_metrics("test/", auc_thresholds)
        self.multi_tower = is_multi_tower(net)
        if objective is not None and not self.multi_tower:
            raise ValueError(single_tower_problem(objective.cfg.kind, net))
        if self.multi_tower:
            self.objective = objective or FusionObjective(FusionConfig(towers=net.num_towers))
            self.val_towers = TowerMetrics("val", net.num_towers, auc_thresholds)
            self.test_towers = TowerMetrics("test", net.num_towers, auc_thresholds)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)

    def _tower_loss(self, batch: Batch) -> torch.Tensor:
        out = self.net.forward_towers(batch.features)
        terms = self.objective(out, batch.labels[:, 0], batch.features)
        for name, value in terms.items():
            if name != "total":
                self.log(f"train/{name}", value, batch_size=len(batch))
        return terms["total"]

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        if self.multi_tower:
            loss = self._tower_loss(batch)
        else:
            loss = F.binary_cross_entropy_with_logits(self.net(batch.features), batch.labels[:, 0])
        for name, term in pop_auxiliary_losses(self.net, batch.labels[:, 0]).items():
            self.log(f"{keys.TRAIN_AUX_PREFIX}/{name}", term, batch_size=len(batch))
            loss = loss + term
        self.log(keys.TRAIN_LOSS, loss, prog_bar=True, batch_size=len(batch))
        return loss

    def _served_logits(self, features: torch.Tensor, tower_logits: torch.Tensor) -> torch.Tensor:
        """The served prediction of a multi-tower net: its merged (reparam) or chosen tower."""
        if self.net.merges_towers:
            return self.net(features)
        return tower_logits[int(self.net.served_index)]

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        if self.multi_tower:  # a chosen served tower is picked at epoch end
            logits = self.net.forward_towers(batch.features).logits
            self.val_towers.update(logits, batch.labels[:, 0])
            if self.net.merges_towers:
                self.val_metrics.update(self.net(batch.features), batch.labels[:, 0])
            return
        self.val_metrics.update(self.net(batch.features), batch.labels[:, 0])
        # Logging the metric objects lets Lightning compute, sync across ranks and reset them.
        self.log_dict(self.val_metrics, on_step=False, on_epoch=True, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        if not self.multi_tower or self.trainer.sanity_checking:
            return
        values, aucs = self.val_towers.compute_and_reset()
        if self.net.merges_towers:
            values.update({k: float(v) for k, v in self.val_metrics.compute().items()})
            self.val_metrics.reset()
        else:
            self.net.choose_served(aucs)
            served = int(self.net.served_index)
            values[keys.VAL_AUC] = values[f"val/tower{served}/auc"]
            values[keys.VAL_LOGLOSS] = values[f"val/tower{served}/logloss"]
            values[keys.SERVED_TOWER] = float(served)
        # already synced by torchmetrics; sync_dist averages identical values (and keeps DDP quiet)
        self.log_dict(values, prog_bar=False, sync_dist=True)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        if self.multi_tower:
            logits = self.net.forward_towers(batch.features).logits
            self.test_towers.update(logits, batch.labels[:, 0])
            served = self._served_logits(batch.features, logits)
        else:
            served = self.net(batch.features)
        self.test_metrics.update(served, batch.labels[:, 0])
        self.log_dict(self.test_metrics, on_step=False, on_epoch=True)

    def on_test_epoch_end(self) -> None:
        if self.multi_tower:
            self.log_dict(self.test_towers.compute_and_reset()[0], sync_dist=True)

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig | torch.optim.Optimizer:
        """Adam; with ``plateau_factor`` every learning rate is cut when val AUC stops improving.

        The cut-on-plateau schedule is the usual CTR recipe (FuxiCTR/BARS): one more epoch at a
        lower rate typically adds a few 1e-3 AUC before early stopping ends the run.
        """
        embedding, dense = split_parameters(self.net)
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
            "lr_scheduler": {"scheduler": scheduler, "monitor": keys.VAL_AUC, "interval": "epoch"},
        }
