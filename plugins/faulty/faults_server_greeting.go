package faulty

import "github.com/greetspec/greetspec/core/contract"

// Faults against the server's greeting, name, log line and limit
// requirements (PROTOCOL.md, sections Greeting and Limits). Where a fault
// inherently breaks more than one requirement, its Summary says why.
func init() {
	for _, f := range []Fault{
		{Name: "greeting-capitalised", Kills: []string{"SRV-GREET-1"},
			Expect:  expect("SRV-GREET-1", `22 bytes "Welcome to Asif server"`),
			Summary: `replies "Welcome to Asif server", the tutorial's prose instead of its code`,
			Server:  &ServerFaults{Greeting: []byte("Welcome to Asif server")}},
		{Name: "greeting-newline", Kills: []string{"SRV-GREET-1"},
			Expect:  expect("SRV-GREET-1", `23 bytes "welcome to Asif server\\n"`),
			Summary: "appends a line ending to the greeting",
			Server:  &ServerFaults{Greeting: []byte(contract.Greeting + "\n")}},
		{Name: "greets-on-connect", Kills: []string{"SRV-GREET-2"},
			Expect:  expect("SRV-GREET-2", `the server sent 22 bytes "welcome to Asif server" before the name had ended`),
			Summary: "sends the greeting as soon as the connection opens, before the name",
			Server:  &ServerFaults{GreetOnConnect: true}},
		{Name: "never-closes", Kills: []string{"SRV-GREET-3", "SRV-CLOSE-1"},
			Expect: expect("SRV-GREET-3", `the server sent 22 bytes "welcome to Asif server" and kept the connection open`, "SRV-CLOSE-1", `the server sent 22 bytes "welcome to Asif server" and kept the connection open`),
			Summary: "keeps the connection open after the greeting until the client ends its stream; " +
				"SRV-CLOSE-1 bounds the drain before the close by T, so it breaks that too",
			Server: &ServerFaults{NoClose: true}},
		{Name: "resets-after-greeting", Kills: []string{"SRV-GREET-3", "SRV-CLOSE-1"},
			Expect: expect("SRV-GREET-3", `the server sent 22 bytes "welcome to Asif server", then reset the connection`, "SRV-CLOSE-1", `(the server sent 22 bytes "welcome to Asif server", then reset the connection|reset the connection before)`),
			Summary: "resets every connection (SO_LINGER 0) right after the greeting instead of closing with FIN; " +
				"SRV-CLOSE-1 asks for the FIN after a long name too",
			Server: &ServerFaults{ResetAfterGreeting: true}},
		{Name: "single-read", Kills: []string{"SRV-NAME-1", "SRV-GREET-2"},
			Expect: expect("SRV-NAME-1", `the server replied \(22 bytes "welcome to Asif server"\) and closed the connection before the name had ended`, "SRV-GREET-2", `the server sent 22 bytes "welcome to Asif server" before the name had ended`),
			Summary: "takes one read as the whole name, like the tutorial; answering the first piece of a name " +
				"is also sending before the name has ended",
			Server: &ServerFaults{SingleRead: true}},
		{Name: "keeps-last-read", Kills: []string{"SRV-NAME-1"},
			Expect:  expect("SRV-NAME-1", `the server reported the name "`),
			Summary: "ends the name correctly but keeps only the bytes of its last read",
			Server:  &ServerFaults{KeepLastRead: true}},
		{Name: "empty-name-ignored", Kills: []string{"SRV-NAME-2"},
			Expect:  expect("SRV-NAME-2", `the server sent nothing, then closed the connection`),
			Summary: "closes without log line or greeting when the client ends its stream having sent nothing",
			Server:  &ServerFaults{IgnoreEOFWithoutBytes: true}},
		{Name: "no-greet-after-silence", Kills: []string{"SRV-NAME-3"},
			Expect:  expect("SRV-NAME-3", `the server sent nothing, then closed the connection`),
			Summary: "closes without a greeting when T passes after some bytes instead of taking them as the name",
			Server:  &ServerFaults{NoGreetOnIdle: true}},
		{Name: "log-missing", Kills: []string{"SRV-LOG-1", "SRV-NAME-2"},
			Expect:  expect("SRV-LOG-1", `log=""`, "SRV-NAME-2", `log=""`),
			Summary: "writes no log line; SRV-NAME-2 asks that the empty name be logged too",
			Server:  &ServerFaults{NoLog: true}},
		{Name: "log-wrong-prefix", Kills: []string{"SRV-LOG-1"},
			Expect:  expect("SRV-LOG-1", `log="connected from: `),
			Summary: `logs "connected from: <address> <name>"`,
			Server:  &ServerFaults{LogFormat: "connected from: %s %s"}},
		{Name: "log-host-only", Kills: []string{"SRV-LOG-1"},
			Expect:  expect("SRV-LOG-1", `address "127\.0\.0\.1" must name`),
			Summary: "logs the peer's IP address without its port",
			Server:  &ServerFaults{LogHostOnly: true}},
		{Name: "name-limit-1000", Kills: []string{"SRV-LIMIT-1", "SRV-UTF8-4"},
			Expect:  expect("SRV-LIMIT-1", `the server took a name of 1000 bytes`, "SRV-UTF8-4", `\(1000 bytes taken\)`),
			Summary: "ends the name after 1000 bytes instead of 1024; the characters SRV-UTF8-4 cuts at byte 1024 are then not cut",
			Server:  &ServerFaults{MaxName: 1000}},
		{Name: "name-limit-2048", Kills: []string{"SRV-LIMIT-1", "SRV-LIMIT-2", "SRV-UTF8-4"},
			Expect: expect("SRV-LIMIT-1", `the server took a name of (1025|2048) bytes`, "SRV-LIMIT-2", `the server sent nothing and kept the connection open`, "SRV-UTF8-4", `\((102[5-9]|10[3-9]\d|1[1-9]\d\d|20[0-4]\d) bytes taken\)`),
			Summary: "ends the name after 2048 bytes instead of 1024; it therefore also waits past the 1024th byte " +
				"and completes the characters SRV-UTF8-4 cuts there",
			Server: &ServerFaults{MaxName: 2048}},
		{Name: "waits-after-limit", Kills: []string{"SRV-LIMIT-2"},
			Expect:  expect("SRV-LIMIT-2", `the server sent nothing and kept the connection open`),
			Summary: "keeps reading after 1024 bytes until end of stream or T before ending the name",
			Server:  &ServerFaults{WaitAfterLimit: true}},
	} {
		Register(f)
	}
}
