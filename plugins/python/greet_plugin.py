#!/usr/bin/python3
"""greetspec's native Python plugin: a greeting-protocol server and client.

It speaks the greetspec gRPC contract (core/contract/greet.proto) directly,
without Go: it answers go-plugin's handshake on stdout, serves gRPC with
go-plugin's automatic mutual TLS, and registers the services a go-plugin host
expects beside the contract (health, controller, stdio, broker).

Run it only through a greetspec host. It needs Debian's python3-grpcio,
python3-protobuf and python3-cryptography, hence the interpreter
/usr/bin/python3. Regenerate greet_pb2*.py with generate.sh.
"""

import base64
import datetime
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
from concurrent import futures

# The generated stubs live next to this file; the host may start us from any
# working directory. Write no __pycache__ into the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

import greet_pb2 as pb  # noqa: E402
import greet_pb2_grpc as pb_grpc  # noqa: E402

MAGIC_KEY = "GREETSPEC_PLUGIN"
MAGIC_VALUE = "greeting-protocol-conformance"
APP_PROTOCOL_VERSION = 1
# Attach mode, as in the Go contract package (contract.AttachEnv).
ATTACH_ENV = "GREETSPEC_ATTACH"
ATTACH_LINE_PREFIX = "greetspec attach details:"

MAX_NAME = 1024
GREETING = b"welcome to Asif server"
DEFAULT_TIMEOUT = 10.0
# Stop waits this long for connection threads before giving up on them.
STOP_GRACE = 5.0

_log_lock = threading.Lock()


def log(level, message, **fields):
    """Writes one JSON line on stderr in the form hclog parses."""
    entry = {
        "@level": level,
        "@message": message,
        "@timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="microseconds"),
    }
    entry.update(fields)
    line = json.dumps(entry, ensure_ascii=False)
    with _log_lock:
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # the host went away; the parent watch will end us


def escape_log_name(name):
    """Escapes control characters so a log line stays one clean line.

    Matches the Go contract's EscapeLogName (SRV-LOG-2): U+0000-U+001F and
    U+007F-U+009F become \\n, \\r, \\t or \\xHH, the line and paragraph
    separators U+2028 and U+2029 become \\u2028 and \\u2029, a backslash
    becomes \\\\ so the escaping is unambiguous, every other character stays
    as it is.
    """
    out = []
    for ch in name:
        c = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif c in (0x2028, 0x2029):
            out.append("\\u%04x" % c)
        elif c < 0x20 or 0x7F <= c <= 0x9F:
            out.append("\\x%02x" % c)
        else:
            out.append(ch)
    return "".join(out)


def split_host_port(address):
    """Splits host:port or [v6]:port; raises ValueError when malformed."""
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError("missing port in address %r" % address)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def join_host_port(host, port):
    """Formats an address the way Go's net.JoinHostPort does."""
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


def sockaddr_str(addr):
    """host:port of a socket address tuple (IPv4 or IPv6)."""
    return join_host_port(addr[0], addr[1])


