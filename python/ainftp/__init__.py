# SPDX-License-Identifier: BSD-3-Clause
"""All-reduce float32 buffers through an ainftp appliance from Python.

A ctypes binding of the worker client library, libainftp-client.so.2
(client/ainftp_client.h), so that no C extension has to be built for each
Python: the library does the work (quantizing, sending, retransmitting,
answering heartbeats) on its own engine thread, and every blocking call
releases the GIL.

    import numpy as np, ainftp
    with ainftp.Client("cluster.json", job=1, worker=0) as c:
        grad = np.ones(1 << 20, dtype=np.float32)
        c.allreduce(grad, op="mean")          # in place; returns grad

Buffers are NumPy float32 arrays or PyTorch float32 CPU tensors, C-contiguous
and writable: the library writes the result into them. ainftp.torch has the
DistributedDataParallel communication hook.

The library is found, in this order: the AINFTP_CLIENT_LIB environment
variable (only it, when set); the path meson wrote into ainftp/_build.py at
configure time (the build tree's library for the build tree's copy of the
package, the installed one for meson's installed copy); then, as for a package
installed by pip, which has no _build.py: ctypes.util.find_library("ainftp-client")
(the linker cache: a library meson installed) and the soname
libainftp-client.so.2 for the dynamic linker's own search (LD_LIBRARY_PATH).
"""

import ctypes
import ctypes.util
import os
import sys
import threading

from ._version import __version__

__all__ = [
    "__version__",
    "Client", "Error", "Request", "allreduce", "finalize", "init", "status_name",
    "E_INVAL", "E_TIMEOUT", "E_UNREACHABLE", "E_SYSTEM", "E_NOMEM", "E_FAILED",
    "E_OVERFLOW", "E_VALUE", "E_CLOSED", "E_SKIPPED", "E_MISMATCH", "ABI",
]

ABI = 2  # AINFTP_CLIENT_ABI of the header this binding follows
SONAME = "libainftp-client.so.%d" % ABI  # client/meson.build's soversion is the ABI

# enum ainftp_status
E_INVAL = -1
E_TIMEOUT = -2
E_UNREACHABLE = -3
E_SYSTEM = -4
E_NOMEM = -5
E_FAILED = -6
E_OVERFLOW = -7
E_VALUE = -8
E_CLOSED = -9
E_SKIPPED = -10
E_MISMATCH = -11

_OPS = {"sum": 0, "mean": 1}  # enum ainftp_reduce_op

_STATS_FIELDS = (
    "requests", "chunks", "packets_sent", "retransmits", "results", "dup_results",
    "bad_packets", "heartbeats", "bytes_sent", "bytes_received", "probes", "states",
    "chunks_skipped", "requests_skipped", "bad_tags", "srtt_us", "rto_us",
)


class _Stats(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in _STATS_FIELDS]


_XDP_STATS_FIELDS = ("boxes", "native", "sent", "received", "bad")


class _XdpStats(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in _XDP_STATS_FIELDS]


class Error(Exception):
    """A failure reported by the client library.

    status is the library's negative enum ainftp_status (E_TIMEOUT, ...),
    name its short name ("timeout", ...) and message the library's one-line
    message, which never holds a key.
    """

    def __init__(self, status, message):
        super().__init__(status, message)  # args: what pickling needs to rebuild it
        self.status = status
        self.name = status_name(status)
        self.message = message

    def __str__(self):
        return "%s [%s]" % (self.message, self.name)


# --- the library ------------------------------------------------------------------

_lib_lock = threading.Lock()
_lib_handle = None


def _build_library():
    """The library meson built beside this package, or None.

    _build.py names the built library and the build tree's copy of this
    package; the built library is only right for that copy, so an installed
    package takes the installed library instead.
    """
    try:
        from . import _build
    except ImportError:
        return None
    here = os.path.realpath(os.path.dirname(__file__))
    if here == os.path.realpath(_build.BUILD_PACKAGE_DIR):
        return _build.BUILD_LIBRARY
    return _build.INSTALLED_LIBRARY


