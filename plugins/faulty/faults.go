package faulty

// The catalogue of faults: one or more per requirement of PROTOCOL.md.
// Keep each entry to one violation; the self-test checks that every
// requirement is killed and that nothing else breaks.
func init() {
	for _, f := range []Fault{
		{Name: "greeting-capitalised", Kills: []string{"SRV-GREET-1"}, Summary: "replies \"Welcome to Asif server\"",
			Server: &ServerFaults{Greeting: []byte("Welcome to Asif server")}},
		{Name: "greeting-newline", Kills: []string{"SRV-GREET-1"}, Summary: "appends a line ending to the greeting",
			Server: &ServerFaults{Greeting: []byte("welcome to Asif server\n")}},
		{Name: "never-closes", Kills: []string{"SRV-GREET-3"}, Summary: "keeps the connection open after the greeting",
			Server: &ServerFaults{NoClose: true}},
		{Name: "no-half-close", Kills: []string{"CLI-SEND-2"}, Summary: "never half-closes after the name",
			Client: &ClientFaults{NoHalfClose: true}},
	} {
		Register(f)
	}
}