class GreetServer(pb_grpc.GreetServerServicer):
    """The greeting-protocol server under test, one thread per connection.

    Events are kept per run (a run lasts from Start to Stop) so that an Events
    stream opened late still replays every connection of the current run.
    """

    def __init__(self, shutdown):
        self._shutdown = shutdown  # process-wide shutdown event
        self._cond = threading.Condition()
        self._running = False
        self._run = 0
        self._events = []
        self._listener = None
        self._wake_r = None
        self._wake_w = None
        self._accept_thread = None
        self._conns = {}  # socket -> handler thread of the current run
        self._idle = DEFAULT_TIMEOUT
        self._stopping = False

    def Describe(self, request, context):
        return pb.DescribeResponse(name="python-native")

    def Start(self, request, context):
        with self._cond:
            if self._running:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              "server already started")
            try:
                listener = self._listen(request.listen_address or "127.0.0.1:0")
            except (OSError, ValueError) as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              "listen on %r: %s" % (request.listen_address, e))
            self._listener = listener
            self._idle = (request.idle_timeout_ms / 1000.0
                          if request.idle_timeout_ms else DEFAULT_TIMEOUT)
            self._wake_r, self._wake_w = socket.socketpair()
            self._running = True
            self._stopping = False
            self._run += 1
            self._events = []
            self._conns = {}
            self._cond.notify_all()
            run = self._run
            address = sockaddr_str(listener.getsockname())
            self._accept_thread = threading.Thread(
                target=self._accept_loop,
                args=(listener, self._wake_r, run, self._idle),
                name="accept", daemon=True)
            self._accept_thread.start()
        log("info", "listening", address=address)
        return pb.StartResponse(address=address)

    @staticmethod
    def _listen(address):
        host, port = split_host_port(address)
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        family, socktype, proto, _, sockaddr = infos[0]
        s = socket.socket(family, socktype, proto)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(sockaddr)
            s.listen(128)
            # select() says when to accept; never block in accept itself.
            s.setblocking(False)
        except OSError:
            s.close()
            raise
        return s

    def _accept_loop(self, listener, wake, run, idle):
        """Accepts until Stop writes to the wake socket."""
        sel = selectors.DefaultSelector()
        sel.register(listener, selectors.EVENT_READ)
        sel.register(wake, selectors.EVENT_READ)
        try:
            while True:
                ready = [key.fileobj for key, _ in sel.select()]
                if wake in ready:
                    return
                try:
                    conn, addr = listener.accept()
                except (BlockingIOError, InterruptedError,
                        ConnectionAbortedError):
                    continue
                except OSError as e:
                    log("error", "accept failed", error=str(e))
                    time.sleep(0.05)  # e.g. EMFILE: do not spin
                    continue
                with self._cond:
                    if self._run != run or self._stopping:
                        conn.close()
                        return
                    t = threading.Thread(target=self._serve_conn,
                                         args=(conn, addr, run, idle),
                                         name="conn", daemon=True)
                    self._conns[conn] = t
                t.start()
        finally:
            sel.close()

    def _serve_conn(self, conn, addr, run, idle):
        """Runs one exchange and reports it; never raises."""
        remote = sockaddr_str(addr)
        ev = pb.ConnectionEvent(remote_address=remote)
        greeted = False
        try:
            greeted = self._exchange(conn, remote, idle, ev)
        except Exception as e:  # a bug here must not take the server down
            ev.error = ev.error or ("internal error: %r" % (e,))
            log("error", "connection failed", remote=remote, error=repr(e))
        finally:
            # Report before the bounded drain so hosts see the event as soon
            # as the exchange is done; Stop still waits for the drain.
            self._report(run, ev)
            try:
                if greeted:
                    self._drain(conn, idle)
            finally:
                conn.close()
                with self._cond:
                    self._conns.pop(conn, None)

    def _exchange(self, conn, remote, idle, ev):
        """Reads the name and greets; True if the greeting path ran."""
        name = bytearray()
        end = pb.NAME_END_LIMIT
        # The idle timer restarts with every byte: a recv timeout of T is
        # exactly "T passing with no new byte".
        conn.settimeout(idle)
        while len(name) < MAX_NAME:
            try:
                # Never ask for more than the limit: later bytes are not
                # part of the name (SRV-LIMIT-1) and are not waited for.
                chunk = conn.recv(MAX_NAME - len(name))
            except socket.timeout:
                end = pb.NAME_END_IDLE
                break
            except OSError as e:
                end = pb.NAME_END_ERROR
                ev.error = str(e)
                break
            if not chunk:
                end = pb.NAME_END_EOF
                break
            name += chunk
        ev.name_raw = bytes(name)
        ev.name_end = end
        if self._stopping and end != pb.NAME_END_LIMIT:
            # Stop shut the socket down under us: that is not the client's
            # end of stream.
            ev.name_end = pb.NAME_END_ERROR
            ev.error = ev.error or "server stopped"
            return False
        if end == pb.NAME_END_ERROR:
            return False
        if end == pb.NAME_END_IDLE and not name:
            # SRV-IDLE-1: nobody said anything; close without a greeting.
            ev.error = "idle: no byte within %.3fs" % idle
            return False
        ev.name = bytes(name).decode("utf-8", "replace")
        ev.log_line = "connected with: %s %s" % (remote,
                                                 escape_log_name(ev.name))
        log("info", ev.log_line)
        sent = 0
        try:
            while sent < len(GREETING):
                sent += conn.send(GREETING[sent:])
        except OSError as e:
            ev.error = "send greeting: %s" % e
        ev.reply = GREETING[:sent]
        try:
            # Orderly close (SRV-GREET-3, SRV-CLOSE-1): FIN first, then drain.
            conn.shutdown(socket.SHUT_WR)
        except OSError as e:
            if not ev.error:
                ev.error = "shutdown: %s" % e
        return True

    @staticmethod
    def _drain(conn, idle):
        """Discards input for at most idle seconds so close sends no RST."""
        deadline = time.monotonic() + idle
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                conn.settimeout(left)
                if not conn.recv(65536):
                    return
        except OSError:
            return

    def _report(self, run, ev):
        with self._cond:
            if self._run != run:
                return  # a straggler of an earlier run
            self._events.append(ev)
            self._cond.notify_all()

    def Stop(self, request, context):
        self.stop()
        return pb.StopResponse()

    def stop(self):
        """Closes the listener and every connection; waits (bounded) for threads."""
        with self._cond:
            if not self._running:
                return
            self._stopping = True
            accept_thread = self._accept_thread
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass
        if accept_thread is not None:
            accept_thread.join(STOP_GRACE)
        # The accept loop registers no connection once _stopping is set.
        with self._cond:
            conns = dict(self._conns)
        for conn in conns:
            try:
                # shutdown wakes a thread blocked in recv; close alone may not.
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + STOP_GRACE
        for t in conns.values():
            t.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            for s in (self._listener, self._wake_r, self._wake_w):
                if s is not None:
                    s.close()
            self._listener = self._wake_r = self._wake_w = None
            self._accept_thread = None
            self._running = False
            self._cond.notify_all()
        log("info", "stopped")

    def Events(self, request, context):
        with self._cond:
            run = self._run
        sent = 0

        def wake():
            with self._cond:
                self._cond.notify_all()

        context.add_callback(wake)
        while True:
            with self._cond:
                while True:
                    if self._run != run:
                        return
                    if (len(self._events) > sent or not self._running
                            or not context.is_active()
                            or self._shutdown.is_set()):
                        break
                    self._cond.wait(1.0)
                if not context.is_active() or self._shutdown.is_set():
                    return
                pending = self._events[sent:]
                running = self._running
            for ev in pending:
                yield ev
                sent += 1
            if not running and not pending:
                return


