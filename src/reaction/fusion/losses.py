"""DTF's fusion losses (REACTION.md, "DTF") for every pair of towers at once.

Each takes one hidden layer of all ``T`` towers, ``T`` tensors ``(B, H)`` -- relational and
contrastive fusion **row-normalised once** (``normalized_states``), spatial fusion the raw
states (a cosine needs only their norms) -- and the unordered tower pairs to fuse
(``all_pairs`` or ``sampled_pairs``); it returns one value per pair, small when the two towers
agree; its gradient flows into both towers.
Spatial and relational fusion are exactly 0 for identical towers; InfoNCE is not (its value for
identical towers is the log-partition of the in-batch negatives), see ``contrastive_fusion``.

Why batched: written per pair, the objective normalised each tower's states once per partner and
built two ``B x B`` similarity matrices per pair for the relational term, so a training step grew
with ``T^2 B^2``. Here normalisation is shared, spatial fusion is one row-wise product per pair
with a hand-written backward (``PairCosines``), and the relational term uses an exact identity
that needs no ``B x B`` matrix (``relational_fusion``). Only InfoNCE needs its ``B x B`` logits;
it runs once per unordered pair (it is symmetric), over blocks of ``negatives`` rows if asked,
with one ``exp`` for both directions. All pairs still cost ``O(T^2)`` per sample against the
towers' ``O(T)``; ``sampled_pairs`` draws ``k`` of them per step instead, an unbiased estimate of
the mean over pairs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from reaction.fusion.autograd_ops import (
    EXP_RANGE,
    BlockInfoNCE,
    PairCosines,
    PairGramGaps,
    Pairs,
    UnitRows,
)


def all_pairs(num_towers: int) -> Pairs:
    """The unordered pairs ``i < j`` in ``combinations`` order."""
    if num_towers < 2:
        raise ValueError(f"fusion needs at least 2 towers, got {num_towers}")
    return list(itertools.combinations(range(num_towers), 2))


def sampled_pairs(num_towers: int, k: int | None) -> Pairs:
    """``k`` distinct pairs drawn uniformly (torch's seeded RNG), or all of them (``k`` None or
    >= their number). The mean of a loss over them is an unbiased estimate of its mean over all
    pairs."""
    pairs = all_pairs(num_towers)
    if k is None or k >= len(pairs):
        return pairs
    return [pairs[i] for i in sorted(torch.randperm(len(pairs))[:k].tolist())]


def normalized_states(layer_per_tower: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``T`` tensors ``(B, H)`` with every row scaled to unit length (each tower on its own: a
    stacked copy would cost a pass forward and one backward)."""
    with _float32(layer_per_tower):
        return [UnitRows.apply(states.float()) for states in _checked(layer_per_tower)]


def _float32(states: Sequence[torch.Tensor]) -> torch.autocast:
    """Autocast off: the fusion terms run in float32 even under bf16/fp16 autocast (their
    hand-written backwards assume one dtype, and the relational identity needs float32)."""
    return torch.autocast(states[0].device.type, enabled=False)


def _checked(layer_per_tower: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    shapes = {tuple(h.shape) for h in layer_per_tower}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"towers' states of one layer must all be (B, H), got {sorted(shapes)}")
    return list(layer_per_tower)


def spatial_fusion(
    layer_per_tower: Sequence[torch.Tensor], pairs: Pairs, margin: float
) -> torch.Tensor:
    """``L_srf = mean_i max(0, 1 - cos(h_a[i], h_b[i]) - m1)`` per pair ``(a, b)``: ``(P,)``.

    Per-sample alignment of one layer; the margin ``m1`` leaves positions already within
    ``1 - m1`` cosine alone, so the towers keep some freedom (identical towers: 0).
    Takes the towers' raw states (normalised ones give the same value): ``cos = <h_a, h_b> /
    (|h_a| |h_b|)`` needs only each tower's norms, not a normalised copy of the layer, and one
    row-wise product per pair (``PairCosines``) is far cheaper than ``B`` tiny ``T x T``
    products, above all in backward.
    """
    with _float32(layer_per_tower):
        towers = [states.float() for states in _checked(layer_per_tower)]
        cosines = PairCosines.apply(pairs, *towers)  # (P, B)
    return F.relu(1.0 - cosines - margin).mean(dim=1)


