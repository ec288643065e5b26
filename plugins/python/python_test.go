package python_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/testsupport"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// python is Debian's interpreter, the one that has python3-grpcio and
// friends; the first python3 on PATH may lack them.
const python = "/usr/bin/python3"

// TestMain fails the package if a test leaves goroutines behind (go-plugin
// clients, fake servers, event streams).
func TestMain(m *testing.M) { testsupport.Main(m) }

// running is the launched plugin with both roles dispensed.
type running struct {
	client  *plugin.Client
	server  contract.GreetServerClient
	greet   contract.GreetClientClient
	pid     int
	stderr  *testsupport.SyncBuffer // the plugin's raw stderr
	hostLog *testsupport.SyncBuffer // go-plugin's own log
}

func requirePython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import grpc, google.protobuf, cryptography").CombinedOutput()
	if err != nil {
		t.Skipf("%s lacks grpc/protobuf/cryptography (Debian: python3-grpcio python3-protobuf python3-cryptography): %v\n%s", python, err, out)
	}
}

// launch starts greet_plugin.py through go-plugin with AutoMTLS, as a
// greetspec host does, and kills it when the test ends.
func launch(t *testing.T) *running {
	t.Helper()
	requirePython(t)
	r := &running{stderr: &testsupport.SyncBuffer{}, hostLog: &testsupport.SyncBuffer{}}
	r.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  contract.Handshake,
		Plugins:          contract.HostPlugins(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Cmd:              exec.Command(python, "greet_plugin.py"),
		StartTimeout:     20 * time.Second,
		Stderr:           r.stderr,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "host", Output: r.hostLog, Level: hclog.Debug,
		}),
	})
	t.Cleanup(r.client.Kill)
	rpc, err := r.client.Client()
	if err != nil {
		t.Fatalf("launch: %v\nplugin stderr:\n%s\nhost log:\n%s", err, r.stderr, r.hostLog)
	}
	r.pid = r.client.ReattachConfig().Pid
	raw, err := rpc.Dispense(contract.ServerPluginName)
	if err != nil {
		t.Fatalf("dispense server: %v", err)
	}
	r.server = raw.(contract.GreetServerClient)
	raw, err = rpc.Dispense(contract.ClientPluginName)
	if err != nil {
		t.Fatalf("dispense client: %v", err)
	}
	r.greet = raw.(contract.GreetClientClient)
	return r
}

// start starts the plugin's server on a kernel-chosen port with idle timeout
// idle and stops it when the test ends.
func (r *running) start(t *testing.T, idle time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := r.server.Start(ctx, &contract.StartRequest{
		ListenAddress: "127.0.0.1:0", IdleTimeoutMs: uint32(idle / time.Millisecond),
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, _ = r.server.Stop(ctx, &contract.StopRequest{})
	})
	return resp.Address
}

// exchange dials addr, writes each piece (pausing between them), optionally
// half-closes, and reads until the server ends the connection or timeout.
func exchange(t *testing.T, addr string, pieces [][]byte, pause time.Duration, halfClose bool, timeout time.Duration) (reply []byte, readErr error, local string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	for i, p := range pieces {
		if i > 0 {
			time.Sleep(pause) // the pause between pieces is the behaviour under test
		}
		if _, err := conn.Write(p); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if halfClose {
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatalf("half-close: %v", err)
		}
	}
	reply, readErr = io.ReadAll(conn)
	return reply, readErr, conn.LocalAddr().String()
}

