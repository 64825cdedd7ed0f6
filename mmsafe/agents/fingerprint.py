"""The fingerprint of a Python policy: a digest of what decides its actions (its parameters,
wherever they are held, and its own code), so that a run directory resumes only a run of the
same policy (`PolicyAgent.fingerprint`)."""

from __future__ import annotations

import functools
import hashlib
import inspect
import sys
import sysconfig
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

SCALARS = (bool, int, float, complex, str, bytes, type(None))
MAX_DEPTH = 4  # of containers (lists, dicts, objects) walked for parameters


class PolicyDigest:
    """Walks a policy for what decides its actions and hashes it in a fixed order. `found`: it
    met parameters or code of the policy's own (plain numbers alone do not count). In `probe`
    mode nothing is hashed: only `found` is worked out."""

    def __init__(self, probe: bool = False):
        self._hash = None if probe else hashlib.sha256()
        self.found = False
        self._seen: dict[int, Any] = {}  # held, so that no id is reused during the walk
        self._torch = sys.modules.get("torch")  # a torch object exists only if torch is loaded

    def hexdigest(self) -> str:
        return self._hash.hexdigest() if self._hash is not None else ""

    def _put(self, tag: str, data: Any = b"") -> None:
        if self._hash is None:
            return
        view = memoryview(data.encode() if isinstance(data, str) else data)
        self._hash.update(f"{tag}:{view.nbytes}:".encode())
        self._hash.update(view)

    def _first(self, obj: Any) -> bool:
        if id(obj) in self._seen:
            self._put("again")
            return False
        self._seen[id(obj)] = obj
        return True

    # -- what a policy is ---------------------------------------------------------------------
    def policy(self, policy: Any) -> PolicyDigest:
        if isinstance(policy, functools.partial):
            self._put("partial")
            self.policy(policy.func)
            self._value(policy.args, 1, scalars=True)
            self._value(policy.keywords, 1, scalars=True)
        elif inspect.ismethod(policy):
            self._put("method", policy.__func__.__name__)
            self._function(policy.__func__, own_only=True)
            self._owner(policy.__self__)
        elif isinstance(policy, types.FunctionType):
            self._function(policy, own_only=False)
        elif isinstance(policy, types.BuiltinFunctionType):
            self._put("builtin", owner_name(policy))
            owner = getattr(policy, "__self__", None)
            if owner is not None and not isinstance(owner, types.ModuleType):
                self._owner(owner)
        else:
            self._put("object", _qualname(type(policy)))
            call = inspect.getattr_static(type(policy), "__call__", None)
            if isinstance(call, types.FunctionType):
                self._function(call, own_only=True)
            self._owner(policy)
        return self

    def _owner(self, owner: Any) -> None:
        """The object a method runs on: its parameters, or else its attributes (numbers too)."""
        if isinstance(owner, (type, types.ModuleType)) or not self._first(owner):
            return
        if self._holder(owner):
            return
        for name, value in sorted(_attributes(owner).items()):
            self._put("attribute", name)
            self._value(value, 1, scalars=True)

    def _function(self, fn: types.FunctionType, own_only: bool) -> None:
        """A function's code, defaults, closure and the module-level values it names (its
        parameters, numbers, and functions of the same module; not whole modules or classes).
        With `own_only`, code of an installed library or the standard library is left out."""
        if own_only and _in_library(fn.__code__.co_filename):
            self._put("library", f"{fn.__module__}.{fn.__qualname__}")
            return
        if not self._first(fn):
            return
        self.found = True
        self._put("function", fn.__qualname__)
        self._code(fn.__code__)
        self._put("defaults")
        self._value(fn.__defaults__, 1, scalars=True)
        self._value(fn.__kwdefaults__, 1, scalars=True)
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
            try:
                value = cell.cell_contents
            except ValueError:  # a cell not yet filled
                continue
            self._put("cell", name)
            self._value(value, 0, scalars=True)
        for name in sorted(_global_names(fn.__code__)):
            if name not in fn.__globals__:
                continue  # a builtin or an attribute name
            value = fn.__globals__[name]
            if isinstance(value, types.FunctionType):
                if value.__module__ != fn.__module__:
                    continue
            elif not (isinstance(value, SCALARS) or self._is_parameters(value)):
                continue
            self._put("global", name)
            self._value(value, MAX_DEPTH - 1, scalars=True)

    def _code(self, code: types.CodeType) -> None:
        self._put("code", code.co_code)
        self._put("names", "\0".join(code.co_names))
        self._put("vars", "\0".join(code.co_varnames + code.co_freevars + code.co_cellvars))
        shape = (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)
        self._put("signature", repr(shape))
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                self._code(const)
            else:
                self._put("const", _stable_repr(const))

    # -- values -------------------------------------------------------------------------------
    def _is_parameters(self, value: Any) -> bool:
        torch = self._torch
        if isinstance(value, np.ndarray):
            return True
        if torch is not None and isinstance(value, (torch.nn.Module, torch.Tensor)):
            return True
        if isinstance(value, (type, types.ModuleType)):
            return False
        return any(callable(_attr(value, api)) for api in ("get_parameters", "state_dict"))

    def _value(self, value: Any, depth: int, scalars: bool) -> None:
        """Parameters anywhere; numbers where `scalars`; functions (their code and closure);
        containers and the attributes of plain objects up to MAX_DEPTH (parameters only)."""
        torch = self._torch
        if isinstance(value, SCALARS):
            if scalars:
                self._put(type(value).__name__, repr(value))
        elif isinstance(value, np.generic):
            if scalars:
                self._put("number", f"{value.dtype}:{value!r}")
        elif isinstance(value, np.ndarray):
            if self._first(value):
                self._array(value)
        elif torch is not None and isinstance(value, torch.Tensor):
            if self._first(value):
                self._tensor(value)
        elif isinstance(value, types.FunctionType):
            self._function(value, own_only=True)
        elif inspect.ismethod(value):
            self._function(value.__func__, own_only=True)
            self._value(value.__self__, depth + 1, scalars=False)
        elif isinstance(value, functools.partial):
            self._value(value.func, depth, scalars)
            self._value(value.args, depth + 1, scalars)
            self._value(value.keywords, depth + 1, scalars)
        elif isinstance(value, (type, types.ModuleType, types.BuiltinFunctionType)):
            self._put("name", getattr(value, "__name__", ""))
        elif depth >= MAX_DEPTH:
            return
        elif isinstance(value, Mapping):
            self._put("mapping", str(len(value)))
            for key, item in sorted(value.items(), key=lambda kv: repr(kv[0])):
                self._put("key", repr(key))
                self._value(item, depth + 1, scalars)
        elif isinstance(value, (list, tuple)):
            self._put("sequence", str(len(value)))
            for item in value:
                self._value(item, depth + 1, scalars)
        elif isinstance(value, (set, frozenset)):
            if scalars:
                self._put("set", _stable_repr(frozenset(value)))
        elif self._first(value) and not self._holder(value):
            for name, item in sorted(_attributes(value).items()):
                if self._is_parameters(item) or isinstance(item, (list, tuple, Mapping)):
                    self._put("attribute", name)
                    self._value(item, depth + 1, scalars=False)

    def _holder(self, value: Any) -> bool:
        """A torch module, a Stable-Baselines3 model (its `policy` module, or
        `get_parameters()`), or an object with `state_dict()`: hash that, and say so."""
        torch = self._torch
        if torch is not None and isinstance(value, torch.nn.Module):
            self._module(value)
            return True
        if isinstance(value, (type, types.ModuleType)):
            return False
        policy = _attr(value, "policy")
        if callable(_attr(value, "get_parameters")) and (
            torch is not None and isinstance(policy, torch.nn.Module)
        ):
            self._put("sb3", _qualname(type(value)))
            self._module(policy)
            return True
        for api in ("get_parameters", "state_dict"):
            method = _attr(value, api)
            if not callable(method):
                continue
            try:
                parameters = method()
            except Exception:  # noqa: BLE001 - not the method we took it for
                continue
            if isinstance(parameters, Mapping):
                self.found = True
                self._put(api, _qualname(type(value)))
                self._value(parameters, 0, scalars=True)
                return True
        return False

    def _module(self, module: Any) -> None:
        """A torch module: its layers (kind and settings, e.g. ReLU or Tanh, which hold no
        tensors), the forward code of layers of the user's own, and every tensor of its
        state_dict (parameters and buffers: names, dtypes, shapes, bytes)."""
        self.found = True
        for name, layer in module.named_modules():
            kind = type(layer)
            self._put("layer", f"{name}={_qualname(kind)}({layer.extra_repr()})")
            forward = getattr(kind, "forward", None)
            if isinstance(forward, types.FunctionType) and not _in_library(
                forward.__code__.co_filename
            ):
                self._function(forward, own_only=True)
        for key, tensor in module.state_dict().items():
            self._put("tensor", key)
            self._tensor(tensor)

    def _tensor(self, tensor: Any) -> None:
        torch = self._torch
        self.found = True
        tensor = tensor.detach()
        self._put("shape", f"{tensor.dtype}{tuple(tensor.shape)}")
        if self._hash is None or tensor.device.type == "meta":
            return
        try:
            if tensor.layout != torch.strided:
                tensor = tensor.to_dense()
            if tensor.is_quantized:
                tensor = tensor.int_repr()
            flat = tensor.resolve_conj().resolve_neg().cpu().contiguous().reshape(-1)
            self._put("bytes", flat.view(torch.uint8).numpy())
        except (RuntimeError, TypeError):  # an unusual kind of tensor: its values as text
            self._put("values", repr(tensor.tolist()))

    def _array(self, array: np.ndarray) -> None:
        self.found = True
        self._put("array", f"{array.dtype.descr!r}{array.shape}")
        if self._hash is None:
            return
        if array.dtype.hasobject:
            self._put("objects", repr(array.tolist()))
        else:
            self._put("bytes", np.ascontiguousarray(array).reshape(-1).view(np.uint8))


