package faulty

// The client faults: one or more per client requirement of PROTOCOL.md.
// Each sets one switch of the faulty client; where a fault inherently breaks
// two requirements, its Kills names both and its Summary says why.
func init() {
	for _, f := range []Fault{
		// CLI-SEND-1: the bytes on the wire are the name's exact UTF-8.
		{Name: "appends-newline", Kills: []string{"CLI-SEND-1"},
			Expect:  expect("CLI-SEND-1", `the client sent 1 byte (more after the name )?\(0a\)`),
			Summary: "sends a line ending after the name",
			Client:  &ClientFaults{AppendNewline: true}},
		{Name: "sends-bom", Kills: []string{"CLI-SEND-1"},
			Expect:  expect("CLI-SEND-1", `the client sent 3 bytes (more before the name )?\(ef bb bf`),
			Summary: "sends a UTF-8 byte order mark before the name",
			Client:  &ClientFaults{BOM: true}},
		{Name: "latin1-encoding", Kills: []string{"CLI-SEND-1", "CLI-LIMIT-1"},
			Expect:  expect("CLI-SEND-1", `the client sent \d+ bytes? that differ`, "CLI-LIMIT-1", `the client (sent (only the first|\d+ bytes? that differ)|connected and sent)`),
			Summary: "encodes the name as ISO-8859-1; a non-ASCII name of 1024 UTF-8 bytes is then not sent whole either",
			Client:  &ClientFaults{Latin1: true}},

		{Name: "composes-accents", Kills: []string{"CLI-SEND-1", "CLI-LIMIT-1"},
			Expect: expect("CLI-SEND-1", `the client sent .*\((c3 a9|c3 ab|c3 a0)`, "CLI-LIMIT-1", `the client (sent (only the first|\d+ bytes? that differ)|connected and sent)`),
			Summary: "composes e + U+0301 and the like into precomposed characters (a partial NFC normalisation); " +
				"a decomposed name of 1024 bytes is then not sent whole either",
			Client: &ClientFaults{ComposeAccents: true}},
		{Name: "strips-format-characters", Kills: []string{"CLI-SEND-1", "CLI-LIMIT-1"},
			Expect:  expect("CLI-SEND-1", `the client sent (only the first|\d+ bytes? that differ)`, "CLI-LIMIT-1", `the client (sent (only the first|\d+ bytes? that differ)|connected and sent)`),
			Summary: "drops zero-width, bidirectional and other format characters (U+200B, U+FEFF, U+00AD, ...) from the name; a name of 1024 bytes with them is then not sent whole either",
			Client:  &ClientFaults{StripFormat: true}},

		// CLI-SEND-2: end of stream ends the name.
		{Name: "no-half-close", Kills: []string{"CLI-SEND-2"},
			Expect:  expect("CLI-SEND-2", `the client sent \d+ bytes "[^"]*" and kept the connection open`),
			Summary: "never half-closes after the name",
			Client:  &ClientFaults{NoHalfClose: true}},

		// CLI-LIMIT-1: over-long names are refused, 1024 bytes are sent.
		{Name: "sends-long-names", Kills: []string{"CLI-LIMIT-1"},
			Expect:  expect("CLI-LIMIT-1", `the client connected and sent \d+ bytes`),
			Summary: "sends names longer than 1024 bytes instead of refusing them",
			Client:  &ClientFaults{SendLong: true}},
		{Name: "truncates-long-names", Kills: []string{"CLI-LIMIT-1"},
			Expect:  expect("CLI-LIMIT-1", `the client connected and sent \d+ bytes`),
			Summary: "cuts names longer than 1024 bytes to 1024 and sends them",
			Client:  &ClientFaults{TruncateLong: true}},
		{Name: "counts-characters", Kills: []string{"CLI-LIMIT-1"},
			Expect:  expect("CLI-LIMIT-1", `the client connected and sent \d+ bytes`),
			Summary: "applies the 1024 limit to characters, not bytes",
			Client:  &ClientFaults{CountRunes: true}},

		// CLI-REPLY-1 and CLI-REPLY-2: read until close or 1024 bytes.
		{Name: "first-read-only", Kills: []string{"CLI-REPLY-1"},
			Expect:  expect("CLI-REPLY-1", `the client returned \d+ reply bytes`),
			Summary: "returns only the bytes of the first read as the reply",
			Client:  &ClientFaults{SingleRead: true}},
		{Name: "waits-for-close-past-limit", Kills: []string{"CLI-REPLY-2"},
			Expect:  expect("CLI-REPLY-2", `the client reported ERROR_CLASS_`),
			Summary: "after 1024 reply bytes still waits for the server to close",
			Client:  &ClientFaults{WaitCloseAfterLimit: true}},
		{Name: "reply-limit-2048", Kills: []string{"CLI-REPLY-1", "CLI-REPLY-2"},
			Expect:  expect("CLI-REPLY-1", `the client returned (1[1-9]\d\d|20\d\d) reply bytes`, "CLI-REPLY-2", `the client (returned (1[1-9]\d\d|20\d\d) reply bytes|reported ERROR_CLASS_)`),
			Summary: "returns up to 2048 reply bytes; the long reply in two pieces (a CLI-REPLY-1 case) shows it too",
			Client:  &ClientFaults{ReadLimit: 2048}},
		{Name: "no-reply-limit", Kills: []string{"CLI-REPLY-1", "CLI-REPLY-2"},
			Expect:  expect("CLI-REPLY-1", `the client returned (1[1-9]\d\d|20\d\d) reply bytes`, "CLI-REPLY-2", `the client (returned (1[1-9]\d\d|20\d\d) reply bytes|reported ERROR_CLASS_)`),
			Summary: "reads the reply until the server closes, however long; the long reply in two pieces (a CLI-REPLY-1 case) shows it too",
			Client:  &ClientFaults{NoReplyLimit: true}},

		// CLI-UTF8-1: invalid UTF-8 in the reply is shown, not fatal.
		{Name: "strict-utf8", Kills: []string{"CLI-UTF8-1"},
			Expect:  expect("CLI-UTF8-1", `reply is not valid UTF-8`),
			Summary: "fails with ERROR_CLASS_OTHER on a reply that is not valid UTF-8",
			Client:  &ClientFaults{StrictUTF8: true}},
		{Name: "reply-as-shown", Kills: []string{"CLI-UTF8-1"},
			Expect:  expect("CLI-UTF8-1", `the client returned \d+ reply bytes "[^"]*(\x{FFFD}|\\ufffd)`),
			Summary: "returns the reply decoded (U+FFFD in place of invalid bytes) instead of its raw bytes",
			Client:  &ClientFaults{ReplyAsShown: true}},
		{Name: "go-decoding", Kills: []string{"CLI-UTF8-1"},
			Expect:  expect("CLI-UTF8-1", `the client showed the reply as "[^"]*\\ufffd\\ufffd`),
			Summary: "shows the reply with one U+FFFD per invalid byte (Go's rule) instead of per maximal subpart",
			Client:  &ClientFaults{GoDecoding: true}},

		// CLI-CLOSE-1: early close, reset and refusal are told apart.
		{Name: "empty-is-success", Kills: []string{"CLI-CLOSE-1"},
			Expect:  expect("CLI-CLOSE-1", `the client reported ERROR_CLASS_NONE`),
			Summary: "reports a close without any reply byte as success",
			Client:  &ClientFaults{EmptyIsSuccess: true}},
		{Name: "reset-as-eof", Kills: []string{"CLI-CLOSE-1"},
			Expect:  expect("CLI-CLOSE-1", `the client reported ERROR_CLASS_(NONE|CLOSED_EARLY)`),
			Summary: "takes a reset for the end of the reply",
			Client:  &ClientFaults{ResetAsEOF: true}},
		{Name: "reset-drops-reply", Kills: []string{"CLI-CLOSE-1"},
			Expect:  expect("CLI-CLOSE-1", `the client returned 0 reply bytes`),
			Summary: "reports a reset without the bytes received before it",
			Client:  &ClientFaults{ResetDropsReply: true}},
		{Name: "refused-as-other", Kills: []string{"CLI-CLOSE-1"},
			Expect:  expect("CLI-CLOSE-1", `ERROR_CLASS_OTHER`),
			Summary: "reports a refused connection as ERROR_CLASS_OTHER",
			Client:  &ClientFaults{RefusedAsOther: true}},

		// CLI-TIMEOUT-1: the client gives up at its timeout.
		{Name: "ignores-timeout", Kills: []string{"CLI-TIMEOUT-1"},
			Expect:  expect("CLI-TIMEOUT-1", `Timed out after .* must have returned`),
			Summary: "waits for the reply far beyond the timeout it was given",
			Client:  &ClientFaults{IgnoreTimeout: true}},
		{Name: "timeout-drops-reply", Kills: []string{"CLI-TIMEOUT-1"},
			Expect:  expect("CLI-TIMEOUT-1", `the client returned 0 reply bytes`),
			Summary: "reports a timeout without the bytes received before it",
			Client:  &ClientFaults{TimeoutDropsReply: true}},
	} {
		Register(f)
	}
}
