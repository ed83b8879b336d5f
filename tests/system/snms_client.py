"""An independent client of a secondary node's management API (SNMS) and of
the Handle reverse-lookup servlet (/hrls/handles), written from the published
descriptions only -- ../shared/IDIS.md section 4 and the documents it cites
([G] teleinfo-dev/id-guide docs/dev-tools/snms/), and PYHANDLE's searcher --
never from idnode's code. Standard library only. snms_client.md says which
fact came from where.

SnmsClient: token login (both variants), identifiers (detail, create, update,
delete, batchCreate, batchUpdate, batchDelete), templates, enterprise node
registration (ent/config) and prefix listing. Every call returns an Answer
(HTTP status plus the decoded status/message/data); an answer that is not
an SNMS JSON object raises SnmsProtocolError, an answer whose outcome is
unknown (HTTP 504, connection lost after sending) raises SnmsOutcomeUnknown.
create_with_retry / batch_with_retry apply the documented retry rule.
search_handle: a reverse lookup built and parsed as PYHANDLE does."""
import base64
import collections
import datetime
import hashlib
import http.client
import json
import re
import ssl
import time
import urllib.parse

# At most this many items a batch ([G] docs/dev-tools/snms/v5/handle-operate.md;
# IDIS.md section 4).
MAX_BATCH = 2000

# SNMS status codes (IDIS.md section 4).
OK, NOT_LOGGED_IN, BUSINESS_ERROR, NO_PERMISSION, INTERNAL_ERROR = 1, -1, -2, -3, -4

Answer = collections.namedtuple("Answer", "http_status status message data raw")


class SnmsError(Exception):
    """Any failure of an SNMS call that is not an SNMS answer."""


class SnmsProtocolError(SnmsError):
    """The server answered, but not with an SNMS JSON object."""


class SnmsOutcomeUnknown(SnmsError):
    """HTTP 504 or a connection lost after the request was sent: the call
    may or may not have taken effect (IDIS.md section 4: retry)."""


def v1_password(password, day):
    """POST /identity/token/v1's password:
    sha256hex(sha256hex(password) + "yyyy-MM-dd"), lowercase hex."""
    inner = hashlib.sha256(password.encode("utf-8")).hexdigest()
    return hashlib.sha256((inner + day.strftime("%Y-%m-%d")).encode("ascii")).hexdigest()


def _query(params):
    """key=value&... of the non-None params; '/' and ':' stay literal as in
    [G]'s examples (`detail?handle=88.709.911/123`), the rest is %-encoded."""
    parts = ["%s=%s" % (urllib.parse.quote(str(k), safe=""),
                        urllib.parse.quote(str(v), safe="/:"))
             for k, v in params.items() if v is not None]
    return "?" + "&".join(parts) if parts else ""


