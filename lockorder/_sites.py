"""Creation sites and stacks: the first frame outside lockorder and the
standard library's lock-building machinery.

The rule (documented in docs/concepts.md): walk outwards from the frame that
called the factory and skip every frame whose module (``__name__`` in the
frame's globals) is one of :data:`SKIPPED_MODULES` or a submodule of one, and
lockorder's own files (``python -m lockorder`` runs one as ``__main__``). The
first frame left is the creation site. So the mutex of a ``queue.Queue()``
belongs to the line that made the queue, and an ``Event``'s Condition to the
line that made the event.
"""

from __future__ import annotations

import dis
import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterable
from types import CodeType, FrameType
from typing import Any, NamedTuple

__all__ = [
    "SKIPPED_MODULES",
    "Frame",
    "Site",
    "acquired_at",
    "capture_stack",
    "find_site",
    "program_stack",
    "qualname",
    "relpath",
    "set_wrappers",
]

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


def _not_the_programs(frame: FrameType, module: str) -> bool:
    """A frame of a skipped module or of lockorder's own files (``python -m
    lockorder`` runs __main__.py under that name)."""
    return is_skipped(module) or frame.f_code.co_filename.startswith(_LOCKORDER_DIR)


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
    #: the line of a lock wrapper that made the lock for this site, if one did
    wrapper: Frame | None = None


_getframe: Callable[[int], FrameType] = sys._getframe


if sys.version_info >= (3, 11):

    def qualname(frame: FrameType) -> str:
        """The qualified name of the frame's function."""
        return frame.f_code.co_qualname

else:  # code objects carry no co_qualname before 3.11
    from lockorder._qualnames import qualname_of_frame as qualname

_qualname = qualname


def find_site(depth: int = 2) -> Site:
    """Return the creation site of a lock whose factory is ``depth`` frames up.

    A lock made where no frame is the program's (a callback the standard
    library runs in a thread of its own, a thread whose target is a factory) is
    the standard library's line that made it: never an unknown site."""
    try:
        frame: FrameType | None = _getframe(depth)
    except ValueError:  # called from outside Python: the factory's own line
        frame = _getframe(1)
    wrapper: Frame | None = None
    innermost: FrameType | None = None
    hops = 0
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            module = ""
        if innermost is None and not frame.f_code.co_filename.startswith(_LOCKORDER_DIR):
            innermost = frame
        if not _not_the_programs(frame, module):
            if wrapper is not None and (
                module in _RUNNER_MODULES or module.startswith(_RUNNER_PREFIXES)
            ):
                # the test runner called it (a pytest fixture returning a lock): its
                # line is no site, the wrapper's is
                return Site(wrapper.filename, wrapper.lineno, wrapper.function)
            here = Frame(frame.f_code.co_filename, frame.f_lineno, _qualname(frame))
            if hops >= _WRAPPER_HOPS or not _is_wrapper(frame, module, here.function):
                return Site(here.filename, here.lineno, here.function, wrapper)
            if wrapper is None:
                wrapper = here
            hops += 1
        frame = frame.f_back
    if wrapper is not None:  # wrappers all the way out: the innermost line made it
        return Site(wrapper.filename, wrapper.lineno, wrapper.function)
    if innermost is None:  # lockorder's own frames only
        innermost = _getframe(1)
    return Site(innermost.f_code.co_filename, innermost.f_lineno, _qualname(innermost))


# -- lock wrappers ----------------------------------------------------------------

#: wrapper frames passed over at most, from the lock outwards
_WRAPPER_HOPS = 8

#: from [tool.lockorder] wrappers: module names (their submodules too), and
#: (module, qualified name) of functions or classes
_wrapper_modules: tuple[frozenset[str], tuple[str, ...]] = (frozenset(), ())
_wrapper_functions: frozenset[tuple[str, str]] = frozenset()


def set_wrappers(names: Iterable[str]) -> None:
    """Declare lock wrappers: ``"package.module"`` (every function and method of
    the module and its submodules) or ``"package.module:Class"``,
    ``"package.module:function"``, ``"package.module:Class.method"``."""
    global _wrapper_modules, _wrapper_functions
    modules: set[str] = set()
    functions: set[tuple[str, str]] = set()
    for name in names:
        module, colon, qualname = name.partition(":")
        if colon:
            functions.add((module, qualname))
        else:
            modules.add(module)
    _wrapper_modules = (frozenset(modules), tuple(m + "." for m in modules))
    _wrapper_functions = frozenset(functions)
    _lines.clear()


