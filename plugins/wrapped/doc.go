// Package wrapped holds ordinary greeting-protocol programs, written from
// specs/PROTOCOL.md alone in several languages and styles, with no greetspec
// or plugin code: servers (Python threads, Python asyncio, Go, C) and clients
// (Python, Go, C), plus faulty variants that each break one requirement.
//
// Its test, TestWrappedPrograms, runs each of them through greetspec's exec
// adapter (--server-cmd, --client-cmd) and checks the verdicts: a correct
// program fails no requirement, and each faulty variant fails the one it
// breaks. See README.md for the programs and the commands.
package wrapped