def _candidates():
    """(where it came from, path or name) for each library to try, in order."""
    env = os.environ.get("AINFTP_CLIENT_LIB")
    if env:
        return [("AINFTP_CLIENT_LIB", env)]
    found = []
    built = _build_library()
    if built:
        found.append(("ainftp/_build.py", built))
    name = ctypes.util.find_library("ainftp-client")
    if name:
        found.append(("find_library", name))
    found.append(("soname", SONAME))
    return found


def _declare(lib):
    """Prototypes of client/ainftp_client.h: ctypes must not guess sizes."""
    p, cp, i, u32 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint32
    fptr, size = ctypes.POINTER(ctypes.c_float), ctypes.c_size_t
    protos = {
        "ainftp_last_error": (cp, []),
        "ainftp_status_name": (cp, [i]),
        "ainftp_opts_new": (p, []),
        "ainftp_opts_free": (None, [p]),
        "ainftp_opts_set": (i, [p, cp, cp]),
        "ainftp_opts_from_cluster": (i, [p, cp, u32, ctypes.c_uint16]),
        "ainftp_client_open": (i, [p, ctypes.POINTER(p)]),
        "ainftp_client_close": (None, [p]),
        "ainftp_client_local_port": (i, [p]),
        "ainftp_allreduce_start": (i, [p, fptr, size, i, ctypes.POINTER(p)]),
        "ainftp_req_test": (i, [p]),
        "ainftp_req_wait": (i, [p]),
        "ainftp_req_error": (cp, [p]),
        "ainftp_req_free": (None, [p]),
        "ainftp_client_get_stats": (i, [p, ctypes.POINTER(_Stats)]),
        "ainftp_client_get_xdp_stats": (i, [p, ctypes.POINTER(_XdpStats)]),
    }
    for name, (restype, argtypes) in protos.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def _lib():
    """The loaded library; OSError naming every place tried when there is none."""
    global _lib_handle
    with _lib_lock:
        if _lib_handle is None:
            tried = []
            for origin, path in _candidates():
                try:
                    _lib_handle = _declare(ctypes.CDLL(path))
                    break
                except (OSError, AttributeError) as e:
                    tried.append("%s (%s): %s" % (path, origin, e))
            else:
                raise OSError("ainftp: cannot load libainftp-client; tried: "
                              + "; ".join(tried)
                              + ". Set AINFTP_CLIENT_LIB to the library's path.")
        return _lib_handle


def status_name(status):
    """The library's short name of a status ("timeout", "invalid argument", ...)."""
    return _lib().ainftp_status_name(int(status)).decode("utf-8", "replace")


def _last_error():
    return _lib().ainftp_last_error().decode("utf-8", "replace")


def _check(rc):
    """rc, or Error from this thread's last library message when rc < 0."""
    if rc < 0:
        raise Error(rc, _last_error())
    return rc


# --- buffers ----------------------------------------------------------------------

# A valid address for n == 0: the library then reports the length, not a NULL buffer.
_EMPTY = ctypes.c_float(0.0)


def _numpy_buffer(x):
    """(address, n) of a NumPy array the library may write, or TypeError/ValueError."""
    np = sys.modules["numpy"]
    if x.dtype != np.float32:
        raise TypeError("ainftp: the array's dtype is %s; ainftp all-reduces native float32 "
                        "(x.astype(np.float32))" % x.dtype.str)
    if not x.flags.c_contiguous:
        raise ValueError("ainftp: the array is not C-contiguous (np.ascontiguousarray(x))")
    if not x.flags.writeable:
        raise ValueError("ainftp: the array is read-only; the result is written into it")
    if not x.flags.aligned:
        raise ValueError("ainftp: the array's data is not aligned for float32 (x.copy())")
    return x.ctypes.data, x.size


def _torch_buffer(x):
    """(address, n) of a torch tensor the library may write, or TypeError/ValueError."""
    torch = sys.modules["torch"]
    if x.layout != torch.strided:
        raise TypeError("ainftp: the tensor's layout is %s, not torch.strided" % x.layout)
    if x.dtype != torch.float32:
        raise TypeError("ainftp: the tensor's dtype is %s; ainftp all-reduces torch.float32"
                        % x.dtype)
    if x.device.type != "cpu":
        raise ValueError("ainftp: the tensor is on %s; ainftp all-reduces CPU memory "
                         "(x.cpu(), then copy the result back)" % x.device)
    if not x.is_contiguous():
        raise ValueError("ainftp: the tensor is not contiguous (x.contiguous())")
    # torch has no aligned flag: a tensor at an odd byte offset of its storage
    # (torch.frombuffer(..., offset=1)) would have the library load misaligned floats.
    if x.data_ptr() % x.element_size() != 0:
        raise ValueError("ainftp: the tensor's data is not aligned for float32 (x.clone())")
    return x.data_ptr(), x.numel()


