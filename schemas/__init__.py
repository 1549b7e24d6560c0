"""Workspace schema declarations (data files): schema.toml is the source of truth; see README.md."""