class GreetClient(pb_grpc.GreetClientServicer):
    """The greeting-protocol client under test."""

    def Describe(self, request, context):
        return pb.DescribeResponse(name="python-native")

    def Greet(self, request, context):
        timeout = (request.timeout_ms / 1000.0 if request.timeout_ms
                   else DEFAULT_TIMEOUT)
        return greet(request.address, request.name, timeout)


def greet(address, name, timeout):
    """One greeting exchange under the CLI-* rules; returns a GreetResponse."""
    deadline = time.monotonic() + timeout
    resp = pb.GreetResponse()
    data = name.encode("utf-8")
    if len(data) > MAX_NAME:
        resp.error_class = pb.ERROR_CLASS_NAME_TOO_LONG
        resp.error = "name is %d bytes, the limit is %d" % (len(data), MAX_NAME)
        return resp
    try:
        host, port = split_host_port(address)
    except ValueError as e:
        resp.error_class = pb.ERROR_CLASS_OTHER
        resp.error = str(e)
        return resp

    def left():
        return max(deadline - time.monotonic(), 0.001)

    try:
        conn = socket.create_connection((host, port), timeout=left())
    except ConnectionRefusedError as e:
        resp.error_class = pb.ERROR_CLASS_REFUSED
        resp.error = "connect: %s" % e
        return resp
    except socket.timeout:
        resp.error_class = pb.ERROR_CLASS_TIMEOUT
        resp.error = "connect: timed out after %.3fs" % timeout
        return resp
    except OSError as e:
        resp.error_class = pb.ERROR_CLASS_OTHER
        resp.error = "connect: %s" % e
        return resp

    reply = bytearray()
    send_err = None
    try:
        try:
            conn.settimeout(left())
            conn.sendall(data)
            # CLI-SEND-2: end of stream marks the end of the name.
            conn.shutdown(socket.SHUT_WR)
        except socket.timeout:
            resp.error_class = pb.ERROR_CLASS_TIMEOUT
            resp.error = "send: timed out after %.3fs" % timeout
            return resp
        except OSError as e:
            # The server may have replied and closed already: still read
            # whatever it sent before classifying.
            send_err = e
        while len(reply) < MAX_NAME:
            if time.monotonic() >= deadline:
                resp.error_class = pb.ERROR_CLASS_TIMEOUT
                resp.error = "reply: timed out after %.3fs" % timeout
                break
            try:
                conn.settimeout(left())
                chunk = conn.recv(MAX_NAME - len(reply))
            except socket.timeout:
                resp.error_class = pb.ERROR_CLASS_TIMEOUT
                resp.error = "reply: timed out after %.3fs" % timeout
                break
            except ConnectionResetError as e:
                resp.error_class = pb.ERROR_CLASS_RESET
                resp.error = "reply: %s" % e
                break
            except OSError as e:
                resp.error_class = pb.ERROR_CLASS_OTHER
                resp.error = "reply: %s" % e
                break
            if not chunk:
                if not reply:
                    if isinstance(send_err, ConnectionResetError):
                        resp.error_class = pb.ERROR_CLASS_RESET
                        resp.error = "send: %s" % send_err
                    else:
                        resp.error_class = pb.ERROR_CLASS_CLOSED_EARLY
                        resp.error = "server closed without a reply"
                break
            reply += chunk
    finally:
        conn.close()
    resp.reply = bytes(reply)
    resp.shown = resp.reply.decode("utf-8", "replace")
    return resp