def _buffer(x):
    """(float pointer, n) of x, checked: the library writes n floats at the pointer.

    NumPy and torch are looked up in sys.modules rather than imported: an
    object can only be one of their arrays if its module is loaded already.
    """
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        addr, n = _torch_buffer(x)
    elif np is not None and isinstance(x, np.ndarray):
        addr, n = _numpy_buffer(x)
    else:
        raise TypeError("ainftp: cannot all-reduce a %s: pass a float32 numpy.ndarray or "
                        "a float32 CPU torch.Tensor" % type(x).__name__)
    if n == 0 or not addr:
        addr = ctypes.addressof(_EMPTY)
    return ctypes.cast(addr, ctypes.POINTER(ctypes.c_float)), n


def _op(op):
    if isinstance(op, str) and op.lower() in _OPS:
        return _OPS[op.lower()]
    if op in (0, 1) and not isinstance(op, bool):
        return int(op)
    raise ValueError('ainftp: op %r is not "sum" or "mean"' % (op,))


# --- requests and clients ------------------------------------------------------------


class Request:
    """One all-reduce in flight (Client.allreduce_async).

    It holds the buffer until the request completes, so the memory the
    library writes cannot be freed under it; a Request dropped while pending
    waits for its completion (at most the client's timeout_ms) before it lets
    the buffer go.
    """

    def __init__(self, handle, buf):
        self._handle = handle
        self._buf = buf
        self._lock = threading.Lock()
        self._error = None
        self._done = False

    def _finish(self, status):
        """Take the outcome and free the C request; the lock is held."""
        if status < 0:
            msg = _lib().ainftp_req_error(self._handle).decode("utf-8", "replace")
            self._error = (status, msg)
        _lib().ainftp_req_free(self._handle)
        self._handle = None
        self._done = True

    def test(self):
        """True once complete (never blocks); raises Error when it failed."""
        if not self._lock.acquire(blocking=False):
            return False  # another thread is in wait(): not known to be done yet
        try:
            if not self._done and _lib().ainftp_req_test(self._handle) == 1:
                self._finish(_lib().ainftp_req_wait(self._handle))
            done = self._done
        finally:
            self._lock.release()
        if done:
            self._raise()
        return done

    def wait(self):
        """Wait for completion; the buffer, which now holds the result, or Error."""
        with self._lock:
            if not self._done:
                self._finish(_lib().ainftp_req_wait(self._handle))
        self._raise()
        return self._buf

    def _raise(self):
        if self._error is not None:
            raise Error(*self._error)

    @property
    def buffer(self):
        """The buffer being all-reduced (the result once complete)."""
        return self._buf

    def __del__(self):
        # The buffer must outlive the engine's writes: req_free waits for them.
        if getattr(self, "_handle", None) is not None and _lib_handle is not None:
            _lib_handle.ainftp_req_free(self._handle)
            self._handle = None