class SnmsClient:
    """One secondary node's SNMS API at base_url (http:// or https://).
    today: a callable giving the date login_v1 hashes with (tests inject
    one); ssl_context for https."""

    def __init__(self, base_url, timeout=30.0, ssl_context=None, today=None):
        u = urllib.parse.urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("base_url must be http(s)://host[:port]: %r" % base_url)
        self.scheme, self.host = u.scheme, u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.root = u.path.rstrip("/")
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.today = today or datetime.date.today
        self.token = None

    # -- transport --------------------------------------------------------

    def _connection(self):
        if self.scheme == "https":
            ctx = self.ssl_context or ssl.create_default_context()
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def request(self, method, path, params=None, body=None):
        """One call: JSON body (if any), bearer token (if logged in).
        Returns an Answer; raises SnmsOutcomeUnknown or SnmsProtocolError."""
        target = self.root + path + _query(params or {})
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = "Bearer " + self.token
        payload = None if body is None else json.dumps(body).encode("utf-8")
        conn = self._connection()
        try:
            try:
                conn.request(method, target, body=payload, headers=headers)
            except OSError as e:  # nothing was sent: a plain failure
                raise SnmsError("%s %s: cannot send: %s" % (method, target, e)) from e
            try:
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as e:
                raise SnmsOutcomeUnknown("%s %s: no answer after sending (%s): outcome unknown"
                                         % (method, target, e)) from e
        finally:
            conn.close()
        if resp.status == 504:
            raise SnmsOutcomeUnknown("%s %s: HTTP 504: outcome unknown" % (method, target))
        return self._decode(method, target, resp.status, raw)

    @staticmethod
    def _decode(method, target, http_status, raw):
        def bad(what):
            return SnmsProtocolError("%s %s: HTTP %d: %s: %r"
                                     % (method, target, http_status, what, raw[:200]))
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise bad("answer is not JSON") from None
        if not isinstance(doc, dict):
            raise bad("answer is JSON but not an object")
        status = doc.get("status")
        if not isinstance(status, int) or isinstance(status, bool):
            raise bad("answer has no integer \"status\"")
        message = doc.get("message")
        if message is not None and not isinstance(message, str):
            raise bad("\"message\" is not a string")
        return Answer(http_status, status, message, doc.get("data"), doc)

    # -- login ------------------------------------------------------------

    def _keep_token(self, ans):
        if ans.status == OK:
            if not isinstance(ans.data, dict) or not isinstance(ans.data.get("token"), str):
                raise SnmsProtocolError("login answered status 1 without data.token: %r"
                                        % (ans.raw,))
            self.token = ans.data["token"]
        return ans

    def login(self, username, password):
        """POST /identity/token {username, password}; keeps the token."""
        return self._keep_token(self.request("POST", "/identity/token",
                                             body={"username": username, "password": password}))

    def login_v1(self, username, password, day=None):
        """POST /identity/token/v1 with the hashed, dated password; keeps the token."""
        hashed = v1_password(password, day or self.today())
        return self._keep_token(self.request("POST", "/identity/token/v1",
                                             body={"username": username, "password": hashed}))

    # -- identifiers ------------------------------------------------------

    def detail(self, handle):
        return self.request("GET", "/identityv2/data/detail", params={"handle": handle})

    def create(self, record):
        return self.request("POST", "/identityv2/data", body=record)

    def update(self, record):
        return self.request("PUT", "/identityv2/data", body=record)

    def delete(self, handle):
        return self.request("DELETE", "/identityv2/data", body={"handle": handle})

    def batch_create(self, records):
        return self.request("POST", "/identityv2/data/batchCreate", body=list(records))

    def batch_update(self, records):
        return self.request("PUT", "/identityv2/data/batchUpdate", body=list(records))

    def batch_delete(self, handles):
        return self.request("DELETE", "/identityv2/data/batchDelete", body=list(handles))

    # -- templates, enterprise prefixes -----------------------------------

    def template_get(self, prefix, version):
        return self.request("GET", "/snms/api/v5/template",
                            params={"prefix": prefix, "version": version})

    def template_create(self, template):
        return self.request("POST", "/snms/api/v5/template", body=template)

    def template_update(self, template):
        return self.request("PUT", "/snms/api/v5/template", body=template)

    def template_delete(self, prefix, version):
        return self.request("DELETE", "/snms/api/v5/template",
                            body={"prefix": prefix, "version": version})

    def ent_config(self, ent_prefix, ip, ip_type=4, tcp_port=None, udp_port=None,
                   http_port=None, hdl_type="HS_SITE"):
        """Registers an enterprise node's site: [G]'s "unhosted prefix
        configuration" body, ports as strings ("" when absent)."""
        def port(p):
            return "" if p is None else str(p)
        cfg = {"entPrefix": ent_prefix, "hdlType": hdl_type, "ipType": ip_type, "ip": ip,
               "tcpPort": port(tcp_port), "udpPort": port(udp_port), "httpPort": port(http_port)}
        return self.request("POST", "/snms/api/ent/config", body={"entPrefixConfig": cfg})

    def prefix_query(self, prefix):
        return self.request("GET", "/snms/api/prefix/query", params={"prefix": prefix})

    def prefix_page(self, ent_name=None, ent_prefix=None, start_date=None, end_date=None,
                    current_page=None, page_size=None):
        return self.request("GET", "/snms/api/prefix/page", params={
            "entName": ent_name, "entPrefix": ent_prefix, "startDate": start_date,
            "endDate": end_date, "currentPage": current_page, "pageSize": page_size})


def identifier(handle, template_version, fields, auth=""):
    """An identifier body: fields is [(index, type, value)], every value a
    string ({"format":"string"} is the only format [G] documents)."""
    return {"handle": handle, "templateVersion": template_version,
            "value": [{"index": i, "type": t, "auth": auth,
                       "data": {"format": "string", "value": v}} for i, t, v in fields]}


# -- the retry rule (IDIS.md section 4; [G] docs/dev-tools/snms/v5/handle-operate.md)

ItemOutcome = collections.namedtuple("ItemOutcome", "handle outcome attempt msg")
# outcome: "created"         this call created it (success on the attempt shown)
#          "created_earlier" "already exists" on a retry after an attempt whose
#                            outcome was unknown: that attempt created it
#          "exists"          "already exists" with no earlier unknown attempt:
#                            it existed before, this client did not create it
#          "failed"          any other per-item or whole-batch error (msg)


def already_exists(msg):
    """The server's "already exists": English, or [G]'s 已存在."""
    return isinstance(msg, str) and ("already exists" in msg.lower() or "已存在" in msg)


