"""``reaction-train``: data -> model -> fit -> test the best checkpoint -> costs -> results.json."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf
from torch import nn

from reaction.afe import AFEPlan, build_net
from reaction.afe.fit import afe_config, afe_costs, fit_for_data
from reaction.callbacks.resume import RunConfigRecord
from reaction.callbacks.throughput import TrainThroughput
from reaction.cli.validation import validate_config
from reaction.config.conf_dir import CONF_DIR
from reaction.data.schema import FeatureMap
from reaction.fusion.config import fusion_config
from reaction.fusion.objective import FusionObjective
from reaction.lit.labels import run_labels
from reaction.metrics import keys
from reaction.metrics.costs import cost_report
from reaction.models.multilabel import multi_label_net
from reaction.runs.checkpoint import checkpoint_plan
from reaction.runs.load import load_run
from reaction.runs.results import build_results
from reaction.runs.run_dir import RunDir
from reaction.runs.teacher import train_teachers
from reaction.tracking.artifacts import log_artifacts
from reaction.tracking.loggers import finish, log_config, log_final
from reaction.tracking.wandb_mode import ensure_wandb_mode
from reaction.utils.console import quiet_known_warnings


def _instantiate_all(group: DictConfig | None) -> list[Any]:
    """Instantiate every non-null entry of a dict-shaped config group (callbacks, loggers)."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if node is not None]