# --- go-plugin's side services, with hand-rolled (de)serializers ---------

def _identity(b):
    return b


def _empty(_):
    return b""


def _health_service(request):
    """Extracts HealthCheckRequest.service (field 1, a string)."""
    if len(request) >= 2 and request[0] == 0x0A:
        n, i, shift = 0, 1, 0
        while i < len(request):
            b = request[i]
            n |= (b & 0x7F) << shift
            i += 1
            shift += 7
            if not b & 0x80:
                break
        return request[i:i + n].decode("utf-8", "replace")
    return ""


class SideServices(grpc.GenericRpcHandler):
    """Health, controller, stdio and broker: what a go-plugin host calls.

    Empty is zero bytes and HealthCheckResponse{status: SERVING} is 08 01, so
    no extra proto files are needed.
    """

    def __init__(self, shutdown):
        self._shutdown = shutdown
        self._handlers = {
            "/grpc.health.v1.Health/Check": grpc.unary_unary_rpc_method_handler(
                self._check, _identity, _identity),
            "/plugin.GRPCController/Shutdown":
                grpc.unary_unary_rpc_method_handler(
                    self._shutdown_rpc, _identity, _identity),
            "/plugin.GRPCStdio/StreamStdio":
                grpc.unary_stream_rpc_method_handler(
                    self._stdio, _identity, _identity),
            "/plugin.GRPCBroker/StartStream":
                grpc.stream_stream_rpc_method_handler(
                    self._broker, _identity, _identity),
        }

    def service(self, handler_call_details):
        return self._handlers.get(handler_call_details.method)

    @staticmethod
    def _check(request, context):
        if _health_service(request) not in ("", "plugin"):
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return b"\x08\x01"

    def _shutdown_rpc(self, request, context):
        log("debug", "shutdown requested by host")
        self._shutdown.set()
        return b""

    def _wait(self, context):
        """Blocks until the RPC ends or the process shuts down."""
        while context.is_active() and not self._shutdown.wait(0.2):
            pass

    def _stdio(self, request, context):
        # Our stdout carries only the handshake and stderr goes straight to
        # the host, so there is never anything to stream.
        self._wait(context)
        return iter(())

    def _broker(self, request_iterator, context):
        # No brokered connections are offered; keep the stream open quietly
        # so the host does not log errors.
        self._wait(context)
        return iter(())


