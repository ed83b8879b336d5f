"""idnode.py - a Python binding of libidnode (include/idnode.h) with ctypes from
the standard library: resolve Handle identifiers from a node or through a
root, and register them as an administrator, from scanner and MES scripts.

    import idnode
    with idnode.Client(server="127.0.0.1:2641") as c:
        rec = c.resolve("88.100.1/MOTOR-1", types=["URL"])
        print(rec.handle, rec.values[0].text)
        c.set_identity_key(300, "0.NA/88.100.1", "admin.pem")
        c.create("88.100.1/MOTOR-2", [(1, "URL", "https://example.com/2"),
                                      "100:HS_ADMIN:300:0.NA/88.100.1"])

The library is found as $IDNODE_LIBRARY, else by ctypes.util.find_library
("idnode"), else as libidnode.so.0. Errors raise IdnodeError (code, the
IDNODE_E* number; rcode, the server's response code; message). A Client
holds a connection and a session: use it from one thread at a time, as the
C library says (docs/libidnode.md).
"""
import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_int, c_size_t,
                    c_uint, c_uint8, c_uint32, c_void_p)

__all__ = ["Client", "IdnodeError", "Record", "Value", "load"]

# Error codes of include/idnode.h.
OK, EINVAL, ENOMEM, ENOTFOUND, EEXIST, EIO = 0, -1, -2, -5, -6, -7
ETIMEOUT, ENET, EPROTO, ECRYPTO, ERANGE, ENOTSUP, EMISMATCH = -9, -10, -11, -12, -13, -14, -18
ESERVER, EDENIED, ENOIDENTITY = -100, -101, -102

_AUTH = {"session": 0, "encrypted": 1, "plain": 2, "idis": 3, "idis-ids": 4}
_TRANSPORT = {"udp": 0, "tcp": 1}


class _Ref(Structure):
    _fields_ = [("handle", c_char_p), ("index", c_uint32)]


class _Value(Structure):
    _fields_ = [("index", c_uint32), ("type", c_void_p), ("type_len", c_size_t),
                ("data", c_void_p), ("len", c_size_t), ("ttl", c_uint32),
                ("ttl_absolute", c_uint8), ("perms", c_uint8), ("timestamp", c_uint32),
                ("refs", POINTER(_Ref)), ("nrefs", c_size_t)]


_NAME_CB = CFUNCTYPE(c_int, c_void_p, c_char_p)
_RESULT_CB = CFUNCTYPE(None, c_void_p, c_uint, c_char_p, c_char_p, c_char_p)

_lib = None


