"""Reading a pickle without running any of it.

daskperiment saves its state with cloudpickle. Loading a pickle the normal way imports modules and
calls whatever the pickle names (a pickle that says `os.system("...")` runs it), so tuitrack never
does. This unpickler keeps pickle's own opcode parser (the pure-Python `pickle._Unpickler`, whose
memo is a dict and whose every step can be replaced) and changes each opcode that would import or
call something:

- a global (GLOBAL, STACK_GLOBAL, INST, EXT*) becomes a `Global` that only holds its module and
  name; nothing is imported;
- a call (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST) becomes a `Made` that holds what was called and
  its arguments; nothing is called;
- state and items given to a `Made` (BUILD, APPEND(S), SETITEM(S), ADDITEMS) are kept on it;
  given to anything else but a plain list, dict or set, they stop the read.

What comes out is plain Python data (dicts, lists, numbers, strings) with `Global`/`Made` where
the pickle had objects; values.py reads the few kinds tuitrack knows from them. A pickle that
names something that runs code (os.system, subprocess, eval, cloudpickle's function rebuilding)
is refused as a whole: it is hostile or not daskperiment's, and nothing in it is trusted.

Bounds: the caller reads at most `max_bytes`; here at most `max_ops` opcodes are run and marks
nest at most `max_depth` deep, so a crafted pickle cannot take the memory or time of a huge one.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

MAX_OPS = 5_000_000
MAX_DEPTH = 1_000

# Modules whose globals run code, read or write files, or rebuild functions (cloudpickle).
RUNS_CODE_MODULES = frozenset({
    "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "pty",
    "ctypes", "marshal", "pickle", "_pickle", "cPickle", "code", "codeop", "webbrowser",
    "multiprocessing", "asyncio", "signal", "commands", "popen2", "platform", "tempfile", "io",
    "_io", "types", "cloudpickle", "cloudpickle.cloudpickle", "cloudpickle.cloudpickle_fast",
    "dill", "dill._dill", "operator", "_operator", "functools", "_functools", "inspect", "imp",
    "zipimport", "pydoc", "timeit", "trace", "pdb", "bdb", "ensurepip", "venv", "sysconfig",
    "threading", "_thread", "urllib", "urllib.request", "http.client", "ftplib", "smtplib",
    "telnetlib", "numpy.testing", "torch.serialization",
})
# Of builtins, only the types whose construction just holds data.
# (getattr: how a classmethod is pickled, e.g. a time zone's ZoneInfo._unpickle; what it fetches
# is checked at the call, see `_refuse_risky_call`.)
SAFE_BUILTINS = frozenset({
    "set", "frozenset", "bytearray", "bytes", "str", "int", "float", "complex", "bool", "list",
    "dict", "tuple", "slice", "range", "object", "NotImplemented", "Ellipsis", "getattr",
})
RUNS_CODE_WORDS = ("system", "exec", "eval", "popen", "spawn", "import", "subprocess", "compile",
                   "_make_function", "_fill_function", "_make_skel_func", "_builtin_type",
                   "_function_setstate", "_make_cell", "CodeType", "FunctionType", "loads")


class PickleRefused(Exception):
    """The pickle cannot be read safely; the message says why, for the user."""


class Global:
    """A name a pickle refers to (a class or function), never imported."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"

    def __repr__(self) -> str:
        return f"<{self.dotted}>"


class Made:
    """An object a pickle would build by calling `made_by` (usually a Global); never built."""

    __slots__ = ("made_by", "args", "kwargs", "state", "items", "entries")

    def __init__(self, made_by: Any, args: tuple, kwargs: dict | None = None):
        self.made_by, self.args, self.kwargs = made_by, args, kwargs or {}
        self.state: Any = None  # what BUILD gave (usually the object's __dict__)
        self.items: list = []  # APPEND(S), ADDITEMS
        self.entries: list[tuple[Any, Any]] = []  # SETITEM(S)

    @property
    def dotted(self) -> str:
        return self.made_by.dotted if isinstance(self.made_by, Global) else "?"

    def attributes(self) -> dict:
        """The object's attributes, from its BUILD state (a dict, or (dict, slots))."""
        state = self.state
        if isinstance(state, tuple) and len(state) == 2:
            merged = dict(state[0]) if isinstance(state[0], dict) else {}
            if isinstance(state[1], dict):
                merged.update(state[1])
            return merged
        return state if isinstance(state, dict) else {}

    def __repr__(self) -> str:
        return f"<{self.dotted}(...)>"