def _classify(ok, msg, unknown_before, attempt):
    if ok:
        return "created", attempt
    if already_exists(msg):
        return ("created_earlier" if unknown_before else "exists"), attempt
    return "failed", attempt


def _retrying(call, attempts, delay, sleep):
    """call() until it gives an answer; returns (answer, attempt, unknown_before)."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return call(), attempt, attempt > 1
        except SnmsOutcomeUnknown:
            if attempt == attempts:
                raise
            sleep(delay * attempt)
    raise AssertionError("unreachable")


def create_with_retry(client, record, attempts=3, delay=0.5, sleep=time.sleep):
    """POST /identityv2/data, retried on an unknown outcome. Returns an ItemOutcome."""
    ans, attempt, unknown = _retrying(lambda: client.create(record), attempts, delay, sleep)
    outcome, at = _classify(ans.status == OK, ans.message, unknown, attempt)
    return ItemOutcome(record["handle"], outcome, at, ans.message)


def _item_ok(item):
    if "code" in item:
        return item["code"] == OK
    return isinstance(item.get("msg"), str) and item["msg"].lower() == "success"


def batch_with_retry(client, records, attempts=3, delay=0.5, sleep=time.sleep):
    """batchCreate, the whole batch resent after an unknown outcome (HTTP
    504, lost answer); per item whether this client's call created it, a
    previous (lost) call did, it existed before, or it failed. The answer's
    data must name the items in the order sent."""
    records = list(records)
    ans, attempt, unknown = _retrying(lambda: client.batch_create(records), attempts, delay, sleep)
    if ans.status != OK:
        return [ItemOutcome(r["handle"], "failed", attempt, ans.message) for r in records]
    items = ans.data
    if not isinstance(items, list) or len(items) != len(records):
        raise SnmsProtocolError("batchCreate answered %d items for %d sent: %r"
                                % (len(items) if isinstance(items, list) else -1, len(records),
                                   ans.raw))
    out = []
    for rec, item in zip(records, items):
        if not isinstance(item, dict) or item.get("handle") != rec["handle"]:
            raise SnmsProtocolError("batchCreate item %r does not answer %r"
                                    % (item, rec["handle"]))
        outcome, at = _classify(_item_ok(item), item.get("msg"), unknown, attempt)
        out.append(ItemOutcome(rec["handle"], outcome, at, item.get("msg")))
    return out


# -- PYHANDLE-style reverse lookup ---------------------------------------------
#
# Facts, all from EUDAT-B2HANDLE/PYHANDLE (the repository EUDAT-B2SAFE/PYHANDLE
# moved to), read with the search tool:
# - pyhandle/client/resthandleclient.py, search_handle(URL=None, prefix=None,
#   **key_value_pairs): passes URL=URL, prefix=prefix, **key_value_pairs on to
#   the Searcher (so URL is the first search key).
# - pyhandle/searcher.py:
#   * endpoint = reverselookup_baseuri (default: handle_server_url).rstrip('/')
#     + '/' + reverselookup_url_extension.strip('/'), the extension defaulting
#     to '/hrls/handles/'  ->  <base>/hrls/handles
#   * search access only with a username and password; header
#     'Authorization: Basic ' + create_authentication_string(user, pw), which
#     (pyhandle/utilhandle.py) is base64(quote(user) + ':' + quote(pw)),
#     quote with its default safe '/'.
#   * 'prefix' and 'searchterms' are taken out of the key-value pairs; pairs
#     whose value is None are dropped; none left -> 'No search terms have been
#     specified. Please specify at least one key-value-pair.'; searchterms ->
#     'Full-text search is not implemented yet.'
#   * allowed_search_keys default ['URL', 'CHECKSUM'] (case-sensitive); an
#     empty list allows any key; another key -> 'Cannot search for key ...'.
#   * the query is '?' + '&'.join(key + '=' + value), values NOT %-encoded
#     (wildcards such as '*' go as they are), sent with requests'
#     Session.get(url, headers=..., verify=...); requests then re-quotes the
#     URL (requote_uri: characters outside !#$%&'()*+,/:;=?@[]~ and the
#     unreserved set are %-encoded, existing %XX kept).
#   * the answer: a body matching 'RemoteSolrException: Error from server at
#     .+: undefined field .+' -> error; 200 -> json.loads(body), not JSON ->
#     'The response is not JSON.'; 401 -> 'Authentication failed.'; 404 ->
#     'Wrong search servlet URL' (plus 'It seems you reached a Handle Server'
#     when the body says 'The handle you requested...cannot be found'); other
#     statuses -> error.
#   * prefix: NOT sent to the server; the handles list is filtered on the
#     client, keeping h where h.split('/')[0] == prefix.
# - Expected query strings: pyhandle/tests/testcases/handleclient_search_unit_test.py
#   ('?URL=foo', '?CHECKSUM=foo', None values dropped).
# Deviations, chosen for a test client: no credentials raises (PYHANDLE logs
# and returns None without sending); an answer that is JSON but not a list of
# strings raises (PYHANDLE returns it as is, its callers expect handles).
# The servlet itself (SURF's EPIC documentation, "Handle reverse lookup") also
# takes limit (default 1000), page, /hrls/handles/<prefix> and
# retrieverecords=true; PYHANDLE sends none of them.

PYHANDLE_ALLOWED_KEYS = ("URL", "CHECKSUM")
_REQUOTE_SAFE = "!#$%&'()*+,/:;=?@[]~"


class ReverseLookupError(Exception):
    """What PYHANDLE raises as ReverseLookupException."""


def _requote(url):
    """requests' requote_uri: keep valid %XX escapes, quote the rest."""
    if re.search(r"%(?![0-9A-Fa-f]{2})", url):
        return urllib.parse.quote(url, safe=_REQUOTE_SAFE.replace("%", ""))
    return urllib.parse.quote(url, safe=_REQUOTE_SAFE)


