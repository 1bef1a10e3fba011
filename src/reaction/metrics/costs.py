"""Model cost accounting: parameters, FLOPs, embedding bytes, latency. Independent of Lightning.

REACTION's claim is accuracy at a fraction of the cost, so every run reports the same cost keys
(``reaction.metrics.keys``), measured the same way for every model.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from reaction.data.schema import FeatureMap
from reaction.metrics import keys
from reaction.models.layers.embedding import FieldEmbedding, split_parameters


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable parameters; embedding = owned by a ``FieldEmbedding`` (``split_parameters``)."""
    embedding, dense = split_parameters(model)
    n_embedding = sum(p.numel() for p in embedding)
    n_dense = sum(p.numel() for p in dense)
    return {
        keys.PARAMS_TOTAL: n_embedding + n_dense,
        keys.PARAMS_EMBEDDING: n_embedding,
        keys.PARAMS_DENSE: n_dense,
    }


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode for the block, then the caller's mode back (cost probes must not change it)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def flops_per_sample(model: nn.Module, features: torch.Tensor) -> float:
    """Inference FLOPs per sample of one eval-mode forward on ``features`` ``(B, F)``.

    Counted by ``torch.utils.flop_counter.FlopCounterMode``: matmul-like ops only (``mm``,
    ``addmm``, ``bmm``, convolutions, attention), ``2 * M * N * K`` each, so a ``Linear(i, o)``
    costs ``2 i o`` per sample (its bias add is not counted). Embedding gathers, element-wise ops
    (the cross network's ``x_0 *``, activations, BatchNorm) and reductions count as 0; embedding
    memory traffic is reported separately by ``embedding_bytes_per_sample``.
    """
    if features.dim() != 2 or features.shape[0] < 1:
        raise ValueError(f"features must be (B, F) with B >= 1, got {tuple(features.shape)}")
    counter = FlopCounterMode(display=False)
    with _eval_mode(model), torch.no_grad(), counter:
        model(features)
    return counter.get_total_flops() / features.shape[0]


def embedding_bytes_per_sample(model: nn.Module) -> int:
    """Bytes of embedding rows one sample reads: ``sum over FieldEmbedding of F * D * itemsize``.

    The memory-bound side of CTR inference that FLOPs miss; shrinks when AFE drops fields or dims.
    """
    total = 0
    for module in model.modules():
        if isinstance(module, FieldEmbedding):
            weight = module.table.weight
            total += module.num_fields * module.embedding_dim * weight.element_size()
    return total


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_call_ms(
    call: Callable[[], object],
    repeats: int = 20,
    warmup: int = 5,
    device: torch.device | str = "cpu",
) -> float:
    """Median milliseconds of ``call()`` after ``warmup`` untimed calls.

    CUDA is synchronised around each timed call so the time covers the kernels, not the launch.
    The median resists scheduler noise better than the mean.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(
            f"need repeats >= 1 and warmup >= 0, got repeats={repeats} warmup={warmup}"
        )
    device = torch.device(device)
    for _ in range(warmup):
        call()
    times_ms: list[float] = []
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        call()
        _synchronize(device)
        times_ms.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times_ms)


def measure_latency(
    model: nn.Module, features: torch.Tensor, repeats: int = 20, warmup: int = 5
) -> tuple[float, float]:
    """Median milliseconds per batch and samples per second of eval-mode inference.

    Runs on ``features``' device (the model must already be there), under ``inference_mode``.
    """
    with _eval_mode(model), torch.inference_mode():
        median_ms = median_call_ms(lambda: model(features), repeats, warmup, features.device)
    return median_ms, features.shape[0] / (median_ms / 1e3)


def random_features(
    feature_map: FeatureMap, batch_size: int, seed: int = 0, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """``(B, F)`` int64 ids, uniform over each field's full id range (special ids included)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    columns = [
        torch.randint(0, size, (batch_size,), generator=generator)
        for size in feature_map.vocab_sizes
    ]
    return torch.stack(columns, dim=1).to(device)


def cost_report(
    model: nn.Module,
    feature_map: FeatureMap,
    batch_size: int = 4096,
    repeats: int = 20,
    warmup: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Every cost key of ``reaction.metrics.keys`` for ``model``, on random ids of one batch.

    Measured on the device the model's parameters live on (CPU for the reported latency).
    """
    device = next(model.parameters()).device
    features = random_features(feature_map, batch_size, seed=seed, device=device)
    ms_per_batch, samples_per_s = measure_latency(model, features, repeats=repeats, warmup=warmup)
    report: dict[str, float] = {k: float(v) for k, v in count_parameters(model).items()}
    report[keys.FLOPS_PER_SAMPLE] = flops_per_sample(model, features)
    report[keys.EMBEDDING_BYTES_PER_SAMPLE] = float(embedding_bytes_per_sample(model))
    report[keys.LATENCY_MS_PER_BATCH] = ms_per_batch
    report[keys.LATENCY_BATCH_SIZE] = float(batch_size)
    report[keys.THROUGHPUT] = samples_per_s
    return report
