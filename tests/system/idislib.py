"""A small client of the national system's dialect, written from
../shared/IDIS.md and ../shared/PROTOCOL.md only (not from idnode's code, and
not from idnlib's message helpers): its own envelope, header and body
encoders, the 2001 login as the SDKs run it, and the challenge answers
signed through the `openssl` command line (RSA: SHA256withRSA over
nonce || digest; SM2: M = SM3(nonce || digest) signed with SM3 and the
identity handle as the SM2 user ID, DER signature)."""
import os
import socket
import struct
import subprocess
import tempfile

# PROTOCOL.md: opcodes, flags, codes
OP_RESOLUTION, OP_SITE_INFO = 1, 2
OP_CREATE, OP_DELETE, OP_ADD, OP_REMOVE, OP_MODIFY = 100, 101, 102, 103, 104
OP_CHALLENGE_RESPONSE, OP_SESSION_SETUP = 200, 400
OP_LOGIN, OP_PASSWORD_LOGIN = 2001, 2000  # IDIS.md section 1
F_RD = 0x00800000
F_PO = 0x01000000  # public only (PROTOCOL.md)
F_TRUSTED, F_RECU_AUTH = 0x2, 0x4  # IDIS.md sections 1 and 3
ENV_ENCRYPTED = 0x40
HASH_SHA256 = 3


def bstr(b):
    """A Handle str / bytes field: int4 length, then the bytes."""
    b = b.encode() if isinstance(b, str) else b
    return struct.pack(">I", len(b)) + b


def message(op, body, session=0, request=1, flags=0, minor=10, env_flags=0):
    """Envelope (20) + header (24) + body + an empty credential (int4 0)."""
    msg = struct.pack(">IIIHBBII", op, 0, flags, 0xFFFF, 0, 0, 0, len(body)) + body
    msg += struct.pack(">I", 0)
    env = struct.pack(">BBBBIIII", 2, minor, env_flags, 0, session, request, 0, len(msg))
    return env + msg


class Answer:
    """An answer, decoded: envelope fields, header fields, the body after any digest."""

    def __init__(self, raw):
        self.raw = raw
        (_, self.minor, self.env_flags, _, self.session, self.request, _,
         mlen) = struct.unpack(">BBBBIIII", raw[:20])
        (self.op, self.rc, self.flags, _, _, _, _, blen) = struct.unpack(">IIIHBBII", raw[20:44])
        self.header = raw[20:44]
        body = raw[44:44 + blen]
        self.digest = b""
        if self.flags & F_RD and self.rc:
            alg = body[0]
            n = {1: 16, 2: 20, 3: 32}[alg]
            self.digest, body = body[1:1 + n], body[1 + n:]
        self.body = body

    def message_text(self):
        """An error answer's message."""
        if len(self.body) < 4:
            return ""
        n = struct.unpack(">I", self.body[:4])[0]
        return self.body[4:4 + n].decode(errors="replace")


class Conn:
    """One TCP connection to a node; requests go one at a time."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.request_id = 0

    def send(self, raw):
        self.sock.sendall(raw)

    def recv_raw(self):
        env = self._exact(20)
        (mlen,) = struct.unpack(">I", env[16:20])
        return env + self._exact(mlen)

    def _exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed by the node")
            out += chunk
        return out

    def next_id(self):
        self.request_id += 1
        return self.request_id

    def ask(self, op, body, session=0, flags=0):
        """Sends one request, returns (the request's bytes, its Answer)."""
        raw = message(op, body, session, self.next_id(), flags)
        self.send(raw)
        return raw, Answer(self.recv_raw())

    def close(self):
        self.sock.close()


# ---- bodies ----

def login_body(handle, index, ids=False):
    """2001: [u32 len][handle][u32 index]; ID-SDK appends [u32 0]."""
    return bstr(handle) + struct.pack(">I", index) + (struct.pack(">I", 0) if ids else b"")


def resolution_body(handle, indexes=(), types=(), auth=None):
    """str handle, int4[] indexes, str[] types; id-pointer-sdk's [u32 len][auth] after."""
    out = bstr(handle) + struct.pack(">I", len(indexes))
    out += b"".join(struct.pack(">I", i) for i in indexes)
    out += struct.pack(">I", len(types)) + b"".join(bstr(t) for t in types)
    if auth is not None:
        out += bstr(auth)
    return out


def value(index, typ, data, perms=0x0e):
    """A Handle value: index, timestamp, TTL type, TTL, perms, type, data, no references."""
    data = data.encode() if isinstance(data, str) else data
    return (struct.pack(">IIBIB", index, 0, 0, 86400, perms) + bstr(typ) + bstr(data) +
            struct.pack(">I", 0))


def values_body(handle, values):
    return bstr(handle) + struct.pack(">I", len(values)) + b"".join(values)


def admin_data(rights, index, handle):
    """HS_ADMIN: int2 rights, str admin handle, int4 admin index."""
    return struct.pack(">H", rights) + bstr(handle) + struct.pack(">I", index)


def decode_values(body):
    """A resolution answer's body: str handle, int4 n, value x n -> {index: (type, data)}."""
    n = struct.unpack(">I", body[:4])[0]
    pos = 4 + n
    count = struct.unpack(">I", body[pos:pos + 4])[0]
    pos += 4
    out = {}
    for _ in range(count):
        index = struct.unpack(">I", body[pos:pos + 4])[0]
        pos += 4 + 4 + 1 + 4 + 1
        tl = struct.unpack(">I", body[pos:pos + 4])[0]
        typ = body[pos + 4:pos + 4 + tl].decode()
        pos += 4 + tl
        dl = struct.unpack(">I", body[pos:pos + 4])[0]
        data = body[pos + 4:pos + 4 + dl]
        pos += 4 + dl
        refs = struct.unpack(">I", body[pos:pos + 4])[0]
        pos += 4
        for _ in range(refs):
            rl = struct.unpack(">I", body[pos:pos + 4])[0]
            pos += 4 + rl + 4
        out[index] = (typ, data)
    return out


# ---- keys and signatures, through the openssl command line ----

def openssl(*args, data=None):
    out = subprocess.run(["openssl"] + list(args), input=data, capture_output=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), out.stderr.decode()))
    return out.stdout


