#!/usr/bin/env python3
# The tutorial's greeting server, parameterised: server.py HOST PORT.
#
# INTENTIONALLY NON-CONFORMING. This copies the socket-programming tutorial's
# behaviour as a showcase of the defects greetspec must find: one connection
# at a time, one recv(1024) taken as the whole name, strict UTF-8 decoding
# (invalid input kills the server), the raw name printed, send() instead of
# sendall(), and close() with possibly unread input. Do not fix it.
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(3)
print("listening on %s:%d" % s.getsockname(), flush=True)

while True:
    c, addr = s.accept()
    name = c.recv(1024).decode()
    print("connected with: ", addr, name, flush=True)
    c.send(bytes("welcome to Asif server", "utf-8"))
    c.close()