def wrappers() -> list[str]:
    """The declared wrappers, as :func:`set_wrappers` takes them."""
    return sorted(_wrapper_modules[0]) + sorted(f"{m}:{q}" for m, q in _wrapper_functions)


def _is_wrapper(frame: FrameType, module: str, qualname: str) -> bool:
    exact, prefixes = _wrapper_modules
    if module in exact or (prefixes and module.startswith(prefixes)):
        return True
    if _wrapper_functions:
        parts = qualname.split(".")
        for end in range(len(parts), 0, -1):
            if (module, ".".join(parts[:end])) in _wrapper_functions:
                return True
    code = frame.f_code
    if code.co_argcount and "." in qualname:
        owner = _defining_class(frame.f_globals, qualname)
        if owner is not None and _lock_like(owner):
            return True
    return _returns_call(code, frame.f_lasti)


def _defining_class(namespace: dict[str, Any], qualname: str) -> type | None:
    """The class whose method ``qualname`` ("Lock.__init__", "Outer.Inner.setup")
    names, found from the module's globals; None for a function or a class made
    inside a function. Never from the frame's locals: reading ``f_locals`` before
    Python 3.13 keeps a copy of every local alive in the frame (transitions'
    garbage-collection test failed on that)."""
    *path, _ = qualname.split(".")
    if not path or "<locals>" in path:
        return None
    try:
        owner: Any = namespace.get(path[0])
        for name in path[1:]:
            owner = getattr(owner, name, None)
    except Exception:  # a hostile __getattr__: not a wrapper
        return None
    return owner if isinstance(owner, type) else None


def _lock_like(cls: type) -> bool:
    """Whether instances of ``cls`` are used as locks: ``acquire`` and ``release``
    methods, or an ``__enter__`` and ``__exit__`` that acquire and release."""
    try:
        if callable(getattr(cls, "acquire", None)) and callable(getattr(cls, "release", None)):
            return True
        return _calls(getattr(cls, "__enter__", None), ("acquire", "__enter__")) and _calls(
            getattr(cls, "__exit__", None), ("release", "__exit__")
        )
    except Exception:  # a hostile metaclass __getattr__: not a wrapper
        return False


def _calls(function: object, names: tuple[str, str]) -> bool:
    code = getattr(function, "__code__", None)
    return code is not None and any(name in code.co_names for name in names)


#: (code, offset of a call, question) -> the answer, read from the bytecode once
_known_facts: dict[tuple[object, int, object], Any] = {}
_FACTS_LIMIT = 4096


def _facts(code: object, lasti: int, question: Callable[[object, int], Any]) -> Any:
    key = (code, lasti, question)
    known = _known_facts.get(key)
    if known is None:
        try:
            known = question(code, lasti)
        except Exception:  # bytecode this Python's dis cannot read: no
            known = False
        if len(_known_facts) >= _FACTS_LIMIT:
            _known_facts.clear()
        _known_facts[key] = known
    return known


def _returns_call(code: object, lasti: int) -> bool:
    """Whether the call at ``lasti`` in ``code`` makes the function's return value:
    ``return threading.Lock()``, or ``lock = threading.Lock(); ...; return lock``."""
    return bool(_facts(code, lasti, _analyse_return))


def _analyse_return(code: object, lasti: int) -> bool:
    instructions = list(dis.get_instructions(code))  # type: ignore[arg-type]
    after = next((i + 1 for i, ins in enumerate(instructions) if ins.offset == lasti), None)
    if after is None or after >= len(instructions):
        return False
    following = instructions[after]
    if following.opname == "RETURN_VALUE":
        return True
    if following.opname == "STORE_FAST":
        name = following.argval
    elif following.opname == "STORE_FAST_LOAD_FAST":  # 3.13: store, then load
        name = following.argval[0]
    else:
        return False
    for load, ret in itertools.pairwise(instructions):
        if ret.opname != "RETURN_VALUE" or not load.opname.startswith(
            ("LOAD_FAST", "STORE_FAST_LOAD_FAST")
        ):
            continue
        values = load.argval if isinstance(load.argval, tuple) else (load.argval,)
        if values[-1] == name:
            return True
    return False


