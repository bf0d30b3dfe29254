"""The user's tools: the ``@tool`` decorator, the registry, and loading ``--tools``.

``@tool`` marks a plain function and describes it to the model from its signature, type
hints and docstring (see ``controller.tool_schema``); mistakes show at import time as a
``ToolError`` naming the function and the parameter. ``ToolRegistry`` holds the marked
functions by name; ``load_tools`` imports a ``.py`` file or a module and collects them.
Running tools is ``ThreadedToolRunner``'s job (``controller.tool_runner``, re-exported here).

This module never runs a tool and never talks to the model; the only code of the user's it
executes is the import of the tools module.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import traceback
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar, overload

from controller.errors import ToolError
from controller.settings import FINISH_TOOL_NAME, ToolSpec
from controller.tool_runner import ThreadedToolRunner
from controller.tool_schema import Shape, UnsupportedHint, parse_docstring, shape_of

__all__ = ["ThreadedToolRunner", "Tool", "ToolRegistry", "load_tools", "tool", "tool_of"]

F = TypeVar("F", bound=Callable[..., Any])

# The attribute @tool puts on a function; holds its ``Tool``.
TOOL_MARK = "__convctl_tool__"
# What the Realtime API accepts as a function name.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class Parameter:
    """One parameter of a tool as the model fills it in."""

    name: str
    shape: Shape
    default: Any = _EMPTY

    @property
    def has_default(self) -> bool:
        return self.default is not _EMPTY

    @property
    def required(self) -> bool:
        return not self.has_default and not self.shape.optional

    def read(self, value: Any) -> Any:
        """The model's value as the function expects it; ValueError if it does not fit."""
        try:
            return self.shape.convert(value)
        except ValueError as exc:
            raise ValueError(f"argument '{self.name}' {exc}") from None


