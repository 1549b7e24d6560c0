"""``python -m memoire_cli`` runs the ``memoire`` command."""

from memoire_cli.app import main

main()
