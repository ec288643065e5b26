#!/bin/sh
# Regenerates greet_pb2.py and greet_pb2_grpc.py from the contract's
# greet.proto. Needs Debian's python3-grpc-tools for /usr/bin/python3.
# Runs from any directory: paths are taken relative to this script.
set -eu
cd "$(dirname "$0")"
/usr/bin/python3 -m grpc_tools.protoc -I ../../core/contract \
  --python_out=. --grpc_python_out=. \
  ../../core/contract/greet.proto
