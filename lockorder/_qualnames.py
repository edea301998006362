"""Qualified names of running code on Python 3.10, whose code objects have no
``co_qualname`` (3.11 added it).

Creation sites, stacks and the ``Thread.__init__`` test of :mod:`lockorder._sites`
need ``Class.method`` and ``outer.<locals>.inner``, not a bare ``co_name``. A
code object's qualified name is found from its module: every function and
class the module's globals define is walked, down through the code objects
nested in their code (``co_consts``), and each code object met gets the name
the compiler would have given it. Walks are cached per code object; a module
is walked again only for a code object not seen in it before.
"""

from __future__ import annotations

import inspect
from types import CodeType, FrameType
from typing import Any

__all__ = ["qualname_of_frame"]

#: code object -> qualified name; code objects live as long as their module
#: (never a user's data), so strong references are fine
_names: dict[CodeType, str] = {}
#: id() of module globals dicts walked, and how many entries each had then
_walked: dict[int, int] = {}


def _function_code(obj: Any) -> CodeType | None:
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    elif isinstance(obj, property):
        obj = obj.fget
    try:
        obj = inspect.unwrap(obj)
    except ValueError:  # pragma: no cover - a __wrapped__ cycle
        return None
    code = getattr(obj, "__code__", None)
    return code if isinstance(code, CodeType) else None


def _name_nested(code: CodeType, qualname: str) -> None:
    """Name the code objects nested in ``code`` (whose own name is ``qualname``)."""
    stack = [(code, qualname)]
    while stack:
        parent, name = stack.pop()
        _names.setdefault(parent, name)
        # a function's nested code is "<locals>"; a class body's is not
        prefix = f"{name}.<locals>." if parent.co_flags & inspect.CO_NEWLOCALS else f"{name}."
        for const in parent.co_consts:
            if isinstance(const, CodeType) and const not in _names:
                stack.append((const, prefix + const.co_name))


def _walk_class(cls: type, seen: set[int]) -> None:
    if id(cls) in seen:
        return
    seen.add(id(cls))
    for value in list(vars(cls).values()):
        if isinstance(value, type):
            if value.__qualname__.startswith(cls.__qualname__ + "."):
                _walk_class(value, seen)
            continue
        code = _function_code(value)
        if code is not None:
            _name_nested(code, getattr(value, "__qualname__", code.co_name))


def _walk_module(module_globals: dict[str, Any]) -> None:
    module = module_globals.get("__name__")
    seen: set[int] = set()
    for value in list(module_globals.values()):
        if getattr(value, "__module__", None) != module:
            continue
        if isinstance(value, type):
            _walk_class(value, seen)
            continue
        code = _function_code(value)
        if code is not None:
            qualname = getattr(inspect.unwrap(value), "__qualname__", code.co_name)
            _name_nested(code, qualname)


def qualname_of_frame(frame: FrameType) -> str:
    """``frame``'s function as ``co_qualname`` would name it (``co_name`` if unknown)."""
    code = frame.f_code
    name = _names.get(code)
    if name is not None:
        return name
    module_globals = frame.f_globals
    size = len(module_globals)
    if _walked.get(id(module_globals)) != size:
        _walked[id(module_globals)] = size
        try:
            _walk_module(module_globals)
        except Exception:  # a strange object in a module's globals: names stay bare
            pass
        name = _names.get(code)
        if name is not None:
            return name
    return code.co_name
