"""Creation sites and stacks: the first frame outside lockorder and the
standard library's lock-building machinery.

The rule (documented in docs/concepts.md): walk outwards from the frame that
called the factory and skip every frame whose module (``__name__`` in the
frame's globals) is one of :data:`SKIPPED_MODULES` or a submodule of one. The
first frame left is the creation site. So the mutex of a ``queue.Queue()``
belongs to the line that made the queue, and an ``Event``'s Condition to the
line that made the event.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import FrameType
from typing import NamedTuple

__all__ = ["SKIPPED_MODULES", "Frame", "Site", "capture_stack", "find_site", "relpath"]

#: modules whose frames are never a creation site
SKIPPED_MODULES: tuple[str, ...] = (
    "lockorder",
    "wrapt",
    "threading",
    "_threading_local",
    "queue",
    "concurrent.futures",
    "multiprocessing",
    "logging",
    "asyncio",
    "socketserver",
    "sched",
    "functools",
    "importlib",
)

_skip_exact = frozenset(SKIPPED_MODULES)
_skip_prefixes = tuple(name + "." for name in SKIPPED_MODULES)


def is_skipped(module: str) -> bool:
    return module in _skip_exact or module.startswith(_skip_prefixes)


class Frame(NamedTuple):
    """One stack entry, as builtin types only (a tuple of str, int, str)."""

    filename: str
    lineno: int
    function: str


class Site(NamedTuple):
    """Where a lock was created."""

    filename: str
    lineno: int
    function: str
    #: the first frame outside lockorder whose module is in SKIPPED_MODULES'
    #: ``threading`` family, if any: e.g. ``threading.Thread.__init__``
    via: str


_getframe: Callable[[int], FrameType] = sys._getframe


if sys.version_info >= (3, 11):

    def _qualname(frame: FrameType) -> str:
        return frame.f_code.co_qualname

else:  # code objects carry no co_qualname before 3.11
    from lockorder._qualnames import qualname_of_frame as _qualname


def find_site(depth: int = 2) -> Site:
    """Return the creation site of a lock whose factory is ``depth`` frames up."""
    try:
        frame: FrameType | None = _getframe(depth)
    except ValueError:
        return Site("<unknown>", 0, "<unknown>", "")
    via = ""
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str) or not is_skipped(module):
            return Site(frame.f_code.co_filename, frame.f_lineno, _qualname(frame), via)
        if not module.startswith("lockorder") and not module.startswith("wrapt") and not via:
            via = f"{module}.{_qualname(frame)}"
        frame = frame.f_back
    return Site("<unknown>", 0, "<unknown>", via)


def made_by(qualnames: frozenset[str], depth: int = 2) -> bool:
    """Whether a frame of module ``threading`` with one of ``qualnames`` is on the
    stack between the factory and the creation site."""
    try:
        frame: FrameType | None = _getframe(depth)
    except ValueError:
        return False
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str) or not is_skipped(module):
            return False
        if module == "threading" and _qualname(frame) in qualnames:
            return True
        frame = frame.f_back
    return False


_STACK_SKIP = ("lockorder.", "wrapt", "runpy")

#: frames kept per stack
STACK_LIMIT = 40


#: outermost frames of these modules are the test runner's or the thread
#: bootstrap's, not the program's: a stack starts below them
_RUNNER_MODULES = ("_pytest", "pluggy", "xdist", "execnet", "pytest", "runpy")
_THREAD_BOOTSTRAP = frozenset(
    {"Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run", "_bootstrap", "run"}
)
#: lockorder's own files (``python -m lockorder`` runs __main__ under that name)
_LOCKORDER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def capture_stack(depth: int = 2, limit: int = STACK_LIMIT) -> tuple[Frame, ...]:
    """The current stack, innermost last, without lockorder's and wrapt's frames
    and without the outermost frames of the test runner or thread bootstrap."""
    try:
        frame: FrameType | None = _getframe(depth)
    except ValueError:
        return ()
    return stack_of(frame, limit)


def stack_of(frame: FrameType | None, limit: int = STACK_LIMIT) -> tuple[Frame, ...]:
    """The stack from ``frame`` outwards, as capture_stack() shows it."""
    frames: list[tuple[Frame, str]] = []
    while frame is not None and len(frames) < limit:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            module = ""
        if module == "lockorder" or frame.f_code.co_filename.startswith(_LOCKORDER_DIR):
            module = "lockorder."
        if not module.startswith(_STACK_SKIP):
            frame_info = Frame(frame.f_code.co_filename, frame.f_lineno, _qualname(frame))
            frames.append((frame_info, module))
        frame = frame.f_back
    frames.reverse()
    # keep what lies inside the innermost runner frame (pytest calling the test,
    # threading calling the thread's target)
    start = 0
    for index, (frame_info, module) in enumerate(frames[:-1]):
        if (
            module.startswith(_RUNNER_PREFIXES)
            or module in _RUNNER_MODULES
            or (module == "threading" and frame_info.function in _THREAD_BOOTSTRAP)
        ):
            start = index + 1
    return tuple(frame_info for frame_info, _ in frames[start:])


_RUNNER_PREFIXES = tuple(name + "." for name in _RUNNER_MODULES)


def relpath(filename: str) -> str:
    """``filename`` relative to the current directory when it lies below it."""
    try:
        rel = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel
