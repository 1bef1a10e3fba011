"""DTF's fusion losses (REACTION.md, "DTF") for every pair of towers at once.

Each takes one hidden layer of all ``T`` towers, **row-normalised once** and stacked as
``(T, B, H)`` (``normalized_states``), and returns one value per unordered tower pair
(``tower_pairs`` order), small when the two towers agree; its gradient flows into both towers.
Spatial and relational fusion are exactly 0 for identical towers; InfoNCE is not (its value for
identical towers is the log-partition of the in-batch negatives), see ``contrastive_fusion``.

Why batched: written per pair, the objective normalised each tower's states once per partner and
built two ``B x B`` similarity matrices per pair for the relational term, so a training step grew
with ``T^2 B^2``. Here normalisation is shared, spatial fusion is one batched product, and the
relational term uses an exact identity that needs no ``B x B`` matrix (``relational_fusion``).
Only InfoNCE needs its ``B x B`` logits; it runs once per unordered pair (it is symmetric).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

NORM_EPS = 1e-8  # a dead (all-zero) ReLU state normalises to 0: cosine 0 with everything


def tower_pairs(num_towers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Index tensors ``(first, second)`` of the unordered pairs ``i < j``, in ``combinations``
    order."""
    pairs = list(itertools.combinations(range(num_towers), 2))
    if not pairs:
        raise ValueError(f"fusion needs at least 2 towers, got {num_towers}")
    first, second = zip(*pairs, strict=True)
    return torch.tensor(first), torch.tensor(second)


def normalized_states(layer_per_tower: list[torch.Tensor]) -> torch.Tensor:
    """``T`` tensors ``(B, H)`` -> ``(T, B, H)`` with every row scaled to unit length."""
    shapes = {tuple(h.shape) for h in layer_per_tower}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"towers' states of one layer must all be (B, H), got {sorted(shapes)}")
    return F.normalize(torch.stack(layer_per_tower), dim=-1, eps=NORM_EPS)


def spatial_fusion(states: torch.Tensor, margin: float) -> torch.Tensor:
    """``L_srf = mean_i max(0, 1 - cos(h_a[i], h_b[i]) - m1)`` per pair ``(a, b)``: ``(P,)``.

    Per-sample alignment of one layer; the margin ``m1`` leaves positions already within
    ``1 - m1`` cosine alone, so the towers keep some freedom (identical towers: 0).
    """
    first, second = tower_pairs(states.shape[0])
    per_sample = states.transpose(0, 1)  # (B, T, H): one T x T cosine matrix per sample
    cosines = torch.bmm(per_sample, per_sample.transpose(1, 2))[:, first, second]  # (B, P)
    return F.relu(1.0 - cosines - margin).mean(dim=0)


def relational_fusion(states: torch.Tensor) -> torch.Tensor:
    """``L_rrf = mean (R_a - R_b)^2`` per pair, ``R = norm(H) norm(H)^T`` the in-batch cosines.

    Aligns the geometry of samples (which samples each tower finds alike), not the coordinates.
    For row-normalised ``A``, ``B``: ``||A A^T - B B^T||_F^2 = ||A^T A||_F^2 + ||B^T B||_F^2 -
    2 ||A^T B||_F^2`` -- every ``H x H`` cross-Gram of all towers comes from one ``(T H)^2`` Gram
    matrix, ``O(B (T H)^2)`` instead of ``O(T^2 B^2 H)``.

    The three norms are each about ``B^2`` and their difference is small once the towers agree,
    so the Gram matrix is formed in float32 even under bf16/fp16 autocast (the cancellation would
    lose the whole value at 8 mantissa bits). The float32 error left is ~1e-7 absolute, far below
    the term's scale; it can make a near-zero value print as -1e-7.
    """
    towers, batch, width = states.shape
    first, second = tower_pairs(towers)
    with torch.autocast(states.device.type, enabled=False):
        stacked = states.float().permute(1, 0, 2).reshape(batch, towers * width)  # (B, T H)
        gram = (stacked.T @ stacked).view(towers, width, towers, width)
        sq_norms = gram.pow(2).sum(dim=(1, 3))  # (T, T): ||A_s^T A_t||_F^2
    diag = sq_norms.diagonal()
    return (diag[first] + diag[second] - 2 * sq_norms[first, second]) / batch**2


def contrastive_fusion(
    states: torch.Tensor, tau: float, negatives: int | None = None
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
    towers, batch = states.shape[:2]
    block = batch if negatives is None else min(negatives, batch)
    blocks = [tower.split(block) for tower in states.unbind(0)]  # views: no copies, cheap backward
    values = []
    for a, b in zip(*(index.tolist() for index in tower_pairs(towers)), strict=True):
        per_block = [_infonce_sum(x, y, tau) for x, y in zip(blocks[a], blocks[b], strict=True)]
        values.append(torch.stack(per_block).sum() / batch)
    return torch.stack(values)


def _infonce_sum(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """Sum over the rows of one block of the symmetric InfoNCE (both directions averaged)."""
    logits = a @ b.T / tau
    target = torch.arange(a.shape[0], device=a.device)
    both = F.cross_entropy(logits, target, reduction="sum") + F.cross_entropy(
        logits.T, target, reduction="sum"
    )
    return 0.5 * both
