"""`memoire graph`: per-user tag graph, tag features and the importance prior IPS⁰ (S1.2.1–S1.2.4, S1.2.10).

Modules, in the order a user's graph is built:

* :mod:`~memoire_cli.graph.config` — every knob of the stage with the spec's defaults (and ours where
  the spec leaves a value open), validated once.
* :mod:`~memoire_cli.graph.social` — relation classes and the social boost social_uv (2).
* :mod:`~memoire_cli.graph.cooccurrence` — incidence matrix, pruning by type quotas (S1.2.10),
  normalised co-occurrence (1), edge weights (3)–(4), k-NN / threshold sparsification, g_t.
* :mod:`~memoire_cli.graph.features` — per-tag features x_t (5) and their per-user z-scores.
* :mod:`~memoire_cli.graph.prior` — regime statistics B, D, L, softmax weights (6), IPS⁰ (7).
* :mod:`~memoire_cli.graph.build` — the pure numpy pipeline from one user's inputs to its tables.
* :mod:`~memoire_cli.graph.load` — the DuckDB queries that read one user's inputs.
* :mod:`~memoire_cli.graph.stage` — the stage the runner drives (caching, shards, commits).

Everything is computed set-wise (DuckDB SQL and numpy/scipy.sparse); nothing loops over images.
"""
