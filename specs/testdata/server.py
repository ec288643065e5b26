"""A correct greeting server written from PROTOCOL.md, for the tests of the
server specs' observation channels (a wrapped program, a running server in
address mode with or without its log followed).

Usage: server.py HOST PORT IDLE_MS [LOGFILE]

One thread per connection. The name is every byte until 1024 bytes, end of
stream, or IDLE_MS of silence; it is decoded with one U+FFFD per maximal
subpart and logged as `connected with: HOST:PORT NAME` with control
characters escaped, on standard output or appended to LOGFILE. Then the
greeting, a half-close, a drain of at most IDLE_MS, and the close. A
connection reset before its name ended has no name and no log line.
"""

import socket
import sys
import threading
import time

GREETING = b"welcome to Asif server"
log_lock = threading.Lock()


def escape(name):
    out = []
    for ch in name:
        c = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif c < 0x20 or 0x7F <= c <= 0x9F or c in (0x2028, 0x2029):
            out.append("\\x%02x" % c if c <= 0xFF else "\\u%04x" % c)
        else:
            out.append(ch)
    return "".join(out)


def log(line, logfile):
    data = (line + "\n").encode("utf-8")
    with log_lock:
        if logfile:
            with open(logfile, "ab") as f:
                f.write(data)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()


def serve(conn, addr, idle, logfile):
    try:
        conn.settimeout(idle)
        name = b""
        while len(name) < 1024:
            try:
                chunk = conn.recv(1024 - len(name))
            except socket.timeout:
                if not name:
                    return  # idle: close without a greeting
                break
            if not chunk:
                break
            name += chunk
        text = name.decode("utf-8", "replace")
        log("connected with: %s:%d %s" % (addr[0], addr[1], escape(text)), logfile)
        conn.sendall(GREETING)
        conn.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + idle
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            conn.settimeout(left)
            if not conn.recv(4096):
                break
    except OSError:
        pass  # a reset or a timeout ends this connection only
    finally:
        conn.close()


def main():
    host, port, idle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000
    logfile = sys.argv[4] if len(sys.argv) > 4 else None
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(128)
    while True:
        conn, addr = srv.accept()
        threading.Thread(target=serve, args=(conn, addr, idle, logfile), daemon=True).start()


main()
