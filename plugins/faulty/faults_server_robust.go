package faulty

// Faults against the server requirements on UTF-8, closure and robustness
// (SRV-UTF8-*, SRV-CLOSE-*, SRV-IDLE-1, SRV-CONC-*, SRV-LOG-2). A fault that
// kills more than one requirement does so because the violation is one
// mistake that several requirements describe; its summary says why.
func init() {
	for _, f := range []Fault{
		{Name: "trims-name", Kills: []string{"SRV-UTF8-1"},
			Summary: "strips leading and trailing spaces from the decoded name",
			Server:  &ServerFaults{TrimName: true}},
		{Name: "latin1-decoding", Kills: []string{"SRV-UTF8-1", "SRV-UTF8-3", "SRV-UTF8-4", "SRV-LOG-1"},
			Summary: "decodes the name as ISO-8859-1, so every non-ASCII byte, valid or not, becomes the wrong character, in the event and in the log line",
			Server:  &ServerFaults{Latin1Decoding: true}},
		{Name: "dies-on-invalid-utf8", Kills: []string{"SRV-UTF8-2", "SRV-UTF8-3", "SRV-UTF8-4", "SRV-GREET-1"},
			Summary: "stops the whole server without greeting or decoding when a name is not valid UTF-8 (the tutorial's strict decode), so such a name is never greeted; a cut character is invalid UTF-8 too",
			Server:  &ServerFaults{DieOnInvalidUTF8: true}},
		{Name: "stops-after-invalid-utf8", Kills: []string{"SRV-UTF8-2"},
			Summary: "greets a client whose name is not valid UTF-8, then stops accepting",
			Server:  &ServerFaults{StopAfterInvalidUTF8: true}},
		{Name: "go-name-decoding", Kills: []string{"SRV-UTF8-3", "SRV-UTF8-4"},
			Summary: "decodes with Go's one U+FFFD per byte, so a truncated sequence, including a character cut at byte 1024, gives several U+FFFD",
			Server:  &ServerFaults{GoDecoding: true}},
		{Name: "collapses-invalid-runs", Kills: []string{"SRV-UTF8-3"},
			Summary: "replaces each run of invalid bytes with a single U+FFFD",
			Server:  &ServerFaults{CollapseInvalidRuns: true}},
		{Name: "completes-cut-char", Kills: []string{"SRV-UTF8-4"},
			Summary: "reads up to three bytes past the limit to complete a character cut at byte 1024",
			Server:  &ServerFaults{CompleteCutChar: true}},
		{Name: "abrupt-close", Kills: []string{"SRV-CLOSE-1"},
			Summary: "closes right after the greeting without half-closing and draining, so unread input turns the close into a reset",
			Server:  &ServerFaults{AbruptClose: true}},
		{Name: "dies-on-client-close", Kills: []string{"SRV-CLOSE-2"},
			Summary: "stops accepting when a client resets the connection",
			Server:  &ServerFaults{DieOnClientClose: true}},
		{Name: "never-closes-idle", Kills: []string{"SRV-IDLE-1"},
			Summary: "waits without end on a connection on which no byte arrives",
			Server:  &ServerFaults{NoIdleClose: true}},
		{Name: "greets-idle", Kills: []string{"SRV-IDLE-1"},
			Summary: "greets a connection on which no byte arrived for T",
			Server:  &ServerFaults{GreetIdle: true}},
		{Name: "sequential", Kills: []string{"SRV-CONC-1"},
			Summary: "serves one connection at a time, like the tutorial, so an idle client delays everyone",
			Server:  &ServerFaults{Sequential: true}},
		{Name: "max-8-concurrent", Kills: []string{"SRV-CONC-2"},
			Summary: "drops connections beyond 8 at once without a greeting",
			Server:  &ServerFaults{MaxConcurrent: 8}},
		{Name: "raw-log", Kills: []string{"SRV-LOG-2"},
			Summary: "logs the name without escaping its control characters",
			Server:  &ServerFaults{RawLog: true}},
		{Name: "ascii-only-log", Kills: []string{"SRV-LOG-2", "SRV-LOG-1"},
			Summary: "escapes every non-ASCII character of the name in the log line, letters included (so the line no longer carries the name, which SRV-LOG-1 asks for too)",
			Server:  &ServerFaults{LogASCIIOnly: true}},
		{Name: "log-escapes-nonprintable", Kills: []string{"SRV-LOG-2", "SRV-LOG-1"},
			Summary: `also escapes every character that is not a control character but not "printable" either (U+00A0 as \xa0, U+200B as \x0b), ` +
				"so such a name is not logged as it is (and the line no longer ends with the name, which SRV-LOG-1 asks for too)",
			Server: &ServerFaults{LogEscapeNonPrintable: true}},
		{Name: "log-raw-separators", Kills: []string{"SRV-LOG-2"},
			Summary: "escapes control characters but logs U+2028 and U+2029 raw, so a line separator forges a log line",
			Server:  &ServerFaults{LogRawSeparators: true}},
	} {
		Register(f)
	}
}
