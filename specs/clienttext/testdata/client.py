"""A greeting client written from specs/PROTOCOL.md, for the client specs'
text channel (greetspec run --client-cmd).

Usage: client.py HOST PORT [TIMEOUT_MS] [--name NAME] [--fault NAME]

The name is standard input, every byte of it up to end of input, or the
argument of --name. A name
longer than 1024 bytes is refused ("name too long" on standard error, exit
1) before connecting. Otherwise the client connects, sends the name,
half-closes, reads the reply until the server closes or 1024 bytes have
arrived, and prints it decoded with one U+FFFD per maximal subpart. Every
failure prints what was received (if anything) on standard output, says
what happened on standard error and exits 1. TIMEOUT_MS bounds the whole
exchange.

--fault makes it break one requirement, to show the specs catch it:
  strict-utf8      decodes the reply strictly and crashes on invalid UTF-8
  sends-long       sends names longer than 1024 bytes instead of refusing
  mute-refusal     refuses a long name with exit 1 and no words at all
  ignores-timeout  waits for the reply without any timeout
  drops-partial    prints nothing on a reset or timeout (still correct:
                   the bytes are then not observable)
"""

import socket
import sys
import time

MAX = 1024


def fail(message, received=b""):
    if received:
        show(received)
    sys.stderr.write(message + "\n")
    sys.exit(1)


def show(reply, strict=False):
    text = reply.decode("utf-8", "strict" if strict else "replace")
    sys.stdout.buffer.write(text.encode("utf-8") + b"\n")
    sys.stdout.flush()


def main():
    args = sys.argv[1:]
    opts = {}
    for opt in ("--fault", "--name"):
        if opt in args:
            i = args.index(opt)
            opts[opt] = args[i + 1]
            del args[i:i + 2]
    fault = opts.get("--fault", "")
    host, port = args[0], int(args[1])
    timeout = int(args[2]) / 1000 if len(args) > 2 else None
    if fault == "ignores-timeout":
        timeout = None
    deadline = None if timeout is None else time.monotonic() + timeout

    def remaining():
        if deadline is None:
            return None
        return max(deadline - time.monotonic(), 0.001)

    if "--name" in opts:
        name = opts["--name"].encode("utf-8", "surrogateescape")
    else:
        name = sys.stdin.buffer.read()
    if len(name) > MAX and fault != "sends-long":
        if fault == "mute-refusal":
            sys.exit(1)
        fail("name too long: %d bytes, the limit is %d" % (len(name), MAX))

    received = b""
    try:
        s = socket.create_connection((host, port), timeout=remaining())
    except ConnectionRefusedError:
        fail("connection refused")
    except socket.timeout:
        fail("timed out connecting")
    with s:
        try:
            s.settimeout(remaining())
            s.sendall(name)
            s.shutdown(socket.SHUT_WR)
            while len(received) < MAX:
                s.settimeout(remaining())
                chunk = s.recv(MAX - len(received))
                if not chunk:
                    break
                received += chunk
        except socket.timeout:
            fail("timed out", b"" if fault == "drops-partial" else received)
        except ConnectionResetError:
            fail("connection reset", b"" if fault == "drops-partial" else received)
    if not received:
        fail("server closed without a reply")
    show(received, strict=(fault == "strict-utf8"))


main()