@dataclass(frozen=True)
class Tool:
    """A marked function, how it is declared to the model, and how its arguments are read."""

    spec: ToolSpec
    function: Callable[..., Any]
    parameters: tuple[Parameter, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    def prepare(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments for the function, checked against its hints.

        Raises ``ValueError`` with a message for the model when they do not fit. A null
        for a parameter with a default means "use the default" (models send those).
        """
        if not isinstance(arguments, Mapping):
            raise ValueError(f"arguments must be a JSON object, got {type(arguments).__name__}")
        known = {p.name for p in self.parameters}
        unknown = sorted(str(key) for key in arguments if key not in known)
        if unknown:
            takes = ", ".join(p.name for p in self.parameters) or "no arguments"
            raise ValueError(f"unexpected argument '{unknown[0]}'; {self.name} takes: {takes}")
        kwargs: dict[str, Any] = {}
        for parameter in self.parameters:
            value = arguments.get(parameter.name)
            if parameter.name in arguments and not (value is None and parameter.has_default):
                kwargs[parameter.name] = parameter.read(value)
            elif parameter.required:
                raise ValueError(f"missing required argument '{parameter.name}'")
            elif not parameter.has_default:
                kwargs[parameter.name] = None  # X | None without a default
        return kwargs


def tool_of(function: object) -> Tool | None:
    """The ``Tool`` of a function marked with ``@tool``, else None."""
    described = getattr(function, TOOL_MARK, None)
    return described if isinstance(described, Tool) else None


@overload
def tool(function: F, /) -> F: ...


@overload
def tool(*, name: str | None = None, description: str | None = None) -> Callable[[F], F]: ...


def tool(function: Any = None, /, *, name: str | None = None,
         description: str | None = None) -> Any:
    """Mark a plain function as a tool the model may call.

    Use it bare (``@tool``) or with overrides (``@tool(name="weather", description=...)``).
    The function is returned unchanged; it runs in a worker thread when the model calls it
    and should return something JSON can carry (a ``str`` is sent as it is).
    """
    def mark(fn: F) -> F:
        setattr(fn, TOOL_MARK, describe(fn, name=name, description=description))
        return fn

    return mark if function is None else mark(function)


def describe(function: Callable[..., Any], *, name: str | None = None,
             description: str | None = None) -> Tool:
    """Describe a function to the model; ``ToolError`` if it cannot be a tool."""
    if not inspect.isfunction(function):
        raise ToolError(f"@tool marks plain functions (def ...); got {function!r}")
    where = _where(function)
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise ToolError(f"{where} is async; tools run in worker threads, so write it as a plain "
                        "def (call asyncio.run inside it if you need to await something)")
    tool_name = function.__name__ if name is None else name
    if not TOOL_NAME.match(tool_name):
        raise ToolError(f"{where}: tool name {tool_name!r} must be 1-64 letters, digits, "
                        "'_' or '-'")
    summary, arg_notes = parse_docstring(function.__doc__)
    parameters = _parameters(function, where)
    properties = {p.name: _property(p, arg_notes.get(p.name)) for p in parameters}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = [p.name for p in parameters if p.required]
    if required:
        schema["required"] = required
    spec = ToolSpec(name=tool_name, description=summary if description is None else description,
                    parameters=schema)
    return Tool(spec=spec, function=function, parameters=parameters)


def _where(function: Callable[..., Any]) -> str:
    code = getattr(function, "__code__", None)
    place = f" ({Path(code.co_filename).name}:{code.co_firstlineno})" if code else ""
    return f"tool function '{function.__name__}'{place}"


def _parameters(function: Callable[..., Any], where: str) -> tuple[Parameter, ...]:
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as exc:  # a NameError in a string annotation, most often
        raise ToolError(f"{where}: cannot read its type hints: {type(exc).__name__}: {exc}") \
            from None
    parameters = []
    for param in inspect.signature(function).parameters.values():
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise ToolError(f"{where}: parameter '{param.name}' cannot be *args, **kwargs or "
                            "positional-only; the model passes arguments by name")
        if param.name not in hints:
            raise ToolError(f"{where}: parameter '{param.name}' has no type hint; add one "
                            "(str, int, float, bool, list[str], Literal[...], ...)")
        try:
            shape = shape_of(hints[param.name])
        except UnsupportedHint as exc:
            raise ToolError(f"{where}: parameter '{param.name}' has an unsupported type "
                            f"hint: {exc}") from None
        parameters.append(Parameter(param.name, shape, param.default))
    return tuple(parameters)


def _property(parameter: Parameter, note: str | None) -> dict[str, Any]:
    schema = dict(parameter.shape.schema)
    text = parameter.shape.description or note
    if text:
        schema["description"] = text
    default = getattr(parameter.default, "value", parameter.default)  # an Enum member
    if isinstance(default, (str, int, float, bool)):
        schema["default"] = default
    return schema


class ToolRegistry:
    """The user's tools by name, in the order they were added."""

    def __init__(self, functions: Iterable[Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for function in functions:
            self.add(function)

    def add(self, function: Callable[..., Any]) -> Tool:
        """Add a function (marked with ``@tool``, or plain: then described the same way)."""
        described = tool_of(function) or describe(function)
        if described.name == FINISH_TOOL_NAME:
            raise ToolError(f"{_where(function)}: '{FINISH_TOOL_NAME}' is built in (it ends the "
                            "conversation); give your tool another name")
        existing = self._tools.get(described.name)
        if existing is not None and existing.function is not function:
            raise ToolError(f"two tools are named '{described.name}': {_where(existing.function)} "
                            f"and {_where(function)}; rename one (@tool(name=...))")
        self._tools[described.name] = described
        return described

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(described.spec for described in self._tools.values())

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(tuple(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)


# --- Loading --tools ----------------------------------------------------------------------

_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def load_tools(ref: str) -> ToolRegistry:
    """The tools marked with ``@tool`` in a ``.py`` file (a path) or a module (a name)."""
    is_path = ref.endswith(".py") or "/" in ref or "\\" in ref or Path(ref).is_file()
    module = _import_file(Path(ref)) if is_path else _import_module(ref)
    marked: list[Callable[..., Any]] = []
    for value in vars(module).values():
        if tool_of(value) is not None and value not in marked:
            marked.append(value)
    if not marked:
        raise ToolError(f"no tools in {ref}: mark the functions the model may call with @tool "
                        "(from controller import tool)")
    return ToolRegistry(marked)


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        what = "is a folder, not a .py file" if path.is_dir() else "not found"
        raise ToolError(f"tools file {path} {what}; give a path to a .py file or a module name")
    if path.suffix != ".py":
        raise ToolError(f"tools file {path} must be a Python file ending in .py")
    name = "convctl_user_tools_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path.resolve())
    if spec is None or spec.loader is None:
        raise ToolError(f"cannot import tools file {path}")
    module = importlib.util.module_from_spec(spec)
    # Like `python tools.py`: modules next to the file can be imported by it.
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ToolError:
        del sys.modules[name]
        raise
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        raise _import_failure(str(path), exc) from None
    return module


def _import_module(name: str) -> ModuleType:
    if not _MODULE_NAME.match(name):
        raise ToolError(f"--tools {name!r} is neither a .py file nor a module name")
    try:
        return importlib.import_module(name)
    except ToolError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise ToolError(f"no module named '{name}': give a path to a .py file, or a module "
                            "importable from here (check the spelling and PYTHONPATH)") from None
        raise _import_failure(name, exc) from None
    except (Exception, SystemExit) as exc:
        raise _import_failure(name, exc) from None


def _import_failure(ref: str, exc: BaseException) -> ToolError:
    """A ToolError that shows the line where importing the user's tools failed."""
    if isinstance(exc, SyntaxError) and exc.filename:
        line = f"{exc.filename}, line {exc.lineno}: {(exc.text or '').strip()}"
        message = exc.msg
    else:
        frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
                  if not frame.filename.startswith("<frozen")]
        last = frames[-1] if frames else None
        line = f"{last.filename}, line {last.lineno}: {last.line}" if last else "unknown line"
        message = str(exc)
    return ToolError(f"could not import tools from {ref}: {type(exc).__name__}: {message}\n"
                     f"  at {line}")