def make_tls(client_pem):
    """Makes go-plugin's AutoMTLS credentials and the handshake's cert field."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "greetspec"),
    ])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                       critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=True, data_encipherment=False,
            key_agreement=True, key_cert_sign=True, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([
            ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    creds = grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=client_pem.encode(),
        require_client_auth=True)
    der = cert.public_bytes(serialization.Encoding.DER)
    return creds, base64.b64encode(der).decode().rstrip("=")


def watch_parent(shutdown):
    """Sets shutdown when the host dies, so no orphan outlives it."""
    parent = os.getppid()
    while not shutdown.wait(0.5):
        if os.getppid() != parent:
            log("warn", "host process is gone; exiting")
            shutdown.set()


def main():
    # Attach mode (GREETSPEC_ATTACH set): started by hand, for example under
    # a debugger; greetspec connects with --attach-server/--attach-client.
    attached = bool(os.environ.get(ATTACH_ENV))
    if not attached and os.environ.get(MAGIC_KEY) != MAGIC_VALUE:
        sys.stderr.write(
            "This is a greetspec plugin: it is started by the greetspec host,\n"
            "not run directly. Run `greetspec` with this plugin instead.\n")
        sys.exit(1)
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    if versions and str(APP_PROTOCOL_VERSION) not in [
            v.strip() for v in versions.split(",")]:
        sys.stderr.write("greetspec python plugin: host wants protocol "
                         "versions %s, this plugin speaks %d\n"
                         % (versions, APP_PROTOCOL_VERSION))
        sys.exit(1)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(encoding="utf-8", errors="backslashreplace")
    shutdown = threading.Event()
    if attached:
        # Serve until interrupted by whoever started us.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: shutdown.set())
    else:
        # Like go-plugin's own servers, ignore Ctrl-C: the host shuts us down.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    greet_server = GreetServer(shutdown)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=128),
                         handlers=[SideServices(shutdown)])
    pb_grpc.add_GreetServerServicer_to_server(greet_server, server)
    pb_grpc.add_GreetClientServicer_to_server(GreetClient(), server)

    client_pem = "" if attached else os.environ.get("PLUGIN_CLIENT_CERT", "")
    if client_pem:
        creds, cert_field = make_tls(client_pem)
        port = server.add_secure_port("127.0.0.1:0", creds)
    else:
        cert_field = None
        port = server.add_insecure_port("127.0.0.1:0")
    if not port:
        sys.stderr.write("greetspec python plugin: cannot listen on 127.0.0.1\n")
        sys.exit(1)
    server.start()

    if attached:
        details = json.dumps({"network": "tcp", "address": "127.0.0.1:%d" % port,
                              "pid": os.getpid(),
                              "protocol_version": APP_PROTOCOL_VERSION},
                             separators=(",", ":"))
        sys.stdout.write("%s %s\n" % (ATTACH_LINE_PREFIX, details))
        sys.stdout.flush()
        sys.stderr.write("Attach mode: serving until interrupted. Test it with\n"
                         "  greetspec run --attach-server '%s'\n" % details)
    else:
        fields = ["1", str(APP_PROTOCOL_VERSION), "tcp", "127.0.0.1:%d" % port,
                  "grpc"]
        if cert_field is not None:
            fields.append(cert_field)
        sys.stdout.write("|".join(fields) + "\n")
        sys.stdout.flush()
        threading.Thread(target=watch_parent, args=(shutdown,), name="parent",
                         daemon=True).start()
    # wait() with a timeout keeps the main thread able to run signal handlers.
    while not shutdown.wait(0.5):
        pass
    # Let the Shutdown RPC's answer go out, then end promptly.
    greet_server.stop()
    server.stop(0.5).wait(2.0)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
