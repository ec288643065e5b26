// Package clienttext tests the client specs through the text channel of a
// wrapped client program (greetspec run --client-cmd): a correct program
// written from PROTOCOL.md must get no FAIL, and variants of it that break
// one requirement each must fail exactly that requirement. The programs are
// in testdata; the package has no code of its own.
package clienttext