def hrls_url(base_url, url_extension="/hrls/handles/", allowed_search_keys=PYHANDLE_ALLOWED_KEYS,
             **keyvalues):
    """The URL PYHANDLE's Searcher requests for these key-value pairs
    (prefix and searchterms already taken out)."""
    if keyvalues.pop("searchterms", None):
        raise ReverseLookupError("Full-text search is not implemented yet.")
    pairs = [(k, v) for k, v in keyvalues.items() if v is not None]
    if not pairs:
        raise ReverseLookupError("No search terms have been specified. Please specify"
                                 " at least one key-value-pair.")
    for k, _ in pairs:
        if allowed_search_keys and k not in allowed_search_keys:
            raise ReverseLookupError('Cannot search for key "%s". Only searches for keys %s'
                                     " are implemented." % (k, list(allowed_search_keys)))
    query = "&".join("%s=%s" % (k, v) for k, v in pairs)
    endpoint = base_url.rstrip("/") + "/" + url_extension.strip("/")
    return _requote(endpoint + "?" + query)


def basic_auth(username, password):
    """PYHANDLE's create_authentication_string, as a header value."""
    s = urllib.parse.quote(username) + ":" + urllib.parse.quote(password)
    return "Basic " + base64.b64encode(s.encode("utf-8")).decode("ascii")


def _get(url, headers, timeout, ssl_context):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout,
                                           context=ssl_context or ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        conn.request("GET", u.path + ("?" + u.query if u.query else ""), headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException) as e:
        raise ReverseLookupError("GET %s: %s" % (url, e)) from e
    finally:
        conn.close()


def _parse_hrls(url, status, body):
    text = str(body)  # as PYHANDLE: str() of the bytes
    if re.search("RemoteSolrException: Error from server at .+: undefined field .+", text):
        raise ReverseLookupError("Tried to search in undefined field: %s" % url)
    if status == 401:
        raise ReverseLookupError("Authentication failed. (%s)" % url)
    if status == 404:
        msg = "Wrong search servlet URL (%s)" % url
        if re.search("The handle you requested.+cannot be found", text, re.DOTALL):
            msg += ". It seems you reached a Handle Server"
        raise ReverseLookupError(msg)
    if status != 200:
        raise ReverseLookupError("GET %s: HTTP %d: %r" % (url, status, body[:200]))
    try:
        handles = json.loads(body)
    except ValueError:
        raise ReverseLookupError("The response is not JSON. (%s: %r)"
                                 % (url, body[:200])) from None
    if not isinstance(handles, list) or not all(isinstance(h, str) for h in handles):
        raise ReverseLookupError("GET %s: not a JSON list of handles: %r" % (url, body[:200]))
    return handles


def search_handle(base_url, prefix=None, URL=None, *, auth,
                  allowed_search_keys=PYHANDLE_ALLOWED_KEYS, url_extension="/hrls/handles/",
                  timeout=30.0, ssl_context=None, **fieldvalues):
    """PYHANDLE's RESTHandleClient.search_handle against base_url: the
    handles whose fields match (values may hold '*' wildcards), restricted
    to prefix on the client. auth: (username, password) for Basic auth."""
    if not auth or auth[0] is None or auth[1] is None:
        raise ReverseLookupError("Reverse lookup needs a username and password")
    url = hrls_url(base_url, url_extension, allowed_search_keys, URL=URL, **fieldvalues)
    headers = {"Authorization": basic_auth(auth[0], auth[1]), "Accept": "*/*"}
    status, body = _get(url, headers, timeout, ssl_context)
    handles = _parse_hrls(url, status, body)
    if prefix is not None:
        handles = [h for h in handles if h.split("/")[0] == prefix]
    return handles
