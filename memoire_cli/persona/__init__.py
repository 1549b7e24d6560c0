"""PERSONA-GAT and session adaptation (S1.2.5–S1.2.9): what a user's tags mean to them.

Modules (each small, each citing the spec):

* :mod:`~memoire_cli.persona.features` — the model's input: node features [x̃_t ‖ IPS⁰_t] (8) and
  the graph read from the ``graph`` stage's tables, validated and sanitised (numpy only).
* :mod:`~memoire_cli.persona.layer` — :class:`PersonaGATConv`, the relation-aware attention layer
  (9)–(12) as a torch-geometric ``MessagePassing`` layer.
* :mod:`~memoire_cli.persona.model` — :class:`PersonaGAT`: MLP₀ (8), L layers, score head and α (13);
  flattening the weights for the workspace and back.
* :mod:`~memoire_cli.persona.sampling` — the training samplers of S1.2.6 (positives, P_neg ∝ deg^0.75,
  hard two-hop negatives, ordinal pair mining, K-neighbour sampling), numpy only.
* :mod:`~memoire_cli.persona.losses` — NCE context, weak ordinal hinge and EMA smoothing losses (14).
* :mod:`~memoire_cli.persona.train` — the per-user training loop of S1.2.6 (curriculum, AdamW,
  clipping, early stop, determinism).
* :mod:`~memoire_cli.persona.stage` — the ``memoire persona`` stage over the workspace.

The session adaptation of α (S1.2.8–S1.2.9: IPS^S (15), the blend (16), ρ (17)) is
:mod:`memoire_cli.session`'s, shared by ``pat --session`` and ``rank``.

Importing this package is cheap: torch and torch-geometric are imported by ``layer``, ``model``,
``losses`` and ``train`` only.
"""
