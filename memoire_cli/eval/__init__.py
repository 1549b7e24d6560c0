"""`memoire eval`: the paper's evaluation (S2.2–S2.4) over the evaluated users.

Modules: ``metrics`` (SRCC with a bootstrap CI, APS@k, Redundancy@k, Coverage@k — S2.2),
``truth`` (the ground truth: hidden PIS of synthetic users or the owner's star ratings — the only
module of memoire that reads hidden truth), ``baselines`` (the offline baselines), ``perturb``
(in-memory tag noise for C1), ``suite`` (Memoire, baselines, ablations A1–A5, sweeps B1–B5,
robustness C1–C3, runtime scaling E, as tables shaped like the spec's Tables 9–18), ``report``
(index.html, summary.md, summary.json) and ``stage`` (the global stage behind the command).
"""
