"""Backends by name: one small registry per family (renderers, grounders, judges, embedders, backbones).

A family declares its typed interface (a ``typing.Protocol`` or an ABC) and, next to it, one
:class:`Registry` of that type. A backend is one class plus one registry line::

    GROUNDERS.add("prior", "memoire_cli.pat.clipseg:PriorGrounder", doc="content-free spatial prior")

The factory is a callable or a ``"module:attribute"`` string, imported only when the backend is
built, so a family's registry (and the command that lists its names in ``--help``) imports nothing
heavy. :meth:`Registry.create` passes a factory only the keyword arguments its signature declares, so
backends of one family may need different things (a model folder, a device) and take just those.

``auto`` is one rule for every family, :meth:`Registry.resolve_auto`: the first backend of a declared
preference order whose ``available(**context)`` says yes.

Third-party backends come from Python entry points (``[project.entry-points."memoire.grounders"]``
``mine = "my_package.module:MyGrounder"``), as simonw/llm finds its plugins: discovered with
:mod:`importlib.metadata` only when a name is not a built-in one (or when all names are listed), and
imported only when built. A broken plugin is one line on stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from memoire_cli.errors import MemoireError, UsageError

T = TypeVar("T")

#: The entry-point group of a family is ``memoire.<family>`` (``memoire.grounders`` …).
GROUP_PREFIX = "memoire."


def _always(**_context: Any) -> bool:
    return True


@dataclass(frozen=True)
class Backend(Generic[T]):
    """One registered backend: its name, how to build it, whether it can run here, one line about it."""

    name: str
    factory: Callable[..., T] | str  # a class or function, or "module:attribute" (imported when built)
    available: Callable[..., bool] = _always  # given the family's context keywords (a located model folder …)
    doc: str = ""
    plugin: str | None = None  # the distribution an entry-point backend comes from; None for built-ins
    extra: dict[str, Any] = field(default_factory=dict)  # the family's own facts (e.g. a backbone's "frozen_only")

    def load(self) -> Callable[..., T]:
        """The factory itself, importing a ``"module:attribute"`` string."""
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attr = self.factory.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
        return obj


def call_with_declared(factory: Callable[..., T], kwargs: dict[str, Any]) -> T:
    """``factory(**kw)`` with only the keywords its signature names (all of them if it takes ``**kwargs``)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: give it everything
        return factory(**kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return factory(**kwargs)
    names = {p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return factory(**{k: v for k, v in kwargs.items() if k in names})


def warn(line: str) -> None:
    """One line on stderr (people-facing; stdout carries only the JSON manifest)."""
    sys.stderr.write(f"memoire: {line}\n")
    sys.stderr.flush()


class Registry(Generic[T]):
    """The backends of one family, by name, in declaration order.

    ``family`` is a plural noun ("grounders"): it names the entry-point group (``memoire.grounders``)
    and the messages. ``option`` is the command-line flag that picks a backend (for error messages).
    ``plugins=False``: the family takes no entry points. ``entry_points`` replaces
    ``importlib.metadata.entry_points`` (a function of the group name; tests).
    """

    def __init__(self, family: str, option: str, *, plugins: bool = True,
                 entry_points: Callable[[str], Iterable[Any]] | None = None) -> None:
        self.family = family
        self.noun = family[:-1]  # "grounder": messages name one backend
        self.option = option
        self.group = GROUP_PREFIX + family
        self._backends: dict[str, Backend[T]] = {}
        self._entry_points = entry_points  # tests inject a fake; None: importlib.metadata
        self._plugins: dict[str, Backend[T]] | None = None if plugins else {}  # discovered once, on first need

    # ---------------------------------------------------------------------------------- declaring
    def add(self, name: str, factory: Callable[..., T] | str, *, available: Callable[..., bool] | None = None,
            doc: str = "", **extra: Any) -> Backend[T]:
        """Register ``factory`` under ``name`` (a new name; ``auto`` is reserved for the rule)."""
        if not name or name == "auto" or name in self._backends:
            raise ValueError(f"{self.family}: cannot register {name!r} (empty, reserved or taken)")
        backend = Backend(name, factory, available or _always, doc, None, dict(extra))
        self._backends[name] = backend
        return backend

    def register(self, name: str, *, available: Callable[..., bool] | None = None, doc: str = "",
                 **extra: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """The decorator form of :meth:`add`: ``@GROUNDERS.register("mine", doc=…)`` above a class."""

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(name, factory, available=available, doc=doc or (inspect.getdoc(factory) or "").split("\n")[0], **extra)
            return factory

        return decorate

    # ---------------------------------------------------------------------------------- looking up
    def __iter__(self) -> Iterator[str]:
        """The built-in names (as :meth:`names`)."""
        return iter(self._backends)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is a backend, built-in or plugin (``auto`` is not)."""
        return isinstance(name, str) and (name in self._backends or name in self._discover())

    def names(self, plugins: bool = False) -> tuple[str, ...]:
        """Built-in names in declaration order (no import, no metadata scan); with ``plugins``, then the
        entry points' names."""
        return tuple(self._backends) + (tuple(self._discover()) if plugins else ())

    def choices(self, auto: bool = True) -> str:
        """``auto, a, b, c`` for help texts and error messages (built-ins only: ``--help`` stays instant)."""
        return ", ".join((("auto",) if auto else ()) + self.names())

    def get(self, name: str, *, auto: bool = False) -> Backend[T]:
        """The backend called ``name``; entry points are looked at only when no built-in has that name.
        An unknown name is a :class:`UsageError` listing the choices (with ``auto`` first when ``auto``)."""
        if name in self._backends:
            return self._backends[name]
        found = self._discover().get(name)
        if found is None:
            choices = ", ".join((("auto",) if auto else ()) + self.names(plugins=True))
            raise UsageError(f"unknown {self.noun} {name!r}: {self.option} must be one of {choices}")
        return found

    def check(self, name: str, auto: bool = True) -> str:
        """``name`` if it is ``auto`` (when allowed) or a known backend, else a :class:`UsageError`."""
        if auto and name == "auto":
            return name
        return self.get(name, auto=auto).name

    def create(self, name: str, **kwargs: Any) -> T:
        """Build backend ``name``; its factory gets the keywords of ``kwargs`` it declares."""
        backend = self.get(name)
        try:
            factory = backend.load()
        except Exception as exc:  # a plugin's import may raise anything: one line, not a traceback
            if backend.plugin is None:
                raise
            raise MemoireError(f"{self.noun} {name!r} from {backend.plugin} failed to load: "
                               f"{type(exc).__name__}: {exc}") from None
        return call_with_declared(factory, kwargs)

    def resolve_auto(self, order: Iterable[str], **context: Any) -> str:
        """The rule behind every family's ``auto``: the first name of ``order`` whose backend is available
        given ``context``. The last of ``order`` is the fallback and must always be available."""
        order = tuple(order)
        for name in order:
            if self.get(name).available(**context):
                return name
        raise MemoireError(f"{self.option} auto: none of {', '.join(order)} is available here")

    # ---------------------------------------------------------------------------------- plugins
    def _discover(self) -> dict[str, Backend[T]]:
        """Entry points of ``memoire.<family>``, once; a bad one (unreadable, a taken name) is one stderr line."""
        if self._plugins is not None:
            return self._plugins
        found: dict[str, Backend[T]] = {}
        try:
            if self._entry_points is not None:
                points = list(self._entry_points(self.group))
            else:
                from importlib.metadata import entry_points

                points = list(entry_points(group=self.group))
        except Exception as exc:  # noqa: BLE001 - damaged metadata of some installed distribution
            warn(f"cannot read the {self.group} entry points: {type(exc).__name__}: {exc}")
            points = []
        for point in points:
            dist = getattr(getattr(point, "dist", None), "name", None) or "an installed package"
            if point.name in self._backends or point.name in found or point.name == "auto":
                warn(f"{self.noun} plugin {point.name!r} from {dist} ignored: the name is taken")
                continue
            if ":" not in point.value:
                warn(f"{self.noun} plugin {point.name!r} from {dist} ignored: {point.value!r} is not 'module:attribute'")
                continue
            found[point.name] = Backend(point.name, point.value, _always, f"plugin from {dist}", dist, {})
        self._plugins = found
        return found
