"""The grader's view of a student's objects: plain data in, plain data out.

The checks that grade a question run in the grader's own interpreter (booktools.grading),
never in the student's kernel. A name the answer defines (`poly`, `argmax_f`) is a
`Remote` there: calling it, reading an attribute or converting it to an array is a
request sent to the kernel, which runs the operation and sends the result back as plain
data only (None, bools, numbers, strings, lists, tuples and dicts of them, and NumPy
arrays, read with `allow_pickle=False`). Anything else stays in the kernel and comes back
as another `Remote`. So whatever the student's code rebinds in its own process
(builtins, the serializer, the streams, NumPy) changes at most what its own functions
return, which the check then judges; it cannot change the verdict.

The kernel side is `KERNEL_HELPER`, source code the grader sends to the kernel once. A
request is a JSON file the grader writes in the submission's folder; the kernel
answers with a JSON file beside it. The grader reads the answer with `decode`, which
accepts nothing but the types above and refuses an answer larger than MAX_ANSWER_BYTES.
"""
import base64
import io
import json
import linecache
import os
import secrets
import stat
import types
from pathlib import Path

import numpy as np

MAX_ANSWER_BYTES = 200_000_000
PLAIN = (type(None), bool, int, float, complex, str)


class RemoteError(Exception):
    """An operation on a student's object failed in the kernel (the message says how)."""


# ------------------------------------------------------------------ encoding

def _array(value):
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value), allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _unarray(text):
    return np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)


def encode(value, functions=None):
    """A value of the grader's, as JSON for a request. `functions` maps a function the
    check defined (a lambda) to its source, which the kernel evaluates."""
    if isinstance(value, Remote):
        return {"handle": value._handle}
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return {"plain": value}
    if isinstance(value, complex):
        return {"complex": [value.real, value.imag]}
    if isinstance(value, np.generic):
        return {"scalar": _array(value)}
    if isinstance(value, np.ndarray):
        return {"array": _array(value)}
    if type(value).__module__.startswith(("jax", "jaxlib")):
        import jax
        if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
            return {"jax_key": [_array(jax.random.key_data(value)), str(jax.random.key_impl(value))]}
        return {"jax_array": _array(np.asarray(value))}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [encode(v, functions) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k, functions), encode(v, functions)] for k, v in value.items()]}
    if isinstance(value, range):
        return {"range": [value.start, value.stop, value.step]}
    if isinstance(value, types.FunctionType) and functions is not None and value in functions:
        return {"function": functions[value]}
    raise TypeError(f"the grader cannot send a {type(value).__name__} to the student's kernel")


def decode(data, client):
    """A value from the kernel's answer: plain data, NumPy arrays, or a Remote for the rest."""
    if not isinstance(data, dict) or len(data) != 1:
        raise RemoteError("a malformed answer from the kernel")
    (kind, value), = data.items()
    if kind == "plain":
        if not isinstance(value, PLAIN):
            raise RemoteError("a malformed answer from the kernel")
        return value
    if kind == "complex":
        return complex(float(value[0]), float(value[1]))
    if kind == "scalar":
        return _unarray(value)[()]
    if kind == "array":
        return _unarray(value)
    if kind in ("list", "tuple"):
        items = [decode(v, client) for v in value]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {_hashable(decode(k, client)): decode(v, client) for k, v in value}
    if kind == "object":
        handle, type_name = value
        if not isinstance(handle, str) or not handle.isalnum() or not isinstance(type_name, str):
            raise RemoteError("a malformed handle from the kernel")
        return Remote(client, handle, type_name[:200])
    if kind == "error":
        raise RemoteError(str(value)[:500])
    raise RemoteError(f"an answer of unknown kind {kind!r} from the kernel")


def _hashable(key):
    if isinstance(key, (list, np.ndarray)):
        raise RemoteError("an unhashable dictionary key from the kernel")
    return key


# ------------------------------------------------------------------ the grader's side

