#!/usr/bin/env python3
"""Faulty variant of server.py: logs the name raw, control characters and
all (breaks SRV-LOG-2). Everything else is server.py's."""

import server

server.escape = lambda text: text

if __name__ == "__main__":
    server.main()