def runs_code(module: str, name: str) -> bool:
    """True for a global whose call (or import) could run code or touch the system."""
    top = module.split(".", 1)[0]
    if module in RUNS_CODE_MODULES or top in RUNS_CODE_MODULES or name.split(".", 1)[0] in RUNS_CODE_MODULES:
        return True  # (the name too: `numpy.os` is the os module)
    if top in ("builtins", "__builtin__"):
        return name not in SAFE_BUILTINS
    lowered = name.lower()
    return any(word.lower() in lowered for word in RUNS_CODE_WORDS)


class _Stop(Exception):
    def __init__(self, value: Any):
        self.value = value


class InertUnpickler(pickle._Unpickler):  # the pure-Python parser: every opcode replaceable
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, data: bytes, max_ops: int = MAX_OPS, max_depth: int = MAX_DEPTH):
        self._source = io.BytesIO(data)
        super().__init__(self._source)
        self.max_ops, self.max_depth = max_ops, max_depth
        self.globals_seen: list[Global] = []

    def find_class(self, module: str, name: str) -> Global:
        if not isinstance(module, str) or not isinstance(name, str):
            raise PickleRefused("names something that is not a name")
        if runs_code(module, name):
            raise PickleRefused(f"would run code when loaded ({module}.{name}): not read, nothing run")
        found = Global(module, name)
        self.globals_seen.append(found)
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise PickleRefused("refers to outside objects (a persistent id): not read")

    def load(self) -> Any:
        """pickle._Unpickler.load, counting opcodes. The bytes are all in memory, so they are read
        straight from them: a frame (protocol 4+) is only a length hint before bytes that follow."""
        source = self._source
        self.read, self.readinto, self.readline = source.read, source.readinto, source.readline
        self.metastack, self.stack = [], []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch = self.read, self.dispatch
        ops = 0
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError
                ops += 1
                if ops > self.max_ops:
                    raise PickleRefused(f"holds more than {self.max_ops:,} objects: not read")
                dispatch[key[0]](self)
        except _Stop as stop:
            return stop.value

    def load_frame(self) -> None:
        if len(self.read(8)) != 8:
            raise EOFError
    dispatch[pickle.FRAME[0]] = load_frame

    # -- the opcodes that would import or call -------------------------------------------------------

    def load_stop(self) -> None:
        raise _Stop(self.stack.pop())
    dispatch[pickle.STOP[0]] = load_stop

    def load_mark(self) -> None:
        if len(self.metastack) >= self.max_depth:
            raise PickleRefused(f"is nested more than {self.max_depth:,} levels deep: not read")
        self.metastack.append(self.stack)
        self.stack = []
        self.append = self.stack.append
    dispatch[pickle.MARK[0]] = load_mark

    def get_extension(self, code: int) -> None:
        raise PickleRefused(f"uses extension code {code} (a registry outside the pickle): not read")

    def load_reduce(self) -> None:
        args = _as_tuple(self.stack.pop())
        _refuse_risky_call(self.stack[-1], args)
        self.stack[-1] = Made(self.stack[-1], args)
    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_newobj(self) -> None:
        args = self.stack.pop()
        self.stack[-1] = Made(self.stack[-1], _as_tuple(args))
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        self.stack[-1] = Made(self.stack[-1], _as_tuple(args), kwargs if isinstance(kwargs, dict) else None)
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def _instantiate(self, klass: Any, args: list) -> None:
        self.append(Made(klass, tuple(args)))

    def load_build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if not isinstance(target, Made):
            raise PickleRefused(f"sets the state of a {type(target).__name__}: not read")
        target.state = state
    dispatch[pickle.BUILD[0]] = load_build

    def load_append(self) -> None:
        value = self.stack.pop()
        _extend(self.stack[-1], [value])
    dispatch[pickle.APPEND[0]] = load_append

    def load_appends(self) -> None:
        items = self.pop_mark()
        _extend(self.stack[-1], items)
    dispatch[pickle.APPENDS[0]] = load_appends

    def load_additems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        if isinstance(target, set):
            _check_keys(items)
            target.update(items)
        else:
            _extend(target, items)
    dispatch[pickle.ADDITEMS[0]] = load_additems

    def load_dict(self) -> None:
        items = self.pop_mark()
        target: dict = {}
        _set_items(target, items)
        self.append(target)
    dispatch[pickle.DICT[0]] = load_dict

    def load_frozenset(self) -> None:
        items = self.pop_mark()
        _check_keys(items)
        self.append(frozenset(items))
    dispatch[pickle.FROZENSET[0]] = load_frozenset

    def load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        _set_items(self.stack[-1], [key, value])
    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self) -> None:
        items = self.pop_mark()
        _set_items(self.stack[-1], items)
    dispatch[pickle.SETITEMS[0]] = load_setitems