def relational_fusion(states: Sequence[torch.Tensor], pairs: Pairs) -> torch.Tensor:
    """``L_rrf = mean (R_a - R_b)^2`` per pair, ``R = norm(H) norm(H)^T`` the in-batch cosines.

    Aligns the geometry of samples (which samples each tower finds alike), not the coordinates.
    For row-normalised ``A``, ``B``: ``||A A^T - B B^T||_F^2 = ||A^T A||_F^2 + ||B^T B||_F^2 -
    2 ||A^T B||_F^2``: ``H x H`` Gram matrices, ``O(B H^2)`` per pair instead of ``O(B^2 H)``,
    each tower's own one computed once (``PairGramGaps``).

    The three norms are each about ``B^2`` and their difference is small once the towers agree,
    so the Grams are formed in float32 even under bf16/fp16 autocast (the cancellation would
    lose the whole value at 8 mantissa bits). The float32 error left is ~1e-7 absolute, far below
    the term's scale; it can make a near-zero value print as -1e-7.
    """
    with _float32(states):
        return PairGramGaps.apply(pairs, *(tower.float() for tower in states))


def contrastive_fusion(
    states: Sequence[torch.Tensor], pairs: Pairs, tau: float, negatives: int | None = None
) -> torch.Tensor:
    """Symmetric InfoNCE per pair: sample ``i`` in tower ``a`` should match ``i`` in tower ``b``.

    ``logits = norm(h_a) norm(h_b)^T / tau``; the loss is the cross-entropy towards the diagonal,
    averaged over both directions. Minimising it pulls each sample's two views together and
    pushes other samples apart; for identical towers it equals the (positive) log-partition
    over the batch, so it is compared across towers, not to 0.

    Its ``B x B`` logits make it the one fusion term that grows with ``B^2`` per pair. With
    ``negatives = n`` the batch is cut into blocks of ``n`` rows and each sample's negatives are
    the other rows of its block (a last, shorter block keeps its own size): ``B n`` instead of
    ``B^2`` per pair, and the same loss at any batch size >= n. ``None``: the whole batch, as
    REACTION.md defines it. Pairs run in turn: a ``(P, B, B)`` batch of logits would hold
    gigabytes at ``T = 8, B = 4096``.
    """
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    if negatives is not None and negatives < 2:
        raise ValueError(f"negatives must be >= 2 or None, got {negatives}")
    batch = len(states[0])
    block = batch if negatives is None else min(negatives, batch)
    full = batch - batch % block  # rows in whole blocks: one batched product per pair
    values = []
    with _float32(states):
        towers = [tower.float() for tower in states]
        for a, b in pairs:
            total = _infonce_sum(
                _blocks(towers[a], block, full), _blocks(towers[b], block, full), tau
            )
            if full < batch:  # the last, shorter block
                total = total + _infonce_sum(towers[a][None, full:], towers[b][None, full:], tau)
            values.append(total / batch)
    return torch.stack(values)


def _blocks(rows: torch.Tensor, block: int, full: int) -> torch.Tensor:
    """The first ``full = n * block`` rows as ``(n, block, H)`` (no slice when they are all the
    rows: a slice's backward writes a zero-filled copy of the whole tensor)."""
    rows = rows if full == len(rows) else rows[:full]
    return rows.view(-1, block, rows.shape[-1])


def _infonce_sum(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """Sum over all rows of blocks ``(n, m, H)`` of the symmetric InfoNCE within each block (both
    directions averaged): ``BlockInfoNCE``, or ``logsumexp`` per direction where ``exp`` of the
    logits or their sums could leave float32's range (``1 / tau + log m > EXP_RANGE``)."""
    if 1.0 / tau + math.log(a.shape[1]) <= EXP_RANGE:
        return BlockInfoNCE.apply(a, b, tau)
    logits = torch.bmm(a, b.transpose(1, 2)) / tau
    partitions = logits.logsumexp(dim=2) + logits.logsumexp(dim=1)
    return (0.5 * partitions - torch.linalg.vecdot(a, b) / tau).sum()