def _program_frame(depth: int) -> FrameType | None:
    """The frame of the program's code that called in, ``depth`` frames up from
    this function or further out: past lockorder, the standard library and lock
    wrappers, as :func:`find_site` walks."""
    try:
        frame: FrameType | None = _getframe(depth)
    except ValueError:
        return None
    hops = 0
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            module = ""
        if not _not_the_programs(frame, module):
            if hops >= _WRAPPER_HOPS or not _is_wrapper(frame, module, _qualname(frame)):
                return frame
            hops += 1
        frame = frame.f_back
    return None


def user_frame(depth: int = 2) -> Frame | None:
    """The line of the program that called in (see :func:`_program_frame`)."""
    frame = _program_frame(depth + 1)
    if frame is None:
        return None
    return Frame(frame.f_code.co_filename, frame.f_lineno, _qualname(frame))


#: user_frame() by the code and instruction offset of the first frame of the
#: program's, where that frame is no lock wrapper's (it is then the line itself):
#: taker_line() asks on every acquire of a lock class a warning watches
_lines: dict[tuple[CodeType, int], Frame] = {}
_LINES_LIMIT = 4096


def taker_line(depth: int = 2) -> Frame | None:
    """:func:`user_frame`, without telling a lock wrapper's frame again at a code
    position already seen (that costs a look at the code's instructions)."""
    try:
        frame: FrameType | None = _getframe(depth)
    except ValueError:
        return None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not _not_the_programs(frame, module if isinstance(module, str) else ""):
            break
        frame = frame.f_back
    if frame is None:
        return None
    key = (frame.f_code, frame.f_lasti)
    line = _lines.get(key)
    if line is not None:
        return line
    line = user_frame(depth + 1)
    if (
        line is not None
        and line.filename == frame.f_code.co_filename
        and line.lineno == frame.f_lineno
        and line.function == _qualname(frame)
    ):
        if len(_lines) >= _LINES_LIMIT:
            _lines.clear()
        _lines[key] = line
    return line


def _program_frames(frame: FrameType | None, limit: int, in_task: bool = False) -> list[FrameType]:
    """The program's frames from ``frame`` outwards, at most ``limit``, innermost
    first (past lockorder's and the standard library's); a test runner's frames
    end them, and with ``in_task`` the event loop running a task's step (what
    lies beyond is the loop's caller, not the task's)."""
    found: list[FrameType] = []
    while frame is not None and len(found) < limit:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            module = ""
        if (
            module in _RUNNER_MODULES
            or module.startswith(_RUNNER_PREFIXES)
            or (in_task and module == "asyncio.events")
            or (module == "lockorder.cli" and frame.f_code.co_name in _RUNS_THE_PROGRAM)
        ):
            break
        if not _not_the_programs(frame, module):
            found.append(frame)
        frame = frame.f_back
    return found


def program_stack(depth: int = 2, limit: int = 3) -> tuple[Frame, ...]:
    """The program's frames from the one that called in (see :func:`user_frame`)
    outwards, at most ``limit``, innermost first; a test runner's frames end it."""
    return tuple(
        Frame(frame.f_code.co_filename, frame.f_lineno, _qualname(frame))
        for frame in _program_frames(_program_frame(depth + 1), limit)
    )


#: where a task was created, kept cheap: (code, instruction offset) per frame
Origin = tuple[tuple[CodeType, int], ...]


def task_origin(depth: int = 2, limit: int = 3) -> Origin:
    """The program's frames creating a task, ``depth`` frames up, outwards (at
    most ``limit``, innermost first), up to the event loop running the
    creator's step or a test runner. Only code and offset are kept: reading a
    frame's line costs, and most tasks never appear in a finding
    (:func:`origin_frames` reads them)."""
    return tuple(
        (frame.f_code, frame.f_lasti)
        for frame in _program_frames(_getframe(depth + 1), limit, in_task=True)
    )


def origin_frames(origin: Origin) -> tuple[Frame, ...]:
    """The frames of a :func:`task_origin`."""
    return tuple(
        Frame(code.co_filename, _line_at(code, lasti), getattr(code, "co_qualname", code.co_name))
        for code, lasti in origin
    )


def _line_at(code: CodeType, lasti: int) -> int:
    for start, end, line in code.co_lines():
        if start <= lasti < end:
            return line or code.co_firstlineno
    return code.co_firstlineno


