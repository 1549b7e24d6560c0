"""PAT, personal attention maps (S1.3): per-tag soft masks fused by the persona into A(I).

Built so far: the deterministic fusion and post-processing (S1.3.5–S1.3.6) and the Gaussian
person-mask fallback (S1.3.2(3)); the detectors, segmenters and the `memoire pat` stage follow.
"""