def genkey(path, kind):
    """An RSA-2048 or SM2 private key (PEM) at path; returns its public key, PEM text."""
    if kind == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    else:
        openssl("genpkey", "-algorithm", "SM2", "-out", path)
    return openssl("pkey", "-in", path, "-pubout").decode()


def hs_pubkey_pem(pem):
    """HS_PUBKEY data as the SDKs' docs store it: the PEM text, CRLF lines (IDIS.md 2a)."""
    return pem.strip().replace("\r\n", "\n").replace("\n", "\r\n").encode() + b"\r\n"


def hs_pubkey_sm2_wrapped(pem):
    """HS_PUBKEY data in the Handle-style wrapper: [len]"SM2_PUB_KEY"[u16 0][len]<PEM> (2b)."""
    return bstr("SM2_PUB_KEY") + struct.pack(">H", 0) + bstr(pem.encode())


def sign_challenge(key_path, kind, handle, nonce, digest):
    """The signed response of op 200: str hash name, bytes signature (IDIS.md section 2)."""
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(nonce + digest)
        path = f.name
    try:
        if kind == "rsa":
            sig = openssl("dgst", "-sha256", "-sign", key_path, "-binary", path)
            return bstr("SHA256") + bstr(sig)
        m = openssl("dgst", "-sm3", "-binary", path)  # M = SM3(nonce || digest)
        with open(path, "wb") as f:
            f.write(m)
        sig = openssl("pkeyutl", "-sign", "-inkey", key_path, "-rawin", "-digest", "sm3",
                      "-pkeyopt", "distid:" + handle, "-in", path)
        return bstr("SM3") + bstr(sig)
    finally:
        os.unlink(path)


def challenge_response_body(handle, index, signed):
    return bstr("HS_PUBKEY") + bstr(handle) + struct.pack(">I", index) + bstr(signed)


def challenge_of(ans):
    """The nonce of a 402 (its digest is ans.digest)."""
    n = struct.unpack(">I", ans.body[:4])[0]
    return ans.body[4:4 + n]


# ---- SM4 transport encryption (IDIS.md section 2) ----

KX_CIPHER_HDL, ALG_SM4 = 3, 4


def session_setup_body(handle, index):
    """Op 400: int2 mode 3, int4 timeout, str identity, int4 index, str key handle, int4 index."""
    return (struct.pack(">HI", KX_CIPHER_HDL, 0) + bstr(handle) + struct.pack(">I", index) +
            bstr(handle) + struct.pack(">I", index))


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + _der_len(len(b)) + b


def sm2_c1c3c2_to_der(raw):
    """04 || x || y || C3 || C2 -> SEQUENCE {x, y, C3, C2}, the form openssl decrypts."""
    if len(raw) < 97 or raw[0] != 4:
        raise ValueError("not an SM2 C1C3C2 ciphertext")
    x, y, c3, c2 = raw[1:33], raw[33:65], raw[65:97], raw[97:]
    inner = (_der_int(x) + _der_int(y) + b"\x04" + _der_len(32) + c3 + b"\x04" +
             _der_len(len(c2)) + c2)
    return b"\x30" + _der_len(len(inner)) + inner