def taken_in_loop(depth: int = 2) -> bool:
    """Whether the program's code that called a semaphore's acquire (see
    :func:`_program_frame`) runs it inside a loop of its function."""
    return in_loop(_program_frame(depth + 1))


def in_loop(frame: FrameType | None) -> bool:
    """Whether ``frame`` is inside a loop of its function, where it is now."""
    return frame is not None and bool(_facts(frame.f_code, frame.f_lasti, _analyse_loop))


#: instructions after which the next one does not run
_NO_FALL_THROUGH = frozenset(
    {
        "JUMP_ABSOLUTE",
        "JUMP_BACKWARD",
        "JUMP_BACKWARD_NO_INTERRUPT",
        "JUMP_FORWARD",
        "RAISE_VARARGS",
        "RERAISE",
        "RETURN_CONST",
        "RETURN_VALUE",
    }
)


def _analyse_loop(code: object, lasti: int) -> bool:
    """A backward jump from after ``lasti`` to at or before it: a loop's body.

    Only jumps the code's normal flow reaches count: not the jump back of an
    ``await`` resending to what it awaits (3.11+), nor the jump back out of a
    ``with`` block's exception handler (3.12), which would make every line after
    a ``with`` look like a loop's body. The normal flow starts at the code's
    first instruction and follows jumps, but no exception handler other than
    the one that ends an ``async for``."""
    instructions = list(dis.get_instructions(code))  # type: ignore[arg-type]
    at = {ins.offset: index for index, ins in enumerate(instructions)}
    bytecode = dis.Bytecode(code)  # type: ignore[arg-type]
    todo = [0]
    for entry in getattr(bytecode, "exception_entries", ()):
        index = at.get(entry.target)
        if index is not None and instructions[index].opname == "END_ASYNC_FOR":
            todo.append(index)
    reached: set[int] = set()
    while todo:
        index = todo.pop()
        while index < len(instructions) and index not in reached:
            reached.add(index)
            ins = instructions[index]
            jumps = ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs
            target = at.get(ins.argval) if jumps and isinstance(ins.argval, int) else None
            if target is not None and ins.opname.startswith("SETUP_"):
                # (3.10: a handler; only the one ending an async for goes on)
                if instructions[target].opname == "END_ASYNC_FOR":
                    todo.append(target)
            elif target is not None:
                todo.append(target)
                if (
                    ins.offset > lasti
                    and ins.argval <= lasti
                    and ins.opname != "JUMP_BACKWARD_NO_INTERRUPT"
                ):
                    return True
            if ins.opname in _NO_FALL_THROUGH:
                break
            index += 1
    return False


#: test runners: a lock whose creation site is theirs (pytest's log capture
#: handlers, pluggy's, xdist's; lockorder's own, made from their hooks) is not the
#: program's, and is not checked
INFRASTRUCTURE = ("_pytest", "pytest", "pluggy", "xdist")
_infrastructure_prefixes = tuple(name + "." for name in INFRASTRUCTURE)


def made_by(functions: frozenset[tuple[str, str]], depth: int = 2) -> bool:
    """Whether the lock a factory ``depth`` frames up is making is not the
    program's: a frame of one of ``functions`` (module, qualified name) is on the
    stack between the factory and the creation site, or a skipped module's own
    top-level code (a global lock of the standard library, made when the module
    is first imported: before install() or after it, depending on what imported
    it first), or the creation site is a test runner's (:data:`INFRASTRUCTURE`)."""
    try:
        frame: FrameType | None = _getframe(depth)
    except ValueError:
        return False
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            return False
        if not is_skipped(module):
            return module in INFRASTRUCTURE or module.startswith(_infrastructure_prefixes)
        if frame.f_code.co_name == "<module>" or (module, _qualname(frame)) in functions:
            return True
        frame = frame.f_back
    return False


def acquired_at(frame: FrameType | None) -> Frame | None:
    """Where a held lock was acquired, from the frame that called its acquire.

    The frame is kept, not the line (reading the line at every acquire would
    cost the hot path more than the 5% it may), so the line is found again: the
    last ``with`` statement or ``acquire()``/``__enter__()`` call before the
    point the frame has reached (the frame is still running the body of that
    ``with``, or calling down to where the edge is made; a frame that has ended
    stopped after it). When the frame is not the program's (threading's own,
    a Queue's method), the first frame out of it that is the program's answers
    the same way.
    """
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str) or not is_skipped(module):
            code = frame.f_code
            line = _facts(code, frame.f_lasti, _acquire_line) or frame.f_lineno or 0
            return Frame(code.co_filename, int(line), _qualname(frame))
        frame = frame.f_back
    return None


