"""ONNX export of the impact predictor and its numeric parity check (S1.5.2 "Export").

One static graph, opset 17, three inputs — ``rgb`` (B, 3, S, S) float32 ImageNet-normalised,
``attention`` (B, 1, S, S) float32 in [0, 1] and ``persona`` (B, P) float32, the persona vector π(I) —
and one output ``score`` (B,); the batch axis is dynamic. An input the graph never reads is dropped by
the exporter (``persona`` for the spec-literal model, both maps for the RGB-only one).
Early fusion (the concatenation) and every FiLM module are inside the graph, folded into plain ONNX
ops (pooling, convolutions, multiply-add); constant folding is on. The TorchScript-based exporter is
used (``dynamo=False``): it needs no onnxscript and handles timm's TinyViT.

Parity: the same preprocessed images are scored by PyTorch and onnxruntime (CPU); the max absolute
difference of s(I) is reported (S1.5.2 validates parity on 1k pairs: the images of up to 1,000 pairs,
or all available).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17


def export_onnx(model: Any, path: Path) -> None:
    """Write ``model`` (eval mode, CPU) to ``path`` via a temporary file renamed into place."""
    import warnings

    import torch

    model = model.eval().to("cpu")
    s = model.config.image_size
    rgb = torch.zeros(2, 3, s, s)
    att = torch.zeros(2, 1, s, s)
    per = torch.zeros(2, max(1, model.config.persona_dim))
    tmp = path.with_name(path.name + ".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (rgb, att, per), str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=["rgb", "attention", "persona"], output_names=["score"],
                          dynamic_axes={"rgb": {0: "batch"}, "attention": {0: "batch"}, "persona": {0: "batch"},
                                        "score": {0: "batch"}},
                          do_constant_folding=True)
    os.replace(tmp, path)


def parity(model: Any, path: Path, rgb_u8: np.ndarray, attention: np.ndarray, persona: np.ndarray | None = None,
           batch_size: int = 32) -> float:
    """Max |s_onnx − s_torch| over the given preprocessed images (N,S,S,3) uint8, (N,S,S) float32, (N,P) π(I)."""
    import onnxruntime as ort
    import torch

    from memoire_cli.train.predictor import onnx_feeds, persona_input, to_network_inputs

    persona = persona_input(persona, len(rgb_u8), model.config.persona_dim)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    model = model.eval().to("cpu")
    worst = 0.0
    for start in range(0, len(rgb_u8), batch_size):
        x, a = to_network_inputs(rgb_u8[start:start + batch_size], attention[start:start + batch_size])
        p = persona[start:start + batch_size]
        ours = session.run(["score"], onnx_feeds(session, x, a, p))[0].reshape(-1)
        with torch.inference_mode():
            ref = model(torch.from_numpy(x), torch.from_numpy(a), torch.from_numpy(p)).numpy().reshape(-1)
        worst = max(worst, float(np.max(np.abs(ours - ref))))
    return worst
