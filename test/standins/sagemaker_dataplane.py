#!/usr/bin/env python3
"""TEST STAND-IN for the Amazon SageMaker managed MLflow data plane. Not AWS, not for production.

The real endpoints (https://REGION.experiments.sagemaker.aws, https://mlflow.sagemaker.REGION.app.aws)
cannot be reached from the test environment, so this small server plays their front end: it checks
every request the way the AWS front end does (SigV4 with the signing name and routing header that
belong to the configured ARN kind, payload hash, clock skew, session token, expiry) and only then
relays the request to a real MLflow server (`--upstream`), with the AWS-only headers removed. Requests
that fail a check are answered 403 (400 for a missing or garbled Authorization) with an AWS-style JSON
body `{"message": ...}` and an `x-amzn-ErrorType` header, and are not forwarded.

The signature is recomputed with botocore (`SigV4Auth`, `AWSRequest`, `Credentials`), so the
TypeScript signer under test is checked against an independent implementation.

Standard library + botocore only. Usage:

    python sagemaker_dataplane.py --arn ARN --upstream http://127.0.0.1:PORT --log FILE \
        [--port 0] [--max-skew-seconds 300] [--debug]

After it listens it prints exactly one line `READY <port>` on stdout. One JSON line per request is
appended to FILE: ts, method, path, query, verdict (forwarded|rejected), reason, akid, service, region,
routing_header, signed_headers, status (+ request_id, and client_request_id: the X-Request-Id the
caller sent, so a test can tell which of its requests got this far). Secrets and signatures are
never logged.
SIGTERM / SIGINT stop it cleanly.

Stand-in credentials (a convention shared with the TypeScript tests; keep it exactly):
  * secret access key = first 40 hex chars of sha256("standin-secret:" + AKID)
  * static keys:    AKID = "AKIA" + uppercase alnum, no session token, no expiry
  * temporary keys: AKID = "ASIA" + 10-digit unix expiry epoch + 6 uppercase alnum chars,
                    session token = "standin-token:" + AKID, sent as X-Amz-Security-Token and signed;
                    refused with ExpiredTokenException once the epoch is past.

Query canonicalisation is done the way the server side does it: split on '&', split each pair on the
first '=', percent-decode key and value with '+' meaning a space, re-encode keeping only RFC 3986
unreserved characters, sort by key then value. A client that signs '+' literally therefore fails,
one that signs it as %20 (what the sagemaker-mlflow plugin does) passes. The raw query, '+' and all,
is what gets forwarded.
"""

import argparse
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import re
import signal
import sys
import threading
import time
import uuid
from urllib.parse import quote, unquote_to_bytes, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

TRACKING_SERVER_HEADER = "x-mlflow-sm-tracking-server-arn"
APP_HEADER = "x-sm-mlflow-app-arn"
ROUTING_HEADERS = (TRACKING_SERVER_HEADER, APP_HEADER)

ARN_RE = re.compile(
    r"^arn:(aws|aws-us-gov):sagemaker:([a-z0-9-]+):(\d{12}):"
    r"(mlflow-tracking-server|mlflow-app)/([A-Za-z0-9][A-Za-z0-9._-]*)$"
)
AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+(.+)$", re.S)
STATIC_AKID_RE = re.compile(r"^AKIA[A-Z0-9]{4,124}$")
TEMP_AKID_RE = re.compile(r"^ASIA(\d{10})[A-Z0-9]{6}$")
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

# Error type -> HTTP status. Missing / garbled signature data is a client syntax error (400),
# everything else is an authentication or authorisation failure (403).
ERROR_STATUS = {
    "MissingAuthenticationTokenException": 400,
    "IncompleteSignatureException": 400,
    "InvalidSignatureException": 403,
    "UnrecognizedClientException": 403,
    "ExpiredTokenException": 403,
    "AccessDeniedException": 403,
}

