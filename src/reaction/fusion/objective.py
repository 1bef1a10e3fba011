"""The training objective of every model: per-tower cross-entropy plus the fusion terms.

``fusion.kind`` picks the paper's variants (REACTION.md, "DTF"): ``none`` (cross-entropy only),
``dtf`` (the three fusion losses between every pair of towers), ``entropy_reg`` (a confidence
penalty, Pereyra et al. 2017), ``kd`` / ``eckd`` / ``bkd`` (distillation from trained teachers:
``reaction.fusion.distillation``), ``reparam`` (our variant: cross-entropy only, the towers share
weights and merge, ``reaction.models.layers.reparam_towers``).
Tower ``k``'s loss is::

    CE_k + scale(t) * (1 / (T - 1)) sum_{j != k} [alpha L_srf + beta L_rrf + gamma L_contra](k, j)

and the objective is the sum over towers, so every tower gets the gradient it would get alone plus
one partner's worth of fusion, whatever ``T``. ``scale(t)`` is set by the fusion schedule.

``ensemble_kd`` (ours, off in the paper's configs) adds prediction-level mutual distillation:
tower ``k`` also fits ``sigmoid(mean_j z_j)``, the towers' ensemble, held fixed for the step
(``ensemble_kd x BCE(z_k, p_ens)``, unscheduled). The feature-level terms above align what the
towers compute; this passes on what the ensemble predicts, which a single served tower otherwise
never sees (online ensemble distillation, as in ONE / "From Collapse to Stability").

Several labels (``forward_labels``): each label's output gets all of the above against its own
label column (the fusion terms stay on that label's towers' hidden states) and the total is
``sum_l w_l total_l``; one label with weight 1 is exactly the single-label objective.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reaction.fusion.config import DISTILL_KINDS, FusionConfig
from reaction.fusion.distillation import Distiller, make_distiller
from reaction.fusion.losses import (
    contrastive_fusion,
    normalized_states,
    relational_fusion,
    sampled_pairs,
    spatial_fusion,
)
from reaction.models.base import ModelOutput

AUX_PREFIX = "aux"  # the model's own loss terms (ModelOutput.aux_losses), logged as aux/<name>


class FusionObjective(nn.Module):
    """``(model output, labels[, features]) -> {term: value}``; ``total`` is optimised.

    Every model trains through it: with ``fusion=none`` and one tower it is plain binary
    cross-entropy (plus the model's auxiliary losses). ``scale`` (set by the schedule callback)
    multiplies every fusion weight. The teachers of the distillation kinds are frozen modules
    evaluated here (``distiller``), so they follow the model's device; ECKD's gate and BKD's
    bridge are trained here too (``CTRModule`` optimises the objective's trainable parameters).
    ``vocab_sizes``: the ids' vocabulary per field, which the gate and the bridge embed.
    """

    def __init__(
        self,
        cfg: FusionConfig | None = None,
        teacher: nn.Module | Sequence[nn.Module] | None = None,
        vocab_sizes: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        cfg = cfg or FusionConfig()
        teachers = [teacher] if isinstance(teacher, nn.Module) else list(teacher or [])
        if (cfg.kind in DISTILL_KINDS) != bool(teachers):
            raise ValueError(
                f"teacher nets are needed exactly when fusion.kind is in {DISTILL_KINDS}"
            )
        self.cfg = cfg
        self.scale = 1.0
        self.distiller: Distiller | None = (
            make_distiller(cfg, teachers, vocab_sizes) if teachers else None
        )

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object) -> None:
        # checkpoints of ``fusion=kd`` runs written before several teachers held it at ``teacher``
        old, new = prefix + "teacher.", prefix + "distiller.teachers.nets.0."
        for key in [k for k in state_dict if k.startswith(old)]:
            state_dict[new + key[len(old) :]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args)

    @property
    def teacher(self) -> nn.Module | None:
        """The first teacher (``kd`` with one teacher: the teacher)."""
        return self.distiller.teachers.nets[0] if self.distiller is not None else None

    @property
    def needs_hidden(self) -> bool:
        """Whether the towers' hidden states enter the loss (DTF's fusion terms, BKD's hint)."""
        return self.cfg.kind in ("dtf", "bkd")

    def _pair_terms(self, out: ModelOutput) -> dict[str, torch.Tensor]:
        """Mean over tower pairs (all, or ``pairs_per_step`` drawn for this step) of each fusion
        loss (spatial: also over hidden layers). The last layer is normalised once for all pairs;
        spatial fusion needs only the states' norms."""
        cfg = self.cfg
        pairs = sampled_pairs(out.num_towers, cfg.pairs_per_step)
        layers = list(zip(*out.hidden, strict=True))  # per hidden layer, every tower's (B, H)
        last = normalized_states(layers[-1])
        spatial = torch.stack([spatial_fusion(layer, pairs, cfg.margin) for layer in layers])
        return {
            "srf": spatial.mean(),
            "rrf": relational_fusion(last, pairs).mean(),
            "contra": contrastive_fusion(last, pairs, cfg.tau, cfg.contra_negatives).mean(),
        }

    def forward(
        self, out: ModelOutput, labels: torch.Tensor, features: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        ce = torch.stack([F.binary_cross_entropy_with_logits(z, labels) for z in out.logits])
        terms = {f"ce/tower{k}": value for k, value in enumerate(ce)} if len(ce) > 1 else {}
        total = ce.sum() if self.distiller is None else self.cfg.ce_weight * ce.sum()
        label_terms = {name: term(labels) for name, term in out.label_losses.items()}
        for name, value in {**out.aux_losses, **label_terms}.items():
            terms[f"{AUX_PREFIX}/{name}"] = value
            total = total + value
        if self.cfg.kind == "dtf" and out.num_towers > 1:
            total = total + self._dtf(out, terms)
        elif self.cfg.kind == "entropy_reg":
            total = total + self._confidence_penalty(out, terms)
        elif self.distiller is not None:
            student, own = self.distiller(out, labels, features, terms)
            total = total + self.scale * student + own
        terms["total"] = total
        return terms

    def forward_labels(
        self,
        outs: Sequence[ModelOutput],
        labels: torch.Tensor,
        weights: Sequence[float],
        names: Sequence[str],
        features: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """``outs[l]`` against ``labels[:, l]`` (``(B, L)``), summed with ``weights``.

        With several labels every term is keyed ``<label>/<term>`` and ``<label>/loss`` is that
        label's unweighted total; with one the keys are the single-label ones.
        """
        if len(outs) == 1:
            single = self(outs[0], labels[:, 0], features)
            single["total"] = weights[0] * single["total"]  # x 1.0 is exact: L = 1 is unchanged
            return single
        terms: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=labels.device)
        for column, (out, weight, name) in enumerate(zip(outs, weights, names, strict=True)):
            label_terms = self(out, labels[:, column], features)
            label_total = label_terms.pop("total")
            terms.update({f"{name}/{k}": v for k, v in label_terms.items()})
            terms[f"{name}/loss"] = label_total
            total = total + weight * label_total
        terms["total"] = total
        return terms

    def _dtf(self, out: ModelOutput, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        cfg, fused = self.cfg, self._pair_terms(out)
        terms.update(fused)
        # sum over towers of (1 / (T - 1)) sum_{j != k} = 2 / (T - 1) x sum over the T (T - 1) / 2
        # pairs = T x the mean over pairs
        weighted = cfg.alpha * fused["srf"] + cfg.beta * fused["rrf"] + cfg.gamma * fused["contra"]
        total = self.scale * out.num_towers * weighted
        if cfg.ensemble_kd > 0:
            total = total + cfg.ensemble_kd * self._ensemble_distillation(out, terms)
        return total

    @staticmethod
    def _ensemble_distillation(out: ModelOutput, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum over towers of ``BCE(z_k, sigmoid(mean_j z_j))``, the ensemble detached."""
        target = torch.sigmoid(out.logits.mean(dim=0)).detach().expand_as(out.logits)
        per_tower = F.binary_cross_entropy_with_logits(out.logits, target, reduction="none")
        terms["ensemble_kd"] = per_tower.mean()
        return per_tower.mean(dim=1).sum()

    def _confidence_penalty(self, out: ModelOutput, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        p = torch.sigmoid(out.logits)
        entropy = F.binary_cross_entropy(p, p, reduction="none").mean(1)  # H(p) per tower
        terms["entropy"] = entropy.mean()
        return -self.scale * self.cfg.entropy_weight * entropy.sum()
