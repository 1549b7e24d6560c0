"""One module per subcommand; each wraps library code in ``memoire_cli`` thinly.

Installed as ``memoire_cli.commands`` (see pyproject.toml).
"""