#: instructions that enter a ``with`` block themselves (calling ``__enter__``),
#: up to Python 3.13
_WITH_OPS = frozenset({"BEFORE_WITH", "SETUP_WITH", "BEFORE_ASYNC_WITH", "SETUP_ASYNC_WITH"})
#: the methods whose call takes a lock: from Python 3.14 a ``with`` loads
#: ``__enter__`` (``__aenter__``) with ``LOAD_SPECIAL`` and calls it with ``CALL``
_TAKING_NAMES = frozenset({"acquire", "__enter__", "__aenter__"})
#: instructions that load a method by name (its name is ``argrepr`` where
#: ``argval`` is an index, as ``LOAD_SPECIAL``'s)
_METHOD_LOADS = frozenset({"LOAD_ATTR", "LOAD_METHOD", "LOAD_SPECIAL", "LOAD_SUPER_ATTR"})
#: instructions read after a method's load to find the call that uses it
_CALL_SEARCH = 64


def _taken_by(instructions: list[dis.Instruction], index: int) -> int:
    """The offset of the call that takes the lock whose ``acquire``/``__enter__``
    is loaded at ``instructions[index]``: the first ``CALL`` after which the
    stack holds no more than it did after the load (the arguments and the method
    consumed, a result pushed). The load's own offset if that cannot be read."""
    load = instructions[index]
    depth = 0
    for ins in instructions[index + 1 : index + 1 + _CALL_SEARCH]:
        if ins.opcode < dis.HAVE_ARGUMENT:
            depth += dis.stack_effect(ins.opcode)
        else:
            depth += dis.stack_effect(ins.opcode, ins.arg, jump=False)
        if ins.opname.startswith("CALL") and not ins.opname.startswith("CALL_INTRINSIC"):
            if depth <= 0:
                return ins.offset
        elif depth < 0:  # stored or passed on, not called here
            return load.offset
    return load.offset


def _acquire_line(code: object, lasti: int) -> int:
    """The line of the last ``with`` item or ``acquire``/``__enter__`` call made
    before the instruction at ``lasti`` (0 if there is none). The call at
    ``lasti`` itself is the acquire in progress, not a held lock's: from Python
    3.14 a ``with`` loads ``__enter__`` before the ``CALL`` that enters it, so a
    load is dated by the call that uses it. A ``with`` over several lines names
    the line of the item that took the lock, on every Python.

    A coroutine is past its ``async with`` (or ``await lock.acquire()``) while
    it awaits the acquire: a statement on the line it is suspended at is the
    acquire in progress, not the held lock's."""
    instructions = list(dis.get_instructions(code))  # type: ignore[arg-type]
    # the instruction running: a frame's f_lasti can point into its inline
    # caches (a CALL's on 3.11)
    now = max((ins.offset for ins in instructions if ins.offset <= lasti), default=lasti)
    found: list[int] = []
    for index, ins in enumerate(instructions):
        if ins.offset >= now:
            break
        if ins.opname in _WITH_OPS:
            # the item's line, that of the expression before: up to 3.12 the
            # instruction has the line of the ``with`` keyword, from 3.13 the item's
            found.append(instructions[index - 1].offset if index else ins.offset)
        elif (
            ins.opname in _METHOD_LOADS
            and (ins.argval if isinstance(ins.argval, str) else ins.argrepr) in _TAKING_NAMES
            and _taken_by(instructions, index) < now
        ):
            found.append(ins.offset)
    if not found:
        return 0
    starts = [(o, n) for o, n in dis.findlinestarts(code) if n is not None]  # type: ignore[arg-type]

    def line_of(at: int) -> int:
        line = 0
        for offset, number in starts:
            if offset > at:
                break
            line = number
        return line

    lines = [line_of(offset) for offset in found]
    if getattr(code, "co_flags", 0) & _ASYNC_CODE:
        suspended_at = line_of(now)
        earlier = [line for line in lines if line != suspended_at]
        if earlier:
            return earlier[-1]
    return lines[-1]


#: CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR
_ASYNC_CODE = 0x80 | 0x100 | 0x200


# (asyncio.locks: the `async with` of a checked asyncio primitive enters through it)
_STACK_SKIP = ("lockorder.", "wrapt", "runpy", "asyncio.locks")

