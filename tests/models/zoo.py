"""Real third-party architectures at random init, tiny, for the real-model tests and bench.

``transformers`` models are built from small configs (no weights are downloaded). timm
needs torchvision, which has no usable CPU wheel here, and transformers has no
MobileNetV3, so their patterns are written out below: a LayerNorm2d that permutes
(ConvNeXt), GELU / Hardswish activation *classes*, squeeze-excite gated by Hardsigmoid
and depthwise convolutions (MobileNetV3).

Every builder returns ``(model, batch, loss_name)`` where ``batch`` is
``(inputs, targets)`` and ``loss_name`` names a :mod:`deepscope.losses` loss.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

HF_MODELS = ("gpt2", "bert", "vit", "convnext", "resnet", "mobilenetv2")
TIMM_PATTERNS = ("convnext_timm", "mobilenetv3_timm")
MODELS = HF_MODELS + TIMM_PATTERNS


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _init(model: nn.Module, seed: int) -> nn.Module:
    """Re-draw every weight and bias from a seeded generator (no global RNG); norm scales 1."""
    g = _gen(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 and not name.endswith("bias"):
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def gpt2(seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64, n_positions=32)
    model = _init(GPT2LMHeadModel(cfg), seed)
    ids = torch.randint(0, 64, (2, 8), generator=_gen(seed + 1))
    return model, ({"input_ids": ids}, ids), "causal_lm"


def bert(seed: int = 0):
    from transformers import BertConfig, BertForSequenceClassification

    cfg = BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=2,
                     intermediate_size=64, vocab_size=64, max_position_embeddings=32,
                     num_labels=3)
    model = _init(BertForSequenceClassification(cfg), seed)
    ids = torch.randint(0, 64, (4, 8), generator=_gen(seed + 1))
    mask = torch.ones_like(ids)
    y = torch.randint(0, 3, (4,), generator=_gen(seed + 2))
    return model, ({"input_ids": ids, "attention_mask": mask}, y), "cross_entropy"


def vit(seed: int = 0):
    from transformers import ViTConfig, ViTForImageClassification

    cfg = ViTConfig(image_size=16, patch_size=8, num_channels=3, hidden_size=32,
                    num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                    num_labels=3)
    model = _init(ViTForImageClassification(cfg), seed)
    x = torch.randn(4, 3, 16, 16, generator=_gen(seed + 1))
    y = torch.randint(0, 3, (4,), generator=_gen(seed + 2))
    return model, ({"pixel_values": x}, y), "cross_entropy"


def convnext(seed: int = 0):
    from transformers import ConvNextConfig, ConvNextForImageClassification

    cfg = ConvNextConfig(num_channels=3, hidden_sizes=[8, 16], depths=[1, 1],
                         num_stages=2, num_labels=3, image_size=32)
    model = _init(ConvNextForImageClassification(cfg), seed)
    x = torch.randn(4, 3, 32, 32, generator=_gen(seed + 1))
    y = torch.randint(0, 3, (4,), generator=_gen(seed + 2))
    return model, ({"pixel_values": x}, y), "cross_entropy"


def resnet(seed: int = 0):
    from transformers import ResNetConfig, ResNetForImageClassification

    cfg = ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                       layer_type="basic", num_labels=3)
    model = _init(ResNetForImageClassification(cfg), seed)
    x = torch.randn(4, 3, 32, 32, generator=_gen(seed + 1))
    y = torch.randint(0, 3, (4,), generator=_gen(seed + 2))
    return model, ({"pixel_values": x}, y), "cross_entropy"


def mobilenetv2(seed: int = 0):
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification

    cfg = MobileNetV2Config(num_channels=3, image_size=32, depth_multiplier=0.25,
                            num_labels=3)
    model = _init(MobileNetV2ForImageClassification(cfg), seed)
    x = torch.randn(2, 3, 32, 32, generator=_gen(seed + 1))
    y = torch.randint(0, 3, (2,), generator=_gen(seed + 2))
    return model, ({"pixel_values": x}, y), "cross_entropy"


# ---------------------------------------------------------------- timm's patterns


class LayerNorm2d(nn.LayerNorm):
    """timm's channels-first LayerNorm: permute to NHWC, normalise, permute back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class GELU(nn.Module):
    """timm's activation class wrapping the functional op."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x)


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.mlp = nn.Sequential(nn.Conv2d(dim, 4 * dim, 1), GELU(), nn.Conv2d(4 * dim, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(self.conv_dw(x)))


class TimmConvNeXt(nn.Module):
    """ConvNeXt-atto's shape, tiny: patchify stem, LayerNorm2d, depthwise 7x7, GELU."""

    def __init__(self, dim: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dim, 4, stride=4), LayerNorm2d(dim))
        self.stages = nn.Sequential(ConvNeXtBlock(dim), ConvNeXtBlock(dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)).mean((2, 3)))


class SqueezeExcite(nn.Module):
    """MobileNetV3's SE gate: pool, reduce, ReLU, expand, Hardsigmoid."""

    def __init__(self, dim: int, rd: int) -> None:
        super().__init__()
        self.conv_reduce = nn.Conv2d(dim, rd, 1)
        self.act = nn.ReLU()
        self.conv_expand = nn.Conv2d(rd, dim, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.conv_expand(self.act(self.conv_reduce(s))))


class InvertedResidual(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.conv_pw = nn.Conv2d(dim, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.act1 = nn.Hardswish()
        self.conv_dw = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.act2 = nn.Hardswish()
        self.se = SqueezeExcite(hidden, 8)
        self.conv_pwl = nn.Conv2d(hidden, dim, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.bn1(self.conv_pw(x)))
        h = self.se(self.act2(self.bn2(self.conv_dw(h))))
        return x + self.bn3(self.conv_pwl(h))


class TimmMobileNetV3(nn.Module):
    """MobileNetV3-small's pattern, tiny: Hardswish, depthwise conv, SE with Hardsigmoid."""

    def __init__(self, dim: int = 16, classes: int = 3) -> None:
        super().__init__()
        self.conv_stem = nn.Conv2d(3, dim, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim)
        self.act1 = nn.Hardswish()
        self.blocks = nn.Sequential(InvertedResidual(dim, 32), InvertedResidual(dim, 32))
        self.classifier = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.act1(self.bn1(self.conv_stem(x))))
        return self.classifier(h.mean((2, 3)))


def convnext_timm(seed: int = 0):
    model = _init(TimmConvNeXt(), seed)
    x = torch.randn(4, 3, 16, 16, generator=_gen(seed + 1))
    y = torch.randint(0, 3, (4,), generator=_gen(seed + 2))
    return model, (x, y), "cross_entropy"


def mobilenetv3_timm(seed: int = 0):
    model = _init(TimmMobileNetV3(), seed)
    x = torch.randn(4, 3, 16, 16, generator=_gen(seed + 1))
    y = torch.randint(0, 3, (4,), generator=_gen(seed + 2))
    return model, (x, y), "cross_entropy"


def build(name: str, seed: int = 0):
    """``(model, batch, loss_name)`` of the model called ``name`` (one of :data:`MODELS`)."""
    return globals()[name](seed)