def _refuse_risky_call(func: Any, args: tuple) -> None:
    """A call of what another call returned is only ever getattr's result (a classmethod); one
    that fetches a risky name (getattr(x, "system")) is refused like the name itself."""
    if isinstance(func, Global):
        if func.name == "getattr" and len(args) > 1 and isinstance(args[1], str):
            if runs_code(args[0].module if isinstance(args[0], Global) else "", args[1]):
                raise PickleRefused(f"would run code when loaded (getattr {args[1]!r}): not read, nothing run")
        return
    if not (isinstance(func, Made) and isinstance(func.made_by, Global) and func.made_by.name == "getattr"):
        raise PickleRefused("would call something built while loading: not read, nothing run")


def _as_tuple(args: Any) -> tuple:
    return args if isinstance(args, tuple) else (args,)


def _extend(target: Any, items: list) -> None:
    if type(target) is list:
        target.extend(items)
    elif isinstance(target, Made):
        target.items.extend(items)
    else:
        raise PickleRefused(f"appends to a {type(target).__name__}: not read")


MAX_KEY_NESTING = 100
MAX_KEY_ITEMS = 10_000
HASHED_SAFELY = (str, bytes, int, float, bool, type(None), Global, Made)


def _check_keys(keys: list) -> None:
    """Dict keys and set items get hashed, and hashing a tuple nested a million deep overflows the C
    stack: keys may nest tuples (and frozensets) only so deep, and hold only plain values."""
    for key in keys:
        if isinstance(key, HASHED_SAFELY):
            continue
        todo, seen = [(key, 1)], 0
        while todo:
            value, depth = todo.pop()
            seen += 1
            if depth > MAX_KEY_NESTING or seen > MAX_KEY_ITEMS:
                raise PickleRefused("has a dict key or set item nested too deeply: not read")
            if isinstance(value, (tuple, frozenset)):
                todo.extend((item, depth + 1) for item in value)
            elif not isinstance(value, HASHED_SAFELY):
                raise PickleRefused(f"has a {type(value).__name__} as a dict key or set item: not read")


def _set_items(target: Any, items: list) -> None:
    if type(target) is dict:
        _check_keys(items[0::2])
        for i in range(0, len(items) - 1, 2):
            target[items[i]] = items[i + 1]
    elif isinstance(target, Made):
        target.entries.extend((items[i], items[i + 1]) for i in range(0, len(items) - 1, 2))
    else:
        raise PickleRefused(f"sets items of a {type(target).__name__}: not read")


def load_inert(data: bytes, max_ops: int = MAX_OPS, max_depth: int = MAX_DEPTH) -> Any:
    """The data in a pickle, with Global/Made in place of objects. Raises PickleRefused with a
    message for the user when the pickle is cut short, malformed, too big or would run code."""
    if not data:
        raise PickleRefused("is empty")
    unpickler = InertUnpickler(data, max_ops, max_depth)
    try:
        return unpickler.load()
    except PickleRefused:
        raise
    except EOFError:
        raise PickleRefused("is cut short (still being written?)") from None
    except RecursionError:
        raise PickleRefused("is nested too deeply to read") from None
    except MemoryError:
        raise PickleRefused("is too big to read") from None
    except Exception as exc:  # malformed: a bad opcode, a bad memo reference, a wrong type
        raise PickleRefused(f"is not a readable pickle ({type(exc).__name__}: {str(exc)[:120]})") from None