#: frames kept per stack
STACK_LIMIT = 40


#: outermost frames of these modules are the test runner's or the thread
#: bootstrap's, not the program's: a stack starts below them
_RUNNER_MODULES = ("_pytest", "pluggy", "xdist", "execnet", "pytest", "runpy")
_THREAD_BOOTSTRAP = frozenset(
    {"Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run", "_bootstrap", "run"}
)
#: the functions of ``lockorder run`` (lockorder.cli) that run the program: the
#: frames beyond them are the runner's, not the program's (the console script's
#: ``bin/lockorder``, ``python -m``'s runpy), as pytest's are for a test
_RUNS_THE_PROGRAM = frozenset({"_execute", "_run_script"})
#: lockorder's own files (``python -m lockorder`` runs __main__ under that name)
_LOCKORDER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # (at import)


def of_lockorder(filename: str) -> bool:
    """Whether code of ``filename`` (a code object's) is lockorder's own."""
    return filename.startswith(_LOCKORDER_DIR)


#: per thread: while a task made to run an acquire records its holder's edges,
#: the holder's stack to show instead of the made task's (lockorder._aio_rules.standing_in)
_stand_in = threading.local()


def capture_stack(depth: int = 2, limit: int = STACK_LIMIT) -> tuple[Frame, ...]:
    """The current stack, innermost last, without lockorder's and wrapt's frames
    and without the outermost frames of the test runner or thread bootstrap."""
    stand_in = getattr(_stand_in, "stack", None)
    if stand_in is not None:
        return stand_in()  # type: ignore[no-any-return]
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
        if module == "lockorder.cli" and frame.f_code.co_name in _RUNS_THE_PROGRAM:
            break
        if module == "lockorder" or frame.f_code.co_filename.startswith(_LOCKORDER_DIR):
            module = "lockorder."
        if not module.startswith(_STACK_SKIP) and (
            # asyncio's own frames (wait_for, the runner) are not the program's;
            # the loop's Handle._run stays, to cut what lies outside a task's step
            not module.startswith("asyncio.") or frame.f_code.co_name == "_run"
        ):
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
            # the event loop running a task's step: the task's frames lie inside
            # (the qualified name is "_run" before Python 3.11)
            or (module == "asyncio.events" and frame_info.function in ("Handle._run", "_run"))
        ):
            start = index + 1
    return tuple(frame_info for frame_info, _ in frames[start:])


_RUNNER_PREFIXES = tuple(name + "." for name in _RUNNER_MODULES)


#: the working directory as lockorder last read it (refresh_cwd()): never read on
#: a program's lock creation or acquire, where a finding's text is made, since
#: lockorder's own work must not be a call a blocking-call detector (blockbuster),
#: a profiler or an audit hook sees (os.getcwd(), os.path.abspath())
_cwd = os.getcwd()


def refresh_cwd() -> str:
    """Read the working directory again (lockorder's own hooks call this: a test's
    start, a report's building), and return it."""
    global _cwd
    try:
        _cwd = os.getcwd()
    except OSError:  # pragma: no cover - the directory was removed
        pass
    return _cwd


def absolute(filename: str) -> str:
    """``filename`` made absolute against the working directory lockorder last
    read, by string operations only (``os.path.abspath`` would read it again)."""
    if filename.startswith("<") or os.path.isabs(filename):
        return filename
    return os.path.normpath(os.path.join(_cwd, filename))


def relpath(filename: str) -> str:
    """``filename`` relative to the current directory (as lockorder last read it)
    when it lies below it; by string operations only."""
    if filename.startswith("<"):
        return filename
    path = os.path.normpath(filename if os.path.isabs(filename) else os.path.join(_cwd, filename))
    if path == _cwd:
        return "."
    prefix = _cwd if _cwd.endswith(os.sep) else _cwd + os.sep
    return path[len(prefix) :] if path.startswith(prefix) else filename


def where(frame: Frame) -> str:
    """``file:line in function``, the file relative to the current directory."""
    return f"{relpath(frame.filename)}:{frame.lineno} in {frame.function}"


def started_text(frames: tuple[Frame, ...], verb: str = "started") -> str:
    """ "started at A, called from B, called from C": where a thread was started
    (``verb`` "created": where a task was created)."""
    return f"{verb} at " + ", called from ".join(where(frame) for frame in frames)
