"""The impact predictor (S1.4, S1.5.1–S1.5.2): network, training on judged pairs, ONNX export, scoring.

* :mod:`memoire_cli.train.config` — the settings: the network's shape and the optimisation (torch-free).
* :mod:`memoire_cli.train.model` — construction (Tiny-ViT, early fusion, FiLM, MLP head) and pretrained weights.
* :mod:`memoire_cli.train.network` — the torch modules (imported lazily).
* :mod:`memoire_cli.train.predictor` — the public scoring API (``preprocess``, ``load_predictor``, ``Predictor``).
"""
