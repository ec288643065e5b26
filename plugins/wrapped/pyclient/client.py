#!/usr/bin/env python3
"""Greeting-protocol client, written from specs/PROTOCOL.md alone.

Usage: client.py HOST PORT TIMEOUT_MS < name

Reads the name from standard input to its end, exactly as given (no line
ending is removed), sends it, half-closes, reads the reply until the server
closes or 1024 bytes have arrived, and prints it decoded (one U+FFFD per
maximal subpart of invalid UTF-8). Errors go to standard error with exit
status 1; bytes received before a reset or a timeout are printed first.
"""

import socket
import sys
import time

LIMIT = 1024


def read_name():
    """The name as text; undecodable input bytes survive as surrogates."""
    return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")


def encode(name):
    return name.encode("utf-8", "surrogateescape")


def check_length(data):
    if len(data) > LIMIT:
        fail("name too long: %d bytes, at most %d" % (len(data), LIMIT))


def decode(reply):
    return reply.decode("utf-8", "replace")


def show(reply):
    sys.stdout.buffer.write(decode(reply).encode("utf-8") + b"\n")
    sys.stdout.flush()


def fail(message, received=b""):
    if received:
        show(received)
    print("client: " + message, file=sys.stderr)
    sys.exit(1)


def exchange(host, port, data, timeout):
    """Returns the reply; raises OSError (socket.timeout on timeout)."""
    deadline = time.monotonic() + timeout

    def left():
        return max(deadline - time.monotonic(), 0.001)

    reply = b""
    try:
        with socket.create_connection((host, port), timeout=left()) as sock:
            sock.settimeout(left())
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while len(reply) < LIMIT:
                sock.settimeout(left())
                piece = sock.recv(LIMIT - len(reply))
                if not piece:
                    break
                reply += piece
    except socket.timeout as err:
        fail(str(err) or "timed out", reply)
    except OSError as err:
        fail(err.strerror or str(err), reply)
    return reply


def main():
    if len(sys.argv) != 4:
        print("usage: client.py HOST PORT TIMEOUT_MS < name", file=sys.stderr)
        sys.exit(2)
    host, port, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000
    data = encode(read_name())
    check_length(data)
    reply = exchange(host, port, data, timeout)
    if not reply:
        fail("connection closed without a reply")
    show(reply)


if __name__ == "__main__":
    main()