def load(path=None):
    """Loads libidnode (once) and declares its functions; returns the CDLL."""
    global _lib
    if _lib is not None and path is None:
        return _lib
    path = path or os.environ.get("IDNODE_LIBRARY") or ctypes.util.find_library("idnode") \
        or "libidnode.so.0"
    lib = ctypes.CDLL(path)
    P = c_void_p
    sig = {
        "idnode_strerror": (c_char_p, [c_int]),
        "idnode_version": (c_char_p, []),
        "idnode_client_new": (c_int, [POINTER(P)]),
        "idnode_client_free": (None, [P]),
        "idnode_client_set_server": (c_int, [P, c_char_p]),
        "idnode_client_set_root": (c_int, [P, c_char_p]),
        "idnode_client_set_transport": (c_int, [P, c_int]),
        "idnode_client_set_timeout": (c_int, [P, c_uint]),
        "idnode_client_set_identity_key": (c_int, [P, c_uint32, c_char_p, c_char_p, c_char_p]),
        "idnode_client_set_identity_secret": (c_int, [P, c_uint32, c_char_p, c_char_p,
                                                      c_size_t]),
        "idnode_client_set_auth": (c_int, [P, c_int]),
        "idnode_client_error": (c_char_p, [P]),
        "idnode_client_rcode": (c_uint32, [P]),
        "idnode_client_end_session": (c_int, [P]),
        "idnode_resolve": (c_int, [P, c_char_p, POINTER(c_char_p), c_size_t,
                                   POINTER(c_uint32), c_size_t, POINTER(P)]),
        "idnode_record_handle": (c_char_p, [P]),
        "idnode_record_count": (c_size_t, [P]),
        "idnode_record_value": (POINTER(_Value), [P, c_size_t]),
        "idnode_record_free": (None, [P]),
        "idnode_values_new": (c_int, [POINTER(P)]),
        "idnode_values_free": (None, [P]),
        "idnode_values_add": (c_int, [P, POINTER(_Value)]),
        "idnode_values_add_text": (c_int, [P, c_char_p, c_char_p, c_size_t]),
        "idnode_create": (c_int, [P, c_char_p, P, c_uint, POINTER(c_void_p)]),
        "idnode_add_values": (c_int, [P, c_char_p, P]),
        "idnode_modify_values": (c_int, [P, c_char_p, P]),
        "idnode_remove_values": (c_int, [P, c_char_p, POINTER(c_uint32), c_size_t]),
        "idnode_delete": (c_int, [P, c_char_p]),
        "idnode_list": (c_int, [P, c_char_p, _NAME_CB, P]),
        "idnode_home": (c_int, [P, c_char_p]),
        "idnode_unhome": (c_int, [P, c_char_p]),
        "idnode_batch_file": (c_int, [P, c_char_p, _RESULT_CB, P, POINTER(c_uint),
                                      POINTER(c_uint)]),
        "idnode_free": (None, [P]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    if path is None or _lib is None:
        _lib = lib
    return lib


def _b(s):
    return s if isinstance(s, bytes) else s.encode()


class IdnodeError(Exception):
    """A failed call: code (IDNODE_E*), rcode (the server's response code, 0 if
    no answer) and message (what the library said)."""

    def __init__(self, code, message, rcode=0):
        super().__init__("%s: %s" % (load().idnode_strerror(code).decode(), message))
        self.code, self.message, self.rcode = code, message, rcode


class Value:
    """One value of a record: index, type (str), data (bytes), ttl, perms,
    timestamp, refs [(handle, index)]; text is data decoded when it is text."""

    def __init__(self, v):
        self.index = v.index
        self.type = ctypes.string_at(v.type, v.type_len).decode("utf-8", "replace")
        self.data = ctypes.string_at(v.data, v.len) if v.len else b""
        self.ttl, self.ttl_absolute = v.ttl, bool(v.ttl_absolute)
        self.perms, self.timestamp = v.perms, v.timestamp
        self.refs = [(v.refs[i].handle.decode(), v.refs[i].index) for i in range(v.nrefs)]

    @property
    def text(self):
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def __repr__(self):
        return "Value(%d, %r, %r)" % (self.index, self.type, self.text or self.data)


class Record:
    """A resolved identifier: handle and values (copied out of the library)."""

    def __init__(self, handle, values):
        self.handle, self.values = handle, values

    def find(self, type_):
        return next((v for v in self.values if v.type.upper() == type_.upper()), None)

    def __repr__(self):
        return "Record(%r, %r)" % (self.handle, self.values)


class Client:
    """An idnode_client: server (or root), transport ("udp"/"tcp"), timeout in
    ms, auth ("session", "encrypted", "plain", "idis", "idis-ids")."""

    def __init__(self, server=None, root=None, transport="udp", timeout_ms=None,
                 auth="session"):
        self._lib = load()
        self._c = c_void_p()
        self._check(self._lib.idnode_client_new(byref(self._c)), client=False)
        if server:
            self._check(self._lib.idnode_client_set_server(self._c, _b(server)))
        if root:
            self._check(self._lib.idnode_client_set_root(self._c, _b(root)))
        self._check(self._lib.idnode_client_set_transport(self._c, _TRANSPORT[transport]))
        if timeout_ms:
            self._check(self._lib.idnode_client_set_timeout(self._c, timeout_ms))
        self._check(self._lib.idnode_client_set_auth(self._c, _AUTH[auth]))

    def _check(self, ret, client=True):
        if ret:
            msg = self._lib.idnode_client_error(self._c).decode() if client else ""
            rcode = self._lib.idnode_client_rcode(self._c) if client else 0
            raise IdnodeError(ret, msg, rcode)
        return ret

    def close(self):
        if self._c:
            self._lib.idnode_client_free(self._c)
            self._c = c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def set_identity_key(self, index, handle, pem_path, passphrase=None):
        self._check(self._lib.idnode_client_set_identity_key(
            self._c, index, _b(handle), _b(pem_path), _b(passphrase) if passphrase else None))

    def set_identity_secret(self, index, handle, secret):
        secret = _b(secret)
        self._check(self._lib.idnode_client_set_identity_secret(
            self._c, index, _b(handle), secret, len(secret)))

    def end_session(self):
        self._check(self._lib.idnode_client_end_session(self._c))

    def resolve(self, handle, types=(), indexes=()):
        """The Record of handle (only these types and indexes when given)."""
        tarr = (c_char_p * max(len(types), 1))(*[_b(t) for t in types])
        iarr = (c_uint32 * max(len(indexes), 1))(*indexes)
        rec = c_void_p()
        self._check(self._lib.idnode_resolve(self._c, _b(handle), tarr, len(types), iarr,
                                             len(indexes), byref(rec)))
        try:
            n = self._lib.idnode_record_count(rec)
            values = [Value(self._lib.idnode_record_value(rec, i).contents) for i in range(n)]
            return Record(self._lib.idnode_record_handle(rec).decode(), values)
        finally:
            self._lib.idnode_record_free(rec)

    def _values(self, values):
        """An idnode_values of values: (index, type, data[, ttl[, perms]]) tuples, or
        strings as `idnode create --value` takes them ("100:HS_ADMIN:300:0.NA/88.1")."""
        vs = c_void_p()
        self._check(self._lib.idnode_values_new(byref(vs)), client=False)
        try:
            for v in values:
                if isinstance(v, str):
                    err = ctypes.create_string_buffer(512)
                    ret = self._lib.idnode_values_add_text(vs, v.encode(), err, len(err))
                    if ret:
                        raise IdnodeError(ret, err.value.decode())
                    continue
                data = _b(v[2])
                cv = _Value(index=v[0], type=ctypes.cast(c_char_p(_b(v[1])), c_void_p),
                            data=ctypes.cast(c_char_p(data), c_void_p), len=len(data),
                            ttl=v[3] if len(v) > 3 else 0, perms=v[4] if len(v) > 4 else 0)
                ret = self._lib.idnode_values_add(vs, byref(cv))
                if ret:
                    raise IdnodeError(ret, "value %r" % (v,))
            return vs
        except Exception:
            self._lib.idnode_values_free(vs)
            raise

    def create(self, handle, values, mint=False, overwrite=False):
        """Creates handle; with mint, returns the handle the server made."""
        vs = self._values(values)
        minted = c_void_p()
        try:
            self._check(self._lib.idnode_create(self._c, _b(handle), vs,
                                                (1 if mint else 0) | (2 if overwrite else 0),
                                                byref(minted)))
        finally:
            self._lib.idnode_values_free(vs)
        if not minted.value:
            return None
        name = ctypes.string_at(minted).decode()
        self._lib.idnode_free(minted)
        return name

    def _with_values(self, fn, handle, values):
        vs = self._values(values)
        try:
            self._check(fn(self._c, _b(handle), vs))
        finally:
            self._lib.idnode_values_free(vs)

    def add_values(self, handle, values):
        self._with_values(self._lib.idnode_add_values, handle, values)

    def modify_values(self, handle, values):
        self._with_values(self._lib.idnode_modify_values, handle, values)

    def remove_values(self, handle, indexes):
        arr = (c_uint32 * len(indexes))(*indexes)
        self._check(self._lib.idnode_remove_values(self._c, _b(handle), arr, len(indexes)))

    def delete(self, handle):
        self._check(self._lib.idnode_delete(self._c, _b(handle)))

    def list(self, prefix):
        """The handles under prefix."""
        names = []

        def got(_arg, h):
            names.append(h.decode())
            return 0
        cb = _NAME_CB(got)
        self._check(self._lib.idnode_list(self._c, _b(prefix), cb, None))
        return names

    def home(self, prefix):
        self._check(self._lib.idnode_home(self._c, _b(prefix)))

    def unhome(self, prefix):
        self._check(self._lib.idnode_unhome(self._c, _b(prefix)))

    def batch_file(self, path):
        """Runs a GenericBatch file: [(line, op, handle, error or None)], op None
        for a remark on the file."""
        results = []

        def got(_arg, line, op, handle, err):
            results.append((line, op.decode() if op else None,
                            handle.decode() if handle else None,
                            err.decode() if err else None))
        cb = _RESULT_CB(got)
        ok, failed = c_uint(), c_uint()
        self._check(self._lib.idnode_batch_file(self._c, _b(path), cb, None, byref(ok),
                                                 byref(failed)))
        return results
