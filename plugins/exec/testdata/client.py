"""A small greeting client for the exec adapter's tests.

Without a name argument it reads the name with input(), printing the
tutorial's prompt (or none with --silent). It sends the name, half-closes,
reads the reply until the server closes and prints it.
"""

import argparse
import json
import os
import socket
import subprocess
import time


def write_pid(path, pid):
    with open(path + ".tmp", "w") as f:
        f.write(str(pid))
    os.rename(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("name", nargs="?")
    p.add_argument("--silent", action="store_true", help="print no prompt")
    p.add_argument("--argv-out", help="write the arguments received, as JSON, here")
    p.add_argument("--hang", action="store_true", help="never finish")
    p.add_argument("--pidfile")
    p.add_argument("--child-pidfile", help="start a `sleep` child and write its PID here")
    args = p.parse_args()

    if args.argv_out:
        with open(args.argv_out, "w") as f:
            json.dump(os.sys.argv[1:], f)
    if args.name is not None:
        name = args.name
    else:
        name = input("" if args.silent else "Enter the name: ")
    if args.hang:
        if args.child_pidfile:
            child = subprocess.Popen(["sleep", "1000"])
            write_pid(args.child_pidfile, child.pid)
        if args.pidfile:
            write_pid(args.pidfile, os.getpid())
        while True:
            time.sleep(60)

    s = socket.create_connection((args.host, args.port))
    s.sendall(name.encode("utf-8"))
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while len(reply) < 1024:
        chunk = s.recv(1024 - len(reply))
        if not chunk:
            break
        reply += chunk
    s.close()
    print(reply.decode("utf-8", "replace"))


main()