// collect reads n events from a stream opened earlier.
func collect(t *testing.T, stream contract.GreetServer_EventsClient, n int) []*contract.ConnectionEvent {
	t.Helper()
	var evs []*contract.ConnectionEvent
	for len(evs) < n {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("Events after %d of %d events: %v", len(evs), n, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestServeGreetAndKill(t *testing.T) {
	r := launch(t)
	addr := r.start(t, 2*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := r.server.Events(ctx, &contract.EventsRequest{})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}

	// The plugin's own client greets the plugin's own server.
	const pyName = "Zoë 😀 from python"
	resp, err := r.greet.Greet(ctx, &contract.GreetRequest{Address: addr, Name: pyName, TimeoutMs: 5000})
	if err != nil {
		t.Fatalf("Greet: %v", err)
	}
	if resp.ErrorClass != contract.ErrorClass_ERROR_CLASS_NONE || string(resp.Reply) != contract.Greeting || resp.Shown != contract.Greeting {
		t.Fatalf("Greet = %v, want the greeting and no error", resp)
	}

	// A raw Go client: the bytes on the wire are exactly the greeting, then FIN.
	const goName = "go\nclient"
	reply, readErr, local := exchange(t, addr, [][]byte{[]byte(goName)}, 0, true, 5*time.Second)
	if readErr != nil || string(reply) != contract.Greeting {
		t.Fatalf("raw client got %q, %v; want %q then EOF", reply, readErr, contract.Greeting)
	}

	evs := collect(t, stream, 2)
	byName := map[string]*contract.ConnectionEvent{}
	for _, ev := range evs {
		byName[ev.Name] = ev
	}
	for _, name := range []string{pyName, goName} {
		ev := byName[name]
		if ev == nil {
			t.Fatalf("no event for %q in %v", name, evs)
		}
		wantLog := "connected with: " + ev.RemoteAddress + " " + contract.EscapeLogName(name)
		if string(ev.NameRaw) != name || string(ev.Reply) != contract.Greeting || ev.LogLine != wantLog ||
			ev.NameEnd != contract.NameEnd_NAME_END_EOF || ev.Error != "" {
			t.Errorf("event = %v; want name %q, the greeting, log line %q, end EOF", ev, name, wantLog)
		}
	}
	if got := byName[goName].RemoteAddress; got != local {
		t.Errorf("remote address %q, want the Go client's %q", got, local)
	}
	if strings.Contains(byName[goName].LogLine, "\n") {
		t.Errorf("log line %q is not one line", byName[goName].LogLine)
	}

	// Stop ends the Events stream.
	if _, err := r.server.Stop(ctx, &contract.StopRequest{}); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if ev, err := stream.Recv(); err != io.EOF {
		t.Fatalf("Events after Stop = %v, %v; want end of stream", ev, err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("listener %s still accepts after Stop", addr)
	}

	// Kill goes through the controller's Shutdown: the process exits on its
	// own (no forced kill) and is gone afterwards.
	r.client.Kill()
	if !r.client.Exited() {
		t.Errorf("plugin not exited after Kill")
	}
	if err := syscall.Kill(r.pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("plugin pid %d still exists after Kill: %v", r.pid, err)
	}
	if log := r.hostLog.String(); strings.Contains(log, "failed to exit gracefully") {
		t.Errorf("plugin had to be force-killed:\n%s", log)
	}
	// Kill waits for the stderr reader, so the log is complete now.
	if wantLine := `"@message": "` + "connected with: " + byName[pyName].RemoteAddress + " " + pyName + `"`; !strings.Contains(r.stderr.String(), wantLine) {
		t.Errorf("plugin stderr lacks %s:\n%s", wantLine, r.stderr)
	}
}

func TestServerNameRules(t *testing.T) {
	r := launch(t)
	const idle = 700 * time.Millisecond
	addr := r.start(t, idle)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.server.Start(ctx, &contract.StartRequest{ListenAddress: "127.0.0.1:0"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("second Start = %v, want FailedPrecondition", err)
	}
	stream, err := r.server.Events(ctx, &contract.EventsRequest{})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}

	long := bytes.Repeat([]byte("a"), 1022)
	long = append(long, []byte("😀tail")...) // 4-byte character cut at the limit
	cases := []struct {
		what      string
		pieces    [][]byte
		halfClose bool
		wantName  string
		wantEnd   contract.NameEnd
		greeted   bool
	}{
		{"pieces with pauses shorter than T (SRV-NAME-1)", [][]byte{[]byte("As"), []byte("if")}, true, "Asif", contract.NameEnd_NAME_END_EOF, true},
		{"empty name (SRV-NAME-2)", nil, true, "", contract.NameEnd_NAME_END_EOF, true},
		{"silent without closing (SRV-NAME-3)", [][]byte{[]byte("quiet")}, false, "quiet", contract.NameEnd_NAME_END_IDLE, true},
		{"limit ends the name at once, cut character (SRV-LIMIT-2, SRV-UTF8-4)", [][]byte{long}, false, strings.Repeat("a", 1022) + "\uFFFD", contract.NameEnd_NAME_END_LIMIT, true},
		{"invalid UTF-8 (SRV-UTF8-3)", [][]byte{{0xC0, 0xAF, 'x', 0xF4, 0x90, 0x80, 0x80}}, true, "\uFFFD\uFFFDx\uFFFD\uFFFD\uFFFD\uFFFD", contract.NameEnd_NAME_END_EOF, true},
		{"no byte at all (SRV-IDLE-1)", nil, false, "", contract.NameEnd_NAME_END_IDLE, false},
	}
	for _, c := range cases {
		begin := time.Now()
		reply, readErr, local := exchange(t, addr, c.pieces, idle/4, c.halfClose, 5*time.Second)
		took := time.Since(begin)
		want := ""
		if c.greeted {
			want = contract.Greeting
		}
		if readErr != nil || string(reply) != want {
			t.Errorf("%s: got %q, %v; want %q then EOF", c.what, reply, readErr, want)
		}
		if c.wantEnd == contract.NameEnd_NAME_END_LIMIT && took > idle {
			t.Errorf("%s: took %v, the limit must end the name without waiting T=%v", c.what, took, idle)
		}
		ev := collect(t, stream, 1)[0]
		if ev.RemoteAddress != local || ev.Name != c.wantName || ev.NameEnd != c.wantEnd || string(ev.Reply) != want {
			t.Errorf("%s: event %v; want name %q, end %v, reply %q from %s", c.what, ev, c.wantName, c.wantEnd, want, local)
		}
		if !c.greeted && ev.LogLine != "" {
			t.Errorf("%s: logged %q for a connection without a name", c.what, ev.LogLine)
		}
	}

	// SRV-CONC-1: an idle client does not delay another client's greeting.
	idler, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer idler.Close()
	begin := time.Now()
	if reply, readErr, _ := exchange(t, addr, [][]byte{[]byte("second")}, 0, true, 5*time.Second); readErr != nil || string(reply) != contract.Greeting {
		t.Errorf("second client beside an idle one got %q, %v", reply, readErr)
	}
	if took := time.Since(begin); took > idle/2 {
		t.Errorf("second client beside an idle one took %v", took)
	}
}

func TestServerOversizedInputClosesOrderly(t *testing.T) {
	r := launch(t)
	addr := r.start(t, 500*time.Millisecond)
	// SRV-CLOSE-1: 64 KiB, never half-closed: the greeting arrives whole and
	// the end is a FIN, not a reset.
	reply, readErr, _ := exchange(t, addr, [][]byte{bytes.Repeat([]byte("b"), 64<<10)}, 0, false, 5*time.Second)
	if readErr != nil || string(reply) != contract.Greeting {
		t.Fatalf("got %q, %v; want the greeting then EOF", reply, readErr)
	}
}

// fakeServer accepts one connection and hands it to behave.
func fakeServer(t *testing.T, behave func(net.Conn)) string {
	return fakeServerHolding(t, func(c net.Conn, _ <-chan struct{}) { behave(c) })
}

// fakeServerHolding is fakeServer whose behaviour may keep the connection
// open until hold is closed at the end of the test.
func fakeServerHolding(t *testing.T, behave func(c net.Conn, hold <-chan struct{})) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done, hold := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		behave(c, hold)
	}()
	t.Cleanup(func() { close(hold); l.Close(); <-done })
	return l.Addr().String()
}

// readName reads what the client sends up to its half-close.
func readName(c net.Conn) []byte {
	b, _ := io.ReadAll(c)
	return b
}

func TestClientRules(t *testing.T) {
	r := launch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		a := l.Addr().String()
		l.Close()
		return a
	}()
	long := strings.Repeat("é", 512) // exactly 1024 bytes
	var gotName []byte
	cases := []struct {
		what      string
		addr      string
		name      string
		timeout   uint32
		wantClass contract.ErrorClass
		wantReply string
		wantShown string
	}{
		{"exact bytes and half-close (CLI-SEND-1/2, CLI-LIMIT-1)", fakeServer(t, func(c net.Conn) {
			gotName = readName(c)
			_, _ = c.Write([]byte(contract.Greeting))
		}), long, 0, contract.ErrorClass_ERROR_CLASS_NONE, contract.Greeting, contract.Greeting},
		{"too long (CLI-LIMIT-1)", refused, long + "a", 0, contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG, "", ""},
		{"reply in pieces (CLI-REPLY-1)", fakeServer(t, func(c net.Conn) {
			readName(c)
			_, _ = c.Write([]byte("welcome "))
			time.Sleep(50 * time.Millisecond) // a second segment, on purpose
			_, _ = c.Write([]byte("to Asif server"))
		}), "x", 0, contract.ErrorClass_ERROR_CLASS_NONE, contract.Greeting, contract.Greeting},
		{"long reply (CLI-REPLY-2)", fakeServerHolding(t, func(c net.Conn, hold <-chan struct{}) {
			readName(c)
			_, _ = c.Write(bytes.Repeat([]byte("r"), 3000))
			<-hold // stay open: only the 1024-byte limit may end the read
		}), "x", 5000, contract.ErrorClass_ERROR_CLASS_NONE, strings.Repeat("r", 1024), strings.Repeat("r", 1024)},
		{"invalid UTF-8 reply (CLI-UTF8-1)", fakeServer(t, func(c net.Conn) {
			readName(c)
			_, _ = c.Write([]byte{'o', 'k', 0xE2, 0x82, 0xFF})
		}), "x", 0, contract.ErrorClass_ERROR_CLASS_NONE, "ok\xE2\x82\xFF", "ok\uFFFD\uFFFD"},
		{"closed early (CLI-CLOSE-1)", fakeServer(t, func(c net.Conn) { readName(c) }), "x", 0, contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY, "", ""},
		{"reset (CLI-CLOSE-1)", fakeServer(t, func(c net.Conn) {
			readName(c)
			_, _ = c.Write([]byte("wel"))
			time.Sleep(50 * time.Millisecond) // let "wel" arrive before the RST
			_ = c.(*net.TCPConn).SetLinger(0)
		}), "x", 0, contract.ErrorClass_ERROR_CLASS_RESET, "wel", "wel"},
		{"refused (CLI-CLOSE-1)", refused, "x", 0, contract.ErrorClass_ERROR_CLASS_REFUSED, "", ""},
		{"never answers (CLI-TIMEOUT-1)", fakeServerHolding(t, func(c net.Conn, hold <-chan struct{}) {
			readName(c)
			_, _ = c.Write([]byte("wel"))
			<-hold // never finish the reply
		}), "x", 300, contract.ErrorClass_ERROR_CLASS_TIMEOUT, "wel", "wel"},
	}
	for _, c := range cases {
		begin := time.Now()
		resp, err := r.greet.Greet(ctx, &contract.GreetRequest{Address: c.addr, Name: c.name, TimeoutMs: c.timeout})
		if err != nil {
			t.Fatalf("%s: Greet RPC: %v", c.what, err)
		}
		if resp.ErrorClass != c.wantClass || string(resp.Reply) != c.wantReply || resp.Shown != c.wantShown {
			t.Errorf("%s: got %v; want class %v, reply %q, shown %q", c.what, resp, c.wantClass, c.wantReply, c.wantShown)
		}
		if c.timeout != 0 && time.Since(begin) > time.Duration(c.timeout)*time.Millisecond+time.Second {
			t.Errorf("%s: took %v with a timeout of %dms", c.what, time.Since(begin), c.timeout)
		}
	}
	if string(gotName) != long {
		t.Errorf("server received %d bytes %q..., want the 1024-byte name", len(gotName), gotName[:min(len(gotName), 16)])
	}
}