# -- helpers ------------------------------------------------------------------------------------
def _qualname(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def owner_name(policy: Any) -> str:
    """module.qualname of the policy, or of its owner's class and the method's name."""
    if isinstance(policy, functools.partial):
        return owner_name(policy.func)
    owner = getattr(policy, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        kind = owner if isinstance(owner, type) else type(owner)
        return f"{_qualname(kind)}.{getattr(policy, '__name__', '__call__')}"
    if isinstance(policy, (types.FunctionType, types.BuiltinFunctionType)):
        module = getattr(policy, "__module__", None) or "builtins"
        return f"{module}.{getattr(policy, '__qualname__', policy.__name__)}"
    return _qualname(type(policy))


def _attr(value: Any, name: str) -> Any:
    try:
        return getattr(value, name, None)
    except Exception:  # noqa: BLE001 - a property that fails is no attribute to digest
        return None


def _attributes(obj: Any) -> dict[str, Any]:
    """An object's instance attributes: its __dict__ and its slots."""
    found = dict(getattr(obj, "__dict__", None) or {})
    for kind in type(obj).__mro__:
        slots = kind.__dict__.get("__slots__", ())
        for slot in [slots] if isinstance(slots, str) else slots:
            if slot not in found and slot not in ("__dict__", "__weakref__"):
                value = _attr(obj, slot)
                if value is not None:
                    found[slot] = value
    return {str(k): v for k, v in found.items()}


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _stable_repr(const: Any) -> str:
    """repr, with sets sorted: a frozenset's order changes from process to process."""
    if isinstance(const, (frozenset, set)):
        return "{" + ",".join(sorted(_stable_repr(c) for c in const)) + "}"
    if isinstance(const, tuple):
        return "(" + ",".join(_stable_repr(c) for c in const) + ")"
    return repr(const)


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    return tuple(str(Path(paths[n]).resolve()) for n in names if paths.get(n))


@functools.lru_cache(maxsize=1024)
def _in_library(filename: str) -> bool:
    """Whether code lives in the standard library or an installed package (not the user's)."""
    if filename.startswith("<"):  # the REPL, python -c, exec
        return False
    parts = Path(filename).parts
    if "site-packages" in parts or "dist-packages" in parts:
        return True
    resolved = str(Path(filename).resolve())
    return any(resolved == root or resolved.startswith(root + "/") for root in _library_roots())
