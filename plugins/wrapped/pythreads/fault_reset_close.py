#!/usr/bin/env python3
"""Faulty variant of server.py: closes right after the greeting without
half-close or drain, so unread input past 1024 bytes makes the kernel send a
reset (breaks SRV-CLOSE-1). Everything else is server.py's."""

import server


def finish(conn, idle):
    conn.sendall(server.GREETING)
    conn.close()


server.finish = finish

if __name__ == "__main__":
    server.main()