class Remote:
    """A student's object, which stays in the kernel; every use of it is a request."""

    __slots__ = ("_client", "_handle", "_type")

    def __init__(self, client, handle, type_name):
        self._client, self._handle, self._type = client, handle, type_name

    def _op(self, op, *args, **kwargs):
        return self._client.request(op, self._handle, args, kwargs)

    def __call__(self, *args, **kwargs):
        return self._op("call", *args, **kwargs)

    def _remote_line_events(self, args):
        """The lines of Python one call with `args` runs, counted in the kernel, where the
        function runs (lecture_tools.count_line_events), after one call that is not counted."""
        return self._op("line_events", tuple(args))

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        try:
            return self._op("getattr", name)
        except RemoteError as error:    # so that getattr(x, name, default) and hasattr work
            if str(error).startswith("AttributeError:"):
                raise AttributeError(str(error)) from None
            raise

    def __getitem__(self, key):
        return self._op("getitem", key)

    def __len__(self):
        return self._op("len")

    def __iter__(self):
        return iter(self._op("list"))

    def __array__(self, dtype=None, copy=None):
        array = np.asarray(self._op("array"))
        return array.astype(dtype) if dtype is not None else array

    def __float__(self):
        return float(self._op("array"))

    def __int__(self):
        return int(self._op("array"))

    def __index__(self):
        return int(self._op("array"))

    def __bool__(self):
        return bool(self._op("bool"))

    def __repr__(self):
        return f"<student's {self._type}>"

    def __eq__(self, other):
        return self._op("eq", other)

    __hash__ = object.__hash__


def lambda_sources(check, filename):
    """{(line, column): source} of every lambda in a check's code (a check may pass the
    student's function a lambda: the kernel receives its source). The check's lines are
    registered with linecache too, so that its tracebacks show them."""
    import ast
    tree = ast.parse(check)
    linecache.cache[filename] = (len(check), None, check.splitlines(True), filename)
    return {(node.lineno, node.col_offset): ast.get_source_segment(check, node)
            for node in ast.walk(tree) if isinstance(node, ast.Lambda)}