def _option_value(value):
    """The string the library takes for a Python value (bools as true/false)."""
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _check_id(what, value, top):
    """job and worker as ctypes would pass them, without silent truncation."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise ValueError("ainftp: %s %r is not an integer in 0..%d" % (what, value, top))
    return value


class Client:
    """One worker of one job: a UDP socket and the library's engine thread.

    Client("cluster.json", job=1, worker=0) takes the appliance, keys and the
    job's geometry from the appliance's cluster.json; keyword options then
    override or add any option of client/ainftp_client.h (first_step=1000,
    timeout_ms=2000, auth=False, ...); None leaves an option at its default.
    Without a cluster file, job and worker are options like the others.

    Every worker of a job must run the same all-reduces, with the same sizes,
    in the same order. Thread-safe; use it as a context manager or close() it.
    """

    def __init__(self, cluster=None, job=None, worker=None, **options):
        self._handle = None
        self._lock = threading.Lock()
        lib = _lib()
        opts = lib.ainftp_opts_new()
        if not opts:
            raise MemoryError("ainftp_opts_new: out of memory")
        try:
            self._configure(lib, opts, cluster, job, worker, options)
            handle = ctypes.c_void_p()
            _check(lib.ainftp_client_open(opts, ctypes.byref(handle)))
            self._handle = handle
        finally:
            lib.ainftp_opts_free(opts)

    @staticmethod
    def _configure(lib, opts, cluster, job, worker, options):
        if cluster is not None:
            if job is None or worker is None:
                raise ValueError("ainftp: a cluster file needs job= and worker=")
            _check(lib.ainftp_opts_from_cluster(opts, os.fsencode(cluster),
                                                _check_id("job", job, 0xFFFFFFFF),
                                                _check_id("worker", worker, 0xFFFF)))
        else:
            options = dict(options, job=job, worker=worker)
        for name, value in options.items():
            if value is not None:
                _check(lib.ainftp_opts_set(opts, name.encode("utf-8"), _option_value(value)))

    def _live(self):
        """The C handle; Error(E_CLOSED) once closed. Called with the lock held."""
        if self._handle is None:
            raise Error(E_CLOSED, "ainftp: the client is closed")
        return self._handle

    def allreduce_async(self, x, op="sum"):
        """Start all-reducing x in place; a Request to test() or wait() on.

        x must not be read or written until the request completes.
        """
        ptr, n = _buffer(x)
        code = _op(op)
        req = ctypes.c_void_p()
        with self._lock:  # close() must not free the client during the call
            _check(_lib().ainftp_allreduce_start(self._live(), ptr, n, code,
                                                 ctypes.byref(req)))
        return Request(req, x)

    def allreduce(self, x, op="sum"):
        """All-reduce x in place ("sum" or "mean"); returns x. Raises Error.

        Error E_OVERFLOW still leaves a complete result in x: the sum rounded
        where the workers' magnitudes spread past the exact-sum span
        (docs/QUANTIZATION.md); the client stays usable.
        """
        return self.allreduce_async(x, op).wait()

    def stats(self):
        """The client's counters (struct ainftp_client_stats) as a dict."""
        s = _Stats()
        with self._lock:
            _check(_lib().ainftp_client_get_stats(self._live(), ctypes.byref(s)))
        return {name: getattr(s, name) for name in _STATS_FIELDS}

    def xdp_stats(self):
        """What went through AF_XDP (option xdp; struct ainftp_client_xdp_stats) as a dict:
        all zero when the client uses UDP sockets alone."""
        s = _XdpStats()
        with self._lock:
            _check(_lib().ainftp_client_get_xdp_stats(self._live(), ctypes.byref(s)))
        return {name: getattr(s, name) for name in _XDP_STATS_FIELDS}

    @property
    def local_port(self):
        """The local UDP port the client sends from and receives on."""
        with self._lock:
            return _check(_lib().ainftp_client_local_port(self._live()))

    @property
    def closed(self):
        return self._handle is None

    def close(self):
        """Stop the engine; pending requests fail with E_CLOSED. Idempotent."""
        with self._lock:
            if self._handle is not None:
                _lib().ainftp_client_close(self._handle)
                self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None) is not None and _lib_handle is not None:
            _lib_handle.ainftp_client_close(self._handle)
            self._handle = None


# --- the default client ------------------------------------------------------------

_default = None
_default_lock = threading.Lock()


def init(cluster=None, job=None, worker=None, **options):
    """Open the default client (Client's arguments) and return it."""
    global _default
    with _default_lock:
        if _default is not None:
            raise RuntimeError("ainftp.init: already initialized (ainftp.finalize() first)")
        _default = Client(cluster, job, worker, **options)
        return _default


def allreduce(x, op="sum", client=None):
    """All-reduce x in place with client, or the default client of init()."""
    if client is None:
        client = _default
        if client is None:
            raise RuntimeError("ainftp.allreduce: no client (call ainftp.init() first)")
    return client.allreduce(x, op)


def finalize():
    """Close the default client; a no-op when there is none."""
    global _default
    with _default_lock:
        client, _default = _default, None
    if client is not None:
        client.close()
