#!/usr/bin/env python3
"""Greeting-protocol server: one thread per connection, blocking sockets.

Usage: server.py HOST PORT IDLE_TIMEOUT_MS

Written from specs/PROTOCOL.md alone. Logs one line per greeted connection
on standard output: "connected with: HOST:PORT NAME".
"""

import socket
import sys
import threading
import time

GREETING = b"welcome to Asif server"
LIMIT = 1024

log_lock = threading.Lock()


def escape(text):
    """Escapes control characters and U+2028/U+2029; keeps everything else."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp < 0x20 or 0x7F <= cp <= 0x9F:
            out.append("\\x%02x" % cp)
        elif cp in (0x2028, 0x2029):
            out.append("\\u%04x" % cp)
        else:
            out.append(ch)
    return "".join(out)


def log(peer, name):
    line = "connected with: %s:%d %s" % (peer[0], peer[1], escape(name))
    with log_lock:
        print(line, flush=True)


def read_name(conn, idle):
    """Returns the name's bytes, or None for a connection idle from the start.

    The name ends at 1024 bytes, at end of stream, or after idle seconds
    with no new byte.
    """
    name = b""
    while len(name) < LIMIT:
        conn.settimeout(idle)
        try:
            chunk = conn.recv(LIMIT - len(name))
        except socket.timeout:
            if not name:
                return None
            break
        if not chunk:
            break
        name += chunk
    return name


def finish(conn, idle):
    """Sends the greeting, half-closes, drains input for at most idle, closes."""
    conn.sendall(GREETING)
    conn.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + idle
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        conn.settimeout(left)
        try:
            if not conn.recv(65536):
                break
        except socket.timeout:
            break
    conn.close()


def serve(conn, peer, idle):
    try:
        name = read_name(conn, idle)
        if name is None:
            conn.close()
            return
        log(peer, name.decode("utf-8", "replace"))
        finish(conn, idle)
    except OSError:
        pass  # the client reset or left: this connection only
    finally:
        conn.close()


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: server.py HOST PORT IDLE_TIMEOUT_MS")
    host, port, idle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000.0
    listener = socket.create_server((host, port), backlog=128)
    while True:
        conn, peer = listener.accept()
        threading.Thread(target=serve, args=(conn, peer, idle), daemon=True).start()


if __name__ == "__main__":
    main()