def read_answer(path):
    """The bytes of an answer file the kernel wrote, at most MAX_ANSWER_BYTES of them, read
    only if it is a plain file of its own: the kernel could leave a link to another file
    there (one of the grader's, or /dev/zero), or a pipe that never ends."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise RemoteError("the kernel gave no answer (did it stop, or take too long?)") from None
    except OSError:
        raise RemoteError("the kernel's answer is not a plain file") from None
    with os.fdopen(descriptor, "rb") as answer:
        if not stat.S_ISREG(os.fstat(answer.fileno()).st_mode):
            raise RemoteError("the kernel's answer is not a plain file")
        data = answer.read(MAX_ANSWER_BYTES + 1)
    if len(data) > MAX_ANSWER_BYTES:
        raise RemoteError("the kernel's answer is too large")
    return data


class KernelLink:
    """Requests to the student's kernel, through files in its folder and a short code cell
    that runs the helper there (`run` executes code in the kernel and waits)."""

    def __init__(self, folder, run, timeout):
        self.folder, self.run, self.timeout = Path(folder), run, timeout
        self.lambdas = {}

    def request(self, op, handle, args=(), kwargs=None):
        token = secrets.token_hex(8)
        functions = {}
        for value in list(args) + list((kwargs or {}).values()):
            if isinstance(value, types.FunctionType):
                source = self._lambda_source(value)
                if source is None:
                    raise TypeError("a check may pass the student's functions only lambdas written in it")
                functions[value] = source
        request = {"op": op, "handle": handle, "args": [encode(a, functions) for a in args],
                   "kwargs": {k: encode(v, functions) for k, v in (kwargs or {}).items()}}
        question = self.folder / f".grader-{token}.request.json"
        answer = self.folder / f".grader-{token}.answer.json"
        question.write_text(json.dumps(request))
        try:
            self.run(f"__grader_answer__({str(question)!r}, {str(answer)!r})", self.timeout)
            data = json.loads(read_answer(answer))
        finally:
            for path in (question, answer):
                path.unlink(missing_ok=True)
        return decode(data, self)

    def _lambda_source(self, function):
        line = function.__code__.co_firstlineno
        candidates = [src for (ln, _), src in self.lambdas.items() if ln == line]
        return candidates[0] if len(candidates) == 1 else None

    def lookup(self, name):
        """The student's `name`: its value if plain data, else a Remote; NameError if the
        notebook did not define it."""
        try:
            return self.request("lookup", name)
        except RemoteError as error:
            if "not defined" in str(error):
                raise NameError(f"name {name!r} is not defined by the submission") from None
            raise


# ------------------------------------------------------------------ the kernel's side

# Sent to the kernel as source: the student's Python has NumPy but not booktools, so its
# array coding (to_array, from_array) repeats _array and _unarray above, and its line count
# (line_events) lecture_tools.count_line_events, which the student's kernel may hold a copy
# of that the student changed; keep them alike.
KERNEL_HELPER = r'''
def __grader_install__():
    import base64, builtins, io, json, math, operator, secrets, sys, time
    import numpy
    handles = {}

    def to_array(value):
        buffer = io.BytesIO()
        numpy.save(buffer, numpy.asarray(value), allow_pickle=False)
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    def from_array(text):
        return numpy.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)

    def out(value, depth=0):
        if depth > 20:
            raise ValueError("nested too deeply")
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"plain": value}
        if isinstance(value, complex):
            return {"complex": [value.real, value.imag]}
        if isinstance(value, numpy.generic) and value.dtype != object:
            return {"scalar": to_array(value)}
        if isinstance(value, numpy.ndarray) and value.dtype != object:
            return {"array": to_array(value)}
        module = type(value).__module__ or ""
        if module.startswith(("jax", "jaxlib")) and hasattr(value, "__array__") and hasattr(value, "dtype"):
            try:
                import jax
                if not jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
                    return {"array": to_array(numpy.asarray(value))}
            except Exception:
                pass
        if isinstance(value, (list, tuple)):
            return {"list" if isinstance(value, list) else "tuple": [out(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"dict": [[out(k, depth + 1), out(v, depth + 1)] for k, v in value.items()]}
        handle = secrets.token_hex(8)
        handles[handle] = value
        return {"object": [handle, type(value).__module__ + "." + type(value).__qualname__]}

    def into(data):
        (kind, value), = data.items()
        if kind == "plain":
            return value
        if kind == "complex":
            return complex(*value)
        if kind == "scalar":
            return from_array(value)[()]
        if kind == "array":
            return from_array(value)
        if kind == "jax_array":
            import jax.numpy as jnp
            return jnp.asarray(from_array(value))
        if kind == "jax_key":
            import jax
            return jax.random.wrap_key_data(from_array(value[0]))
        if kind in ("list", "tuple"):
            items = [into(v) for v in value]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            return {into(k): into(v) for k, v in value}
        if kind == "range":
            return range(*value)
        if kind == "handle":
            return handles[value]
        if kind == "function":
            import jax, jax.numpy as jnp
            return eval(value, {"np": numpy, "numpy": numpy, "jnp": jnp, "jax": jax, "math": math,
                                "time": time})
        raise ValueError(f"unknown kind {kind}")

    def answer(question, reply):
        try:
            with open(question) as f:
                request = json.load(f)
            op, handle = request["op"], request["handle"]
            args = [into(a) for a in request["args"]]
            kwargs = {k: into(v) for k, v in request["kwargs"].items()}
            if op == "lookup":
                namespace = __grader_namespace__
                if handle not in namespace:
                    raise NameError(f"name {handle!r} is not defined")
                result = namespace[handle]
            else:
                target = handles[handle]
                if op == "call":
                    result = target(*args, **kwargs)
                elif op == "getattr":
                    result = getattr(target, args[0])
                elif op == "getitem":
                    result = target[args[0]]
                elif op == "len":
                    result = len(target)
                elif op == "list":
                    result = list(target)
                elif op == "array":
                    result = numpy.asarray(target)
                elif op == "bool":
                    result = bool(target)
                elif op == "eq":
                    result = bool(numpy.all(target == args[0]))
                elif op == "line_events":
                    call_args, = args
                    target(*call_args)
                    count = [0]

                    def trace(frame, event, arg):
                        if event == "line":
                            count[0] += 1
                        return trace

                    previous = sys.gettrace()
                    sys.settrace(trace)
                    try:
                        target(*call_args)
                    finally:
                        sys.settrace(previous)
                    result = count[0]
                else:
                    raise ValueError(f"unknown operation {op}")
            data = out(result)
        except BaseException as error:
            data = {"error": (type(error).__name__ + ": " + str(error))[:500]}
        with open(reply, "w") as f:
            json.dump(data, f)

    return answer

__grader_namespace__ = globals()
__grader_answer__ = __grader_install__()
del __grader_install__
'''
