"""Pieces of the ``end-to-end-vs-decomposition`` study: training, SNR, the one-hot example.

Shalev-Shwartz, Shamir & Shammah (2017, arXiv 1703.07950, Section 3).
"""

from __future__ import annotations

import torch
from torch import nn

from deepscope.seeding import seeded_init
from deepscope.train import fit

__all__ = ["IndexTable", "hinge", "one_hot_moments", "tuple_snr", "train_tuples"]


def hinge(score: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Mean hinge loss ``max(0, 1 - y f)``."""
    return torch.relu(1.0 - label * score).mean()


def _loss(net, images, labels, image_labels, mode: str) -> torch.Tensor:
    scores = net.image_scores(images)
    loss = hinge(net.head(scores).squeeze(-1), labels)
    if mode == "decomposition":
        loss = loss + hinge(scores, image_labels)
    return loss


def make_net(cfg, k: int, device):
    """A fresh :class:`~deepscope.nets.tuple_net.TupleNet` for ``k``, on ``device``."""
    from deepscope.nets.tuple_net import TupleNet

    return TupleNet(k, channels=cfg.channels, hidden=cfg.hidden, kernel=5,
                    image_size=28, head_hidden=cfg.head_hidden).to(device)


def _data(cfg, n, k, seed, device):
    from deepscope.data.segments import segment_tuples

    return segment_tuples(n, k, margin=cfg.margin, seed=seed, device=device)


def train_tuples(cfg, k: int, mode: str, seed: int, device, on_eval) -> nn.Module:
    """Train end-to-end (tuple labels only) or with the decomposition (also image labels).

    ``on_eval(step, tuple_acc, image_acc)`` is called at step 0, every ``eval_every`` steps
    and at the end; accuracies are on ``n_test`` fresh tuples (image accuracy: sign of
    ``N1`` against the per-image label, up to a global sign flip for end-to-end, which
    cannot tell ``N1`` from ``-N1`` for even ``k``).
    """
    net = seeded_init(lambda: make_net(cfg, k, device), seed)
    test = _data(cfg, cfg.n_test, k, 2**31 - 1 - 1000 * seed - k, device)

    def evaluate(step, model, logs):
        with torch.no_grad():
            scores = net.image_scores(test.images)
            out = net.head(scores).squeeze(-1)
            acc = float(((out > 0).float() * 2 - 1 == test.labels).float().mean())
            img = float(((scores > 0).float() * 2 - 1 == test.image_labels).float().mean())
        on_eval(step, acc, max(img, 1.0 - img))

    def batches(step, generator):  # fresh tuples every step, seeded by (seed, step, k)
        return _data(cfg, cfg.batch_size, k, seed * 1_000_003 + 1000 * step + k, device)

    def update(model, batch, opt):
        loss = _loss(model, batch.images, batch.labels, batch.image_labels, mode)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}

    fit(net, None, batches, optimizer="adam", lr=cfg.lr,
        steps=cfg.steps, seed=seed, step_fn=update, on_step=evaluate,
        schedule=[0, *range(cfg.eval_every, cfg.steps + 1, cfg.eval_every), cfg.steps])
    return net


class _Both(nn.Module):
    """Outputs ``[tuple score, image scores]`` so one loss can see both.

    ``head="mlp"``: the tuple net's own head; ``head="product"``: ``prod_i s_i``, the
    composition that computes the tuple label from correct per-image signs.
    """

    def __init__(self, net: nn.Module, head: str) -> None:
        super().__init__()
        self.net, self.head = net, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        scores = self.net.image_scores(x)
        if self.head == "product":
            top = scores.prod(-1, keepdim=True)
        else:
            top = self.net.head(scores)
        return torch.cat([top, scores], dim=-1)


def warm_image_net(cfg, seed: int, device) -> tuple[dict, float]:
    """``N1`` trained ``snr_warmup`` steps on single images (per-image labels, hinge).

    Returns its state dict and its accuracy on ``n_test`` fresh images.
    """
    from deepscope.nets.tuple_net import SegmentNet

    net = seeded_init(lambda: SegmentNet(cfg.channels, cfg.hidden), seed, device)

    def images(step, generator):  # step counts from 1
        d = _data(cfg, cfg.batch_size, 1, 2**29 + seed * 100_003 + step - 1, device)
        return d.images[:, 0], d.image_labels[:, 0]

    fit(net, lambda out, y: hinge(out.squeeze(-1), y), images,
        optimizer="adam", lr=cfg.lr, steps=cfg.snr_warmup, seed=seed)
    test = _data(cfg, cfg.n_test, 1, 2**28 + seed, device)
    with torch.no_grad():
        pred = (net(test.images[:, 0]).squeeze(-1) > 0).float() * 2 - 1
    return net.state_dict(), float((pred == test.image_labels[:, 0]).float().mean())


def tuple_snr(cfg, k: int, seed: int, device, image_state: dict | None = None
              ) -> dict[str, float]:
    """Per-example gradient SNR of ``N1``'s last layer (``score``) for tuples of ``k``.

    ``N1`` starts from ``image_state`` (e.g. :func:`warm_image_net`; default: a random
    initialisation). With ``cfg.snr_head == "product"`` the tuple score is
    ``f = prod_i s_i`` and the losses are linear (``-y f`` end-to-end, ``-sum_i y_i s_i``
    for the decomposition), so the end-to-end signal is a product of ``k - 1`` per-image
    correlations; with ``"mlp"`` the tuple net's fresh head and the training (hinge)
    losses are used. Returns the plain and debiased SNR (see
    :func:`deepscope.lenses.gradients.snr.gradient_snr`), signal and noise of both
    losses, over ``snr_examples`` fresh tuples.
    """
    from deepscope.lenses.gradients.snr import GradientSNRAccumulator

    model = _Both(seeded_init(lambda: make_net(cfg, k, device), seed), cfg.snr_head)
    if image_state is not None:
        model.net.image_net.load_state_dict(image_state)
    data = _data(cfg, cfg.snr_examples, k, 2**30 + 1000 * seed + k, device)
    targets = torch.cat([data.labels.unsqueeze(-1), data.image_labels], dim=-1)
    names = ["net.image_net.score.weight", "net.image_net.score.bias"]
    product = cfg.snr_head == "product"

    def e2e(out, y):
        if product:
            return -(out[..., 0] * y[..., 0]).mean()
        return hinge(out[..., 0], y[..., 0])

    def dec(out, y):
        if product:
            return -(out[..., 1:] * y[..., 1:]).sum(-1).mean()
        return hinge(out[..., 0], y[..., 0]) + hinge(out[..., 1:], y[..., 1:])

    out = {}
    for name, fn in (("end-to-end", e2e), ("decomposition", dec)):
        acc = GradientSNRAccumulator(model, fn, parameters=names, per_example=True)
        for lo in range(0, cfg.snr_examples, 256):
            acc.update(data.images[lo:lo + 256], targets[lo:lo + 256])
        plain, deb = acc.compute(), acc.compute(debias=True)
        out[f"{name}/snr"] = float(plain.module_snr[0])
        out[f"{name}/snr_debiased"] = float(deb.module_snr[0])
        out[f"{name}/signal"] = float(plain.module_signal[0])
        out[f"{name}/noise"] = float(plain.module_noise[0])
    return out


class IndexTable(nn.Module):
    """``w[c]`` for integer indices ``c``: a linear function of one-hot inputs.

    With ``sum_tuple=True`` the output is ``sum_i w[c_i]`` (the end-to-end predictor of a
    sum of ``k`` one-hot terms), else the ``k`` terms ``w[c_i]`` (the decomposition).
    """

    def __init__(self, weight: torch.Tensor, *, sum_tuple: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.clone())
        self.sum_tuple = sum_tuple

    def forward(self, idx: torch.Tensor) -> torch.Tensor:  # noqa: D102
        terms = self.weight[idx]
        return terms.sum(-1) if self.sum_tuple else terms


def one_hot_moments(k: int, dim: int, n: int, seed: int, device) -> dict[str, float]:
    """Gradient second moments of the one-hot example, end-to-end vs decomposition.

    ``x = (e_{c_1}, ..., e_{c_k})`` with ``c_i`` uniform on ``dim`` coordinates, target
    ``y = sum_i <w*, x_i>`` with per-term labels ``y_i = <w*, x_i>``. End-to-end minimises
    ``(sum_i <w, x_i> - y)^2 / 2``, the decomposition ``sum_i (<w, x_i> - y_i)^2 / 2``:
    the same minimiser and, at a point ``w`` with ``u = w - w*`` of zero mean, the same
    expected gradient ``k u / dim``; the end-to-end gradient's second moment
    ``E||g||^2 = signal + noise`` is about ``k`` times larger (for ``dim >> k``), so SGD
    needs about ``k`` times more steps. The decomposition's is exactly
    ``||u||^2 (k / dim + k (k - 1) / dim^2)``, returned as ``decomposition/exact``.
    """
    from deepscope.lenses.gradients.snr import gradient_snr

    gen = torch.Generator().manual_seed(seed)
    w_star = torch.randn(dim, generator=gen, dtype=torch.float64)
    u = torch.randn(dim, generator=gen, dtype=torch.float64)
    u = u - u.mean()
    idx = torch.randint(0, dim, (n, k), generator=gen).to(device)
    w = (w_star + u).to(device)
    y_terms = w_star.to(device)[idx]
    out = {}
    for name, model, target in (
        ("end-to-end", IndexTable(w, sum_tuple=True), y_terms.sum(-1)),
        ("decomposition", IndexTable(w, sum_tuple=False), y_terms),
    ):
        def loss(pred, y):
            err = (pred - y).reshape(pred.shape[0], -1)
            return 0.5 * (err ** 2).sum(-1).mean()

        res = gradient_snr(model, loss, [(idx, target)], per_example=True)
        out[f"{name}/second_moment"] = float(res.total_signal + res.total_noise)
        out[f"{name}/snr"] = float(res.total_snr)
    out["ratio"] = out["end-to-end/second_moment"] / out["decomposition/second_moment"]
    uu = float(u @ u)
    out["decomposition/exact"] = uu * (k / dim + k * (k - 1) / dim ** 2)
    return out
