//go:build !linux

package wire

// peek cannot look at the socket on this system: it reports nothing.
func (c *Conn) peek() (unread []byte, state End) { return nil, EndError }