# Hop-by-hop headers (RFC 9110 section 7.6.1) travel neither way.
HOP_BY_HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
}
# Never forwarded upstream (besides any x-amz-* header): auth data, the routing headers and
# hop-by-hop headers. Content-Length is recomputed for the bytes actually sent.
DROP_REQUEST_HEADERS = HOP_BY_HOP_HEADERS | {"authorization", "host", "expect", "content-length", *ROUTING_HEADERS}
DROP_RESPONSE_HEADERS = HOP_BY_HOP_HEADERS


class Rejected(Exception):
    def __init__(self, error_type, message, debug=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.debug = debug


class BadRequestFraming(Exception):
    """The request body could not be read (bad Content-Length or chunked encoding)."""


def standin_secret(akid):
    return hashlib.sha256(("standin-secret:" + akid).encode("utf-8")).hexdigest()[:40]


def standin_token(akid):
    return "standin-token:" + akid


def parse_arn(arn):
    m = ARN_RE.match(arn)
    if not m:
        raise ValueError("not a SageMaker MLflow tracking server or app ARN: %r" % arn)
    partition, region, account, kind, name = m.groups()
    if kind == "mlflow-tracking-server":
        return {"region": region, "kind": kind, "header": TRACKING_SERVER_HEADER,
                "service": "sagemaker-mlflow", "partition": partition}
    if not name.startswith("app-"):
        raise ValueError("MLflow App ARNs end in mlflow-app/app-XXXX: %r" % arn)
    return {"region": region, "kind": kind, "header": APP_HEADER,
            "service": "sagemaker", "partition": partition}


def canonical_query(raw_query):
    """Server-side canonical query string: '+' is a space, RFC 3986 unreserved kept."""
    if not raw_query:
        return ""
    pairs = []
    for part in raw_query.encode("latin-1").split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        key = quote(unquote_to_bytes(key.replace(b"+", b" ")), safe="-_.~")
        value = quote(unquote_to_bytes(value.replace(b"+", b" ")), safe="-_.~")
        pairs.append((key, value))
    pairs.sort()
    return "&".join("%s=%s" % kv for kv in pairs)


class ReceivedHeadersSigV4Auth(SigV4Auth):
    """botocore's SigV4Auth, canonicalising exactly the headers it is given.

    botocore's own headers_to_sign() is the client-side choice of what to sign (it skips
    user-agent, expect, x-amzn-trace-id, hop-by-hop headers ...). A verifier must instead
    canonicalise what the request's SignedHeaders lists, which is all the AWSRequest holds here.
    """

    def headers_to_sign(self, request):
        header_map = HTTPHeaders()
        for name, value in request.headers.items():
            header_map[name.lower()] = value
        return header_map


class Config:
    def __init__(self, args):
        self.arn = args.arn
        self.arn_info = parse_arn(args.arn)
        up = urlsplit(args.upstream)
        if up.scheme != "http" or not up.hostname:
            raise ValueError("--upstream must be http://HOST:PORT[/prefix]")
        self.upstream_host = up.hostname
        self.upstream_port = up.port or 80
        self.upstream_hostport = up.netloc
        self.upstream_prefix = up.path.rstrip("/")
        self.max_skew = args.max_skew_seconds
        self.debug = args.debug
        self.upstream_timeout = args.upstream_timeout
        self.log_lock = threading.Lock()
        self.log_file = open(args.log, "a", encoding="utf-8")

    def log(self, record):
        line = json.dumps(record, ensure_ascii=False, sort_keys=True)
        with self.log_lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()


def parse_authorization(value):
    m = AUTH_RE.match(value.strip())
    if not m:
        if value.strip().split(" ", 1)[0].upper().startswith("AWS4-"):
            raise Rejected("IncompleteSignatureException", "Unsupported signing algorithm.")
        raise Rejected(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            "parameters of an AWS4-HMAC-SHA256 signature.",
        )
    fields = {}
    for component in m.group(1).split(","):
        component = component.strip()
        if not component:
            continue
        key, sep, val = component.partition("=")
        if not sep or key in fields:
            raise Rejected("IncompleteSignatureException",
                           "Authorization header component is malformed: %r" % key)
        fields[key] = val
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing or set(fields) - {"Credential", "SignedHeaders", "Signature"}:
        raise Rejected(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            "parameters (missing: %s)." % ", ".join(missing or ["-"]),
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise Rejected("IncompleteSignatureException",
                       "Credential must have the form AKID/YYYYMMDD/REGION/SERVICE/aws4_request.")
    if not re.match(r"^[0-9a-f]{64}$", fields["Signature"]):
        raise Rejected("IncompleteSignatureException", "Signature must be 64 lowercase hex digits.")
    signed = fields["SignedHeaders"].split(";")
    if any(not h or h != h.lower() or h != h.strip() for h in signed):
        raise Rejected("IncompleteSignatureException",
                       "SignedHeaders must be lowercase header names separated by ';'.")
    return {
        "akid": scope[0],
        "date": scope[1],
        "region": scope[2],
        "service": scope[3],
        "signed_headers": signed,
        "signature": fields["Signature"],
    }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SageMakerMlflowStandIn/1.0"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are closed after this many seconds

    config = None  # type: Config

    def __getattr__(self, name):
        # Every method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, anything) is handled alike.
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)

    def log_message(self, format, *args):  # noqa: A002 - quiet; the JSON log is the record
        pass

    # ---- request body ---------------------------------------------------------------------
    def read_body(self):
        te = ",".join(self.headers.get_all("Transfer-Encoding") or []).lower()
        if te:
            codings = [c.strip() for c in te.split(",") if c.strip()]
            if codings[-1:] != ["chunked"]:
                raise BadRequestFraming("unsupported Transfer-Encoding: %s" % te)
            return self.read_chunked()
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        if len(set(v.strip() for v in lengths)) != 1 or not lengths[0].strip().isdigit():
            raise BadRequestFraming("invalid Content-Length")
        length = int(lengths[0].strip())
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            raise BadRequestFraming("body shorter than Content-Length")
        return data

    def read_chunked(self):
        chunks = []
        while True:
            line = self.rfile.readline(65537)
            if not line.endswith(b"\n"):
                raise BadRequestFraming("truncated chunk size line")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadRequestFraming("bad chunk size %r" % size_text[:20]) from None
            if size == 0:
                while True:  # trailer section, ends with an empty line
                    trailer = self.rfile.readline(65537)
                    if trailer in (b"\r\n", b"\n", b""):
                        break
                break
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BadRequestFraming("truncated chunk")
            chunks.append(data)
        return b"".join(chunks)

    # ---- verification ---------------------------------------------------------------------
    def single_header(self, name, error_type, what):
        values = self.headers.get_all(name) or []
        if len(values) > 1:
            raise Rejected(error_type, "%s must appear once." % what)
        return values[0] if values else None

    def verify(self, raw_path, raw_query, body, record):
        cfg = self.config
        info = cfg.arn_info
        present = [h for h in ROUTING_HEADERS if self.headers.get_all(h)]
        record["routing_header"] = ",".join(present) or None
        authorizations = self.headers.get_all("Authorization") or []
        if not authorizations:
            raise Rejected("MissingAuthenticationTokenException", "Missing Authentication Token")
        if len(authorizations) > 1:
            raise Rejected("IncompleteSignatureException", "Multiple Authorization headers.")
        auth = parse_authorization(authorizations[0])
        record.update(akid=auth["akid"], service=auth["service"], region=auth["region"],
                      signed_headers=";".join(auth["signed_headers"]))
        signed = set(auth["signed_headers"])

        amz_date = self.single_header("X-Amz-Date", "IncompleteSignatureException", "X-Amz-Date")
        if amz_date is None:
            raise Rejected("IncompleteSignatureException",
                           "Authorization header requires existence of a 'X-Amz-Date' header.")
        try:
            request_time = datetime.datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            raise Rejected("IncompleteSignatureException",
                           "X-Amz-Date must have the form YYYYMMDDTHHMMSSZ.") from None
        if "x-amz-date" not in signed:
            raise Rejected("IncompleteSignatureException", "'X-Amz-Date' must be a SignedHeader.")
        if "host" not in signed:
            raise Rejected("IncompleteSignatureException",
                           "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        if auth["date"] != amz_date[:8]:
            raise Rejected("InvalidSignatureException",
                           "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                           "of date from HTTP: '%s' != '%s'" % (auth["date"], amz_date[:8]))
        if auth["region"] != info["region"]:
            raise Rejected("InvalidSignatureException",
                           "Credential should be scoped to a valid region, not '%s'. "
                           "Expected '%s'." % (auth["region"], info["region"]))
        if auth["service"] != info["service"]:
            raise Rejected("InvalidSignatureException",
                           "Credential should be scoped to correct service: '%s'." % info["service"])
        now = time.time()
        skew = request_time.timestamp() - now
        if abs(skew) > cfg.max_skew:
            server_time = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
            raise Rejected("InvalidSignatureException",
                           "Signature expired: %s is now %s than %s (%s %s %d sec.)" % (
                               amz_date, "earlier" if skew < 0 else "later",
                               server_time.strftime(AMZ_DATE_FORMAT),
                               server_time.strftime(AMZ_DATE_FORMAT),
                               "-" if skew < 0 else "+", cfg.max_skew))

        # Routing: exactly the header for this ARN kind, signed, carrying exactly this ARN.
        other = APP_HEADER if info["header"] == TRACKING_SERVER_HEADER else TRACKING_SERVER_HEADER
        if other in present:
            raise Rejected("AccessDeniedException",
                           "Header %s is not valid for a %s ARN." % (other, info["kind"]))
        routing_values = self.headers.get_all(info["header"]) or []
        if not routing_values:
            raise Rejected("AccessDeniedException", "Missing header %s." % info["header"])
        if len(routing_values) > 1:
            raise Rejected("AccessDeniedException", "Header %s must appear once." % info["header"])
        if info["header"] not in signed:
            raise Rejected("AccessDeniedException", "Header %s must be signed." % info["header"])
        if routing_values[0] != cfg.arn:
            raise Rejected("AccessDeniedException",
                           "User is not authorized to access the resource in %s." % info["header"])

        # Payload hash.
        content_sha = self.single_header("X-Amz-Content-SHA256", "InvalidSignatureException",
                                         "X-Amz-Content-SHA256")
        if content_sha is None:
            raise Rejected("InvalidSignatureException", "Missing header X-Amz-Content-SHA256.")
        if "x-amz-content-sha256" not in signed:
            raise Rejected("InvalidSignatureException", "X-Amz-Content-SHA256 must be signed.")
        if content_sha == UNSIGNED_PAYLOAD:
            raise Rejected("InvalidSignatureException", "UNSIGNED-PAYLOAD is not accepted.")
        actual_sha = hashlib.sha256(body).hexdigest()
        if not hmac.compare_digest(content_sha.strip().lower(), actual_sha):
            raise Rejected("InvalidSignatureException",
                           "The provided x-amz-content-sha256 header does not match what was "
                           "computed.")

        # Credentials.
        akid = auth["akid"]
        token = self.single_header("X-Amz-Security-Token", "UnrecognizedClientException",
                                   "X-Amz-Security-Token")
        temp = TEMP_AKID_RE.match(akid)
        if temp:
            if token is None or not hmac.compare_digest(token, standin_token(akid)):
                raise Rejected("UnrecognizedClientException",
                               "The security token included in the request is invalid.")
            if "x-amz-security-token" not in signed:
                raise Rejected("InvalidSignatureException", "X-Amz-Security-Token must be signed.")
            if int(temp.group(1)) <= now:
                raise Rejected("ExpiredTokenException",
                               "The security token included in the request is expired")
        elif STATIC_AKID_RE.match(akid):
            if token is not None:
                raise Rejected("UnrecognizedClientException",
                               "The security token included in the request is invalid.")
        else:
            raise Rejected("UnrecognizedClientException",
                           "The security token included in the request is invalid.")

        # The front end strips Connection before authenticating, so a signature over it fails.
        if "connection" in signed:
            raise Rejected("InvalidSignatureException",
                           "The request signature we calculated does not match the signature you "
                           "provided ('connection' is removed before authentication).")

        # Signature, recomputed with botocore over exactly the signed headers as received.
        request = AWSRequest(method=self.command, url="http://standin.invalid", data=body)
        request.url = "http://standin.invalid" + raw_path + (
            "?" + canonical_query(raw_query) if raw_query else "")
        for name in auth["signed_headers"]:
            values = self.headers.get_all(name)
            if not values:
                raise Rejected("InvalidSignatureException",
                               "SignedHeaders lists '%s', which the request does not carry." % name)
            for value in values:
                request.headers[name] = value
        request.context["timestamp"] = amz_date
        credentials = Credentials(akid, standin_secret(akid), token)
        signer = ReceivedHeadersSigV4Auth(credentials, info["service"], info["region"])
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        if not hmac.compare_digest(expected, auth["signature"]):
            debug = None
            if cfg.debug:
                debug = "\nThe Canonical String for this request should have been\n'%s'\n\n" \
                        "The String-to-Sign should have been\n'%s'\n" % (canonical, string_to_sign)
            raise Rejected("InvalidSignatureException",
                           "The request signature we calculated does not match the signature you "
                           "provided. Check your AWS Secret Access Key and signing method. Consult "
                           "the service documentation for details.", debug)

    # ---- responses ------------------------------------------------------------------------
    def send_json(self, status, payload, extra_headers=()):
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.log_before_last_bytes()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def log_before_last_bytes(self):
        """Writes this request's log line now, before the answer's last bytes go out: a test that
        reads the log as soon as its response is complete then always finds the line (logging after
        the answer raced with such a test on a busy machine). A failure while those last bytes are
        written is not recorded in the line."""
        record, self.pending_record = getattr(self, "pending_record", None), None
        if record is not None:
            self.config.log(record)

    def forward(self, target, body):
        cfg = self.config
        conn = http.client.HTTPConnection(cfg.upstream_host, cfg.upstream_port,
                                          timeout=cfg.upstream_timeout)
        try:
            conn.putrequest(self.command, cfg.upstream_prefix + target,
                            skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", cfg.upstream_hostport)
            connection_tokens = {t.strip().lower()
                                 for v in self.headers.get_all("Connection") or []
                                 for t in v.split(",")}
            for name, value in self.headers.items():
                lname = name.lower()
                if (lname in DROP_REQUEST_HEADERS or lname.startswith("x-amz-")
                        or lname in connection_tokens):
                    continue
                conn.putheader(name, value)
            if body or self.headers.get("Content-Length") is not None or \
                    self.headers.get("Transfer-Encoding") is not None or \
                    self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            return None, "upstream unreachable: %s: %s" % (type(exc).__name__, exc)
        return (conn, response), None

    def relay(self, conn, response):
        """Copy the upstream response to the client, binary safe, streaming."""
        try:
            status = response.status
            no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
            length = response.getheader("Content-Length")
            connection_tokens = {t.strip().lower()
                                 for v in response.msg.get_all("Connection") or []
                                 for t in v.split(",")}
            use_chunked = not no_body and length is None and self.request_version != "HTTP/1.0"
            buffered = None
            if not no_body and length is None and not use_chunked:
                buffered = response.read()  # HTTP/1.0 client: no chunked, so read it all
            # Upstream's own Date / Server headers are relayed, so do not add ours.
            self.send_response_only(status, response.reason)
            for name, value in response.getheaders():
                lname = name.lower()
                if lname in DROP_RESPONSE_HEADERS or lname in connection_tokens:
                    continue
                if lname == "content-length" and buffered is not None:
                    continue
                self.send_header(name, value)
            if use_chunked:
                self.send_header("Transfer-Encoding", "chunked")
            if buffered is not None:
                self.send_header("Content-Length", str(len(buffered)))
            self.end_headers()
            if no_body:
                self.log_before_last_bytes()
            elif buffered is not None:
                self.log_before_last_bytes()
                self.wfile.write(buffered)
            elif use_chunked:
                while True:
                    chunk = response.read1(65536)
                    if not chunk:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.log_before_last_bytes()
                self.wfile.write(b"0\r\n\r\n")
            else:
                remaining = int(length)
                if remaining == 0:
                    self.log_before_last_bytes()
                while remaining > 0:
                    chunk = response.read(min(65536, remaining))
                    if not chunk:
                        raise ConnectionError("upstream closed mid-body")
                    remaining -= len(chunk)
                    if remaining <= 0:
                        self.log_before_last_bytes()
                    self.wfile.write(chunk)
            self.wfile.flush()
        except (OSError, http.client.HTTPException, ValueError):
            # Headers are already out: the only honest signal left is to drop the connection.
            self.close_connection = True
        finally:
            conn.close()

    def handle_any(self):
        cfg = self.config
        request_id = str(uuid.uuid4())
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form request target
            parts = urlsplit(target)
            target = parts.path + ("?" + parts.query if parts.query else "")
        raw_path, sep, raw_query = target.partition("?")
        record = {
            "ts": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "request_id": request_id,
            "client_request_id": self.headers.get("x-request-id"),
            "method": self.command,
            "path": raw_path,
            "query": raw_query,
            "verdict": "rejected",
            "reason": None,
            "akid": None,
            "service": None,
            "region": None,
            "routing_header": None,
            "signed_headers": None,
            "status": None,
        }
        rid_header = [("x-amzn-RequestId", request_id)]
        self.pending_record = record
        try:
            try:
                body = self.read_body()
            except BadRequestFraming as exc:
                self.close_connection = True
                record.update(reason="bad request framing: %s" % exc, status=400)
                self.send_json(400, {"message": str(exc)}, rid_header + [("Connection", "close")])
                return
            try:
                self.verify(raw_path, raw_query, body, record)
            except Rejected as rej:
                status = ERROR_STATUS[rej.error_type]
                message = rej.message + (rej.debug or "")
                record.update(reason="%s: %s" % (rej.error_type, rej.message), status=status)
                self.send_json(status, {"message": message},
                               rid_header + [("x-amzn-ErrorType", rej.error_type)])
                return
            record["verdict"] = "forwarded"
            forwarded, error = self.forward(raw_path + sep + raw_query, body)
            if forwarded is None:
                record.update(reason=error, status=502)
                self.send_json(502, {"message": error}, rid_header)
                return
            conn, response = forwarded
            record.update(reason="ok", status=response.status)
            self.relay(conn, response)
        except Exception as exc:  # noqa: BLE001 - a stand-in must answer, not die
            self.close_connection = True
            record.update(reason="stand-in error: %s: %s" % (type(exc).__name__, exc),
                          status=record["status"] or 500)
            try:
                self.send_json(500, {"message": "stand-in error"}, rid_header)
            except OSError:
                pass
        finally:
            self.log_before_last_bytes()  # when no answer got that far (it logged nothing yet)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arn", required=True)
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of real MLflow")
    parser.add_argument("--log", required=True, help="JSON-lines request log (appended)")
    parser.add_argument("--port", type=int, default=0, help="0 = ephemeral")
    parser.add_argument("--max-skew-seconds", type=float, default=300)
    parser.add_argument("--upstream-timeout", type=float, default=300)
    parser.add_argument("--debug", action="store_true",
                        help="include the expected canonical request in signature errors")
    args = parser.parse_args(argv)
    try:
        config = Config(args)
    except ValueError as exc:
        parser.error(str(exc))

    handler = type("ConfiguredHandler", (Handler,), {"config": config})
    server = Server(("127.0.0.1", args.port), handler)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    sys.stdout.write("READY %d\n" % server.server_address[1])
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    config.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