def _final_metrics(trainer: L.Trainer, val: dict[str, float]) -> dict[str, float]:
    """The tested checkpoint's monitored val metric (``val/auc``, or a label's with
    ``module.monitor_label``), its other ``val`` metrics when measured, and every test metric."""
    metrics = {**val}
    metrics.update(
        {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    )
    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_score if checkpoint else None
    monitor = (checkpoint.monitor if checkpoint else None) or keys.VAL_AUC
    value = best if best is not None else trainer.callback_metrics.get(monitor)
    if value is not None:
        metrics[monitor] = float(value)
    return metrics


def _label_val_metrics(
    trainer: L.Trainer, module: L.LightningModule, datamodule: Any, ckpt: str | None
) -> dict[str, float]:
    """Every label's val metrics of the checkpoint that is tested (multi-label runs only: the
    checkpoint callback keeps only the monitored one, and reports want each label's)."""
    if not module.labels.multi:
        return {}
    (values,) = trainer.validate(
        module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True, verbose=False
    )
    return {k: float(v) for k, v in values.items() if k.startswith("val/")}


def _callbacks(group: DictConfig | None, monitor: str) -> list[Any]:
    """The configured callbacks; those watching ``val/auc`` watch ``monitor`` instead
    (``module.monitor_label``: one label's ``val/<label>/auc``)."""
    if not group or monitor == keys.VAL_AUC:
        return _instantiate_all(group)
    group = copy.deepcopy(group)
    for node in group.values():
        if node is not None and node.get("monitor") == keys.VAL_AUC:
            node.monitor = monitor
    return _instantiate_all(group)


def _served_costs(
    net: nn.Module, feature_map: FeatureMap, batch_size: int, trainer: L.Trainer
) -> dict[str, float]:
    """Costs of the served network, measured on a CPU copy so they compare across machines."""
    costs = cost_report(copy.deepcopy(net).cpu(), feature_map, batch_size=batch_size)
    throughput = next((c for c in trainer.callbacks if isinstance(c, TrainThroughput)), None)
    if throughput is not None and throughput.samples_per_s is not None:
        costs[keys.TRAIN_SAMPLES_PER_S] = throughput.samples_per_s
    return costs


def _objective(
    node: DictConfig | None, feature_map: FeatureMap, teachers: list[Path]
) -> FusionObjective:
    """The training objective the fusion config names (the distillation kinds: the teachers'
    served models, loaded from their run directories)."""
    cfg = fusion_config(OmegaConf.to_container(node, resolve=True) if node else None)
    nets = [load_run(run).net for run in teachers]
    return FusionObjective(cfg, nets, feature_map.vocab_sizes)


def _afe_summary(plan: AFEPlan | None) -> dict[str, Any] | None:
    """The ``afe`` block of ``results.json``: which plan the run served."""
    if plan is None:
        return None
    return {
        "variant": plan.variant,
        "fingerprint": plan.fingerprint(),
        "fields": list(plan.field_names),
        "dropped": {d["field"]: d["reason"] for d in plan.dropped},
    }


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one experiment and return the ``results.json`` payload (written by rank zero)."""
    ensure_wandb_mode()
    # Weights of dead ReLU units decay into denormal floats, and CPU math on denormals is orders
    # of magnitude slower: a DCNv2 demo epoch went from 24 s to 160 s once thousands of its MLP
    # weights were denormal. Flushing them to zero changes nothing measurable.
    torch.set_flush_denormal(True)
    validate_config(cfg)  # every config mistake at once, before any data is read
    afe = afe_config(cfg.get("afe"))
    resolved = OmegaConf.to_container(cfg, resolve=True)
    record = RunConfigRecord(resolved)  # stored in every checkpoint
    run_dir = RunDir(cfg.paths.output_dir)
    resume_from = run_dir.resume_from(cfg.get("resume"))
    if resume_from is not None:
        record.check(resume_from)  # before any data is read or any state restored
    if (finished := run_dir.finished_results(cfg.get("resume"))) is not None:
        return finished
    teachers = train_teachers(cfg, train)  # fusion.teacher_model: trained first, in this run
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data.datamodule)
    datamodule.prepare_and_setup()
    feature_map = datamodule.feature_map
    # A resumed run keeps the plan its checkpoint was trained with (never refits it).
    plan = (
        checkpoint_plan(resume_from)
        if resume_from is not None and afe.enabled
        else fit_for_data(afe, datamodule.data, cfg.model.net.get("embedding_dim"))
    )
    # _partial_: the FeatureMap dataclass must reach the model as is, not as a config node.
    factory = instantiate(cfg.model.net, _partial_=True)
    labels = run_labels(cfg, feature_map)
    net = multi_label_net(lambda: build_net(factory, feature_map, plan), len(labels.names))
    module = instantiate(
        cfg.module,
        net=net,
        objective=_objective(cfg.get("fusion"), feature_map, teachers),
        dataset_labels=list(feature_map.labels),
    )
    loggers: list[Logger] = _instantiate_all(cfg.get("logger"))
    callbacks = [*_callbacks(cfg.get("callbacks"), labels.monitor), record]
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    fingerprints = {"feature_map": feature_map.fingerprint()}
    if plan is not None:
        fingerprints["afe_plan"] = plan.fingerprint()
    try:
        log_config(loggers, resolved, fingerprints)
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
        if plan is not None and trainer.is_global_zero:  # beside the checkpoints (which carry it)
            plan.save(run_dir.plan)
        val = _label_val_metrics(trainer, module, datamodule, cfg.get("test_ckpt"))
        trainer.test(
            module, datamodule=datamodule, ckpt_path=cfg.get("test_ckpt"), weights_only=True
        )
        metrics = _final_metrics(trainer, val)
        # Measured once (rank zero): concurrent ranks would only slow each other's timings down.
        costs = (
            _served_costs(net.served(), feature_map, cfg.cost_batch_size, trainer)
            if trainer.is_global_zero
            else {}
        )
        if plan is not None and costs:
            costs.update(afe_costs(plan, factory, datamodule.data, net))
        log_final(loggers, {**metrics, **costs})
        results = build_results(
            model=cfg.model.name,
            dataset=cfg.data.name,
            seed=cfg.seed,
            metrics=metrics,
            costs=costs,
            data={**datamodule.data_info(), keys.NUM_FIELDS: feature_map.num_fields},
            config=resolved,
            afe=_afe_summary(plan),
        )
        if trainer.is_global_zero:
            run_dir.write_results(results)
            log_artifacts(loggers, run_dir, trainer.ckpt_path, results)
        return results
    finally:
        finish(loggers)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | tuple[float, ...] | None:
    """Console entry point; returns ``optimized_metrics`` (default: the best val AUC) so Hydra
    sweepers can optimise them -- a tuple for Optuna's multi-objective search."""
    from reaction.cli.sweeps import sweep_objective

    quiet_known_warnings()
    return sweep_objective(cfg, train(cfg))


if __name__ == "__main__":
    main()