def decrypt_session_key(key_path, kind, data):
    """The setup answer's data, decrypted with the private key: (algorithm, key)."""
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(sm2_c1c3c2_to_der(data) if kind == "sm2" else data)
        path = f.name
    try:
        if kind == "sm2":
            plain = openssl("pkeyutl", "-decrypt", "-inkey", key_path, "-in", path)
        else:
            plain = openssl("pkeyutl", "-decrypt", "-inkey", key_path, "-pkeyopt",
                            "rsa_padding_mode:pkcs1", "-in", path)
    finally:
        os.unlink(path)
    return struct.unpack(">I", plain[:4])[0], plain[4:]


def sm4(key, data, decrypt=False):
    """SM4-CBC with PKCS#5 padding and IV = the key (openssl enc)."""
    args = ["enc", "-sm4-cbc", "-K", key.hex(), "-iv", key.hex()]
    return openssl(*(args + (["-d"] if decrypt else [])), data=data)


class Sm4Conn(Conn):
    """A connection whose requests, once keyed, go SM4-encrypted, answers decrypted."""

    key = None

    def ask(self, op, body, session=0, flags=0):
        raw = message(op, body, session, self.next_id(), flags)
        if self.key:
            ct = sm4(self.key, raw[20:])
            raw = raw[:2] + bytes([raw[2] | ENV_ENCRYPTED]) + raw[3:16] + \
                struct.pack(">I", len(ct)) + ct
        self.send(raw)
        return raw, self.read_answer()

    def read_answer(self):
        raw = self.recv_raw()
        self.last_encrypted = bool(raw[2] & ENV_ENCRYPTED)
        if self.last_encrypted:
            plain = sm4(self.key, raw[20:], decrypt=True)
            raw = raw[:2] + bytes([raw[2] & ~ENV_ENCRYPTED]) + raw[3:16] + \
                struct.pack(">I", len(plain)) + plain
        return Answer(raw)

    def setup(self, handle, index, key_path, kind, session):
        """Op 400 mode 3; keys the connection; returns the answer."""
        _, a = self.ask(OP_SESSION_SETUP, session_setup_body(handle, index), session)
        if a.rc == 1:
            mode = struct.unpack(">H", a.body[:2])[0]
            n = struct.unpack(">I", a.body[2:6])[0]
            alg, key = decrypt_session_key(key_path, kind, a.body[6:6 + n])
            if (mode, alg, len(key)) != (KX_CIPHER_HDL, ALG_SM4, 16):
                raise AssertionError("setup answer: mode %d, algorithm %d" % (mode, alg))
            self.key = key
        return a


class Login:
    """The SDKs' login on one connection (IDIS.md section 1, steps 1-5); ids: as
    ID-SDK (the trailing credential length, op 200 in the client's session id).

    After run(): self.final is the answer to op 200; self.challenge the 402;
    self.signed the signed response sent (to replay in tests)."""

    def __init__(self, conn, handle, index, key_path, kind, session, ids=False):
        self.conn, self.handle, self.index = conn, handle, index
        self.key_path, self.kind, self.session, self.ids = key_path, kind, session, ids

    def start(self):
        """Steps 1-3: GET_SITE_INFO on "/", then 2001 with RD; returns the 402 (or what came)."""
        _, site = self.conn.ask(OP_SITE_INFO, bstr("/"), self.session)
        if site.rc != 1:
            raise AssertionError("GET_SITE_INFO answered %d" % site.rc)
        self.request, self.challenge = self.conn.ask(
            OP_LOGIN, login_body(self.handle, self.index, self.ids), self.session, F_RD)
        return self.challenge

    def answer(self, key_path=None, nonce=None, digest=None, signed=None):
        """Step 4: op 200 in the challenge's session; returns the answer (step 5: rc 1)."""
        c = self.challenge
        if signed is None:
            signed = sign_challenge(key_path or self.key_path, self.kind, self.handle,
                                    challenge_of(c) if nonce is None else nonce,
                                    c.digest if digest is None else digest)
        self.signed = signed
        # ID-SDK sends every request of its connection in its own session id,
        # op 200 included; id-pointer-sdk answers in the challenge's.
        _, self.final = self.conn.ask(OP_CHALLENGE_RESPONSE,
                                      challenge_response_body(self.handle, self.index, signed),
                                      self.session if self.ids else c.session, F_RD)
        return self.final

    def run(self):
        c = self.start()
        if c.rc != 402:
            return c
        return self.answer()
