// Package python holds greetspec's native Python plugin (greet_plugin.py)
// and its generated gRPC stubs. The Go side only embeds the files, so that
// `greetspec new --lang python` can write a working copy anywhere.
package python

import "embed"

// Files holds greet_plugin.py, greet_pb2.py and greet_pb2_grpc.py.
//
//go:embed greet_plugin.py greet_pb2.py greet_pb2_grpc.py
var Files embed.FS
