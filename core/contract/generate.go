package contract

// The generated code is committed; regenerate it after editing greet.proto.
// protoc comes from Debian's protobuf-compiler; the Go plugins are the tool
// versions pinned in go.mod.
//go:generate sh generate.sh
