"""A small greeting server for the exec adapter's tests.

It serves each connection in a thread: it reads the name until end of
stream, 1024 bytes or an idle timeout, logs `connected with: ...` in the
chosen format, replies with the greeting and closes. Options make it
misbehave the ways the tests need.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time


log_lock = threading.Lock()


def write_pid(path, pid):
    with open(path + ".tmp", "w") as f:
        f.write(str(pid))
    os.rename(path + ".tmp", path)  # readers never see a half-written file


def serve(conn, addr, args):
    conn.settimeout(args.idle_ms / 1000)
    name = b""
    try:
        while len(name) < 1024:
            chunk = conn.recv(1024 - len(name))
            if not chunk:
                break
            name += chunk
    except socket.timeout:
        if not name:
            conn.close()
            return
    except OSError:
        conn.close()
        return
    text = name.decode("utf-8", "replace")
    if args.log_delay_ms and name.startswith(b"late"):
        time.sleep(args.log_delay_ms / 1000)  # still holding the connection
    if args.quiet:
        line = b""
    elif args.format == "raw":
        line = b"connected with: %s:%d %s\n" % (addr[0].encode(), addr[1], name)
    elif args.format == "colon":
        line = f"connected with: {addr[0]}:{addr[1]} {text}\n".encode()
    else:
        line = f"connected with:  {addr} {text}\n".encode()
    if args.crlf:
        line = line.replace(b"\n", b"\r\n")
    # One write per line under a lock: print() writes its pieces separately,
    # so lines of concurrent connections would interleave.
    with log_lock:
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
    try:
        conn.sendall(b"welcome to Asif server")
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(4096):
            pass
    except OSError:
        pass
    conn.close()
    if args.exit_after_one:
        os._exit(0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--format", choices=["tuple", "colon", "raw"], default="tuple")
    p.add_argument("--idle-ms", type=int, default=2000)
    p.add_argument("--pidfile")
    p.add_argument("--child-pidfile", help="start a `sleep` child and write its PID here")
    p.add_argument("--crash", action="store_true", help="exit with status 3 before listening")
    p.add_argument("--no-listen", action="store_true", help="never open the port")
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--exit-after-one", action="store_true")
    p.add_argument("--crash-after-one", action="store_true",
                   help="serve one connection, then die of an uncaught exception")
    p.add_argument("--crlf", action="store_true", help="end log lines with CRLF")
    p.add_argument("--quiet", action="store_true", help="log nothing")
    p.add_argument("--log-delay-ms", type=int, default=0,
                   help="wait this long before logging a name starting with 'late'")
    args = p.parse_args()

    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.child_pidfile:
        child = subprocess.Popen(["sleep", "1000"])
        write_pid(args.child_pidfile, child.pid)
    if args.pidfile:
        write_pid(args.pidfile, os.getpid())
    if not args.quiet:
        print("server starting")
    if args.crash:
        print("boom: cannot start", file=sys.stderr)
        sys.exit(3)
    if args.no_listen:
        while True:
            time.sleep(60)

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.host, args.port))
    srv.listen(64)
    if args.crash_after_one:
        conn, addr = srv.accept()
        serve(conn, addr, args)
        raise RuntimeError("database went away")
    while True:
        conn, addr = srv.accept()
        threading.Thread(target=serve, args=(conn, addr, args), daemon=True).start()


main()
