#!/usr/bin/env python3
# The tutorial's greeting client, parameterised: client.py HOST PORT.
#
# INTENTIONALLY NON-CONFORMING. This copies the socket-programming tutorial's
# behaviour as a showcase of the defects greetspec must find: it connects
# before asking for the name, never half-closes (an empty name hangs), takes
# one recv(1024) as the whole reply, decodes it strictly, and waits forever
# for a server that never answers. Do not fix it.
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.connect((host, port))
name = input("Enter the name: ")
c.send(name.encode())
print(c.recv(1024).decode())
