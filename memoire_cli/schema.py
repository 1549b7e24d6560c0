"""The workspace schema, loaded from ``schemas/schema.toml`` (installed as ``memoire_cli.schemas``).

Generates the DuckDB DDL and the reference docs, and checks what a stage wrote against the
declaration (tests use :func:`check_tables` and :func:`check_arrays`).

A table or array has one producing stage (``producer = "graph"``) or several (``producer = ["synth",
"ingest"]``: the gallery tables, which either gallery stage writes for the users it holds; a user
belongs to one of them, see :data:`memoire_cli.workspace.GALLERY_STAGES`). ``producer`` keeps the
first one (the declaration's primary producer); ``producers`` lists them all and is what
:meth:`Schema.tables_of` and :meth:`Schema.arrays_of` match.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str


@dataclass(frozen=True)
class TableSpec:
    name: str  # "images" or "truth.scores"
    since: int
    producer: str  # the first (primary) producer
    consumers: tuple[str, ...]
    description: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    hidden: bool
    producers: tuple[str, ...] = ()  # every producing stage; () means (producer,)

    def __post_init__(self) -> None:
        if not self.producers:
            object.__setattr__(self, "producers", (self.producer,))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class ArraySpec:
    name: str
    since: int
    producer: str
    consumers: tuple[str, ...]
    description: str
    path: str  # template with {user_id}
    dtype: str
    dims: tuple[str, ...]
    shape: tuple[str | int, ...]
    chunks: tuple[str | int, ...]
    hidden: bool
    producers: tuple[str, ...] = ()  # every producing stage; () means (producer,)

    def __post_init__(self) -> None:
        if not self.producers:
            object.__setattr__(self, "producers", (self.producer,))


@dataclass(frozen=True)
class Schema:
    version: int
    tables: dict[str, TableSpec]
    arrays: dict[str, ArraySpec]

    def tables_of(self, producer: str) -> list[TableSpec]:
        """The tables ``producer`` writes (alone or beside other producers), in declaration order."""
        return [t for t in self.tables.values() if producer in t.producers]

    def arrays_of(self, producer: str) -> list[ArraySpec]:
        """The arrays ``producer`` writes (alone or beside other producers), in declaration order."""
        return [a for a in self.arrays.values() if producer in a.producers]


def _producers(value: str | list[str], where: str) -> tuple[str, ...]:
    """``producer = "x"`` or ``producer = ["x", "y"]`` → ("x", …); anything else is a broken declaration."""
    names = (value,) if isinstance(value, str) else tuple(value)
    if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"schema.toml: {where}: producer must be a stage name or a list of distinct stage names")
    return names


def schema_text() -> str:
    return resources.files("memoire_cli.schemas").joinpath("schema.toml").read_text(encoding="utf-8")


@cache
def load_schema() -> Schema:
    """Parse schema.toml (cached: it is immutable package data)."""
    raw = tomllib.loads(schema_text())
    tables = {
        name: TableSpec(
            name=name,
            since=int(t["since"]),
            producer=_producers(t["producer"], f"tables.{name}")[0],
            producers=_producers(t["producer"], f"tables.{name}"),
            consumers=tuple(t["consumers"]),
            description=t["description"],
            primary_key=tuple(t["primary_key"]),
            columns=tuple(Column(c["name"], c["type"], c.get("doc", "")) for c in t["columns"]),
            hidden=bool(t.get("hidden", False)),
        )
        for name, t in raw["tables"].items()
    }
    arrays = {
        name: ArraySpec(
            name=name,
            since=int(a["since"]),
            producer=_producers(a["producer"], f"arrays.{name}")[0],
            producers=_producers(a["producer"], f"arrays.{name}"),
            consumers=tuple(a["consumers"]),
            description=a["description"],
            path=a["path"],
            dtype=a["dtype"],
            dims=tuple(a["dims"]),
            shape=tuple(a["shape"]),
            chunks=tuple(a["chunks"]),
            hidden=bool(a.get("hidden", False)),
        )
        for name, a in raw["arrays"].items()
    }
    return Schema(version=int(raw["schema_version"]), tables=tables, arrays=arrays)


def table_ddl(spec: TableSpec) -> str:
    cols = ",\n".join(f"  {c.name} {c.type}" for c in spec.columns)
    pk = f",\n  PRIMARY KEY ({', '.join(spec.primary_key)})" if spec.primary_key else ""
    return f"CREATE TABLE IF NOT EXISTS {spec.name} (\n{cols}{pk}\n);"


def render_ddl(schema: Schema | None = None) -> str:
    """All DDL of the workspace: what ``schemas/ddl.sql`` holds."""
    schema = schema or load_schema()
    parts = [
        f"-- Generated by `memoire schema ddl` from schema.toml; do not edit. Schema version {schema.version}.",
        "CREATE SCHEMA IF NOT EXISTS truth;",
    ]
    for spec in schema.tables.values():
        parts.append(f"\n-- {spec.name}: {spec.description}\n-- producer: {', '.join(spec.producers)}; consumers: {', '.join(spec.consumers)}")
        parts.append(table_ddl(spec))
    return "\n".join(parts) + "\n"


def _names(producers: tuple[str, ...]) -> str:
    return " or ".join(f"`{p}`" for p in producers)


def render_reference(schema: Schema | None = None) -> str:
    """The generated reference of every table and array: what ``schemas/REFERENCE.md`` holds."""
    schema = schema or load_schema()
    out = [
        "# Workspace schema reference",
        "",
        f"Generated by `memoire schema docs` from `schema.toml`; do not edit. Schema version **{schema.version}**.",
        "Prose and conventions: [README.md](README.md).",
        "",
        "## Tables (DuckDB, `memoire.duckdb`)",
    ]
    for t in schema.tables.values():
        hidden = " — **hidden ground truth, `eval` only**" if t.hidden else ""
        out += [
            "",
            f"### `{t.name}`{hidden}",
            "",
            t.description,
            "",
            f"Producer: {_names(t.producers)}. Consumers: {', '.join(t.consumers)}. Since version {t.since}. "
            f"Primary key: ({', '.join(t.primary_key)}).",
            "",
            "| column | type | meaning |",
            "|---|---|---|",
        ]
        out += [f"| `{c.name}` | {c.type} | {c.doc} |" for c in t.columns]
    out += ["", "## Arrays (Zarr v3, `arrays.zarr/`)"]
    for a in schema.arrays.values():
        hidden = " — **hidden ground truth, `eval` only**" if a.hidden else ""
        out += [
            "",
            f"### `{a.path}`{hidden}",
            "",
            a.description,
            "",
            f"Producer: {_names(a.producers)}. Consumers: {', '.join(a.consumers)}. Since version {a.since}.",
            f"dtype `{a.dtype}`; dims ({', '.join(a.dims)}); shape ({', '.join(map(str, a.shape))}); "
            f"chunks ({', '.join(map(str, a.chunks))}).",
        ]
    return "\n".join(out) + "\n"
