package execadapter

import (
	"testing"

	"github.com/greetspec/greetspec/core/contract"
)

// classifyCases are failure outputs of ordinary clients in Python, Go, C
// and shell, with the class each must get. They also seed FuzzClassify.
var classifyCases = []struct {
	name string
	text string
	want contract.ErrorClass
}{
	{"python refused", `Traceback (most recent call last):
  File "/srv/client.py", line 14, in <module>
    s = socket.create_connection((host, port), timeout=timeout)
        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/socket.py", line 851, in create_connection
    raise exceptions[0]
ConnectionRefusedError: [Errno 111] Connection refused`, contract.ErrorClass_ERROR_CLASS_REFUSED},
	{"python reset", `Traceback (most recent call last):
  File "client.py", line 20, in <module>
    data = s.recv(1024)  # until closed, or timeout
           ^^^^^^^^^^^^
ConnectionResetError: [Errno 104] Connection reset by peer`, contract.ErrorClass_ERROR_CLASS_RESET},
	{"python socket.timeout", `Traceback (most recent call last):
  File "client.py", line 20, in <module>
    data = s.recv(1024)
socket.timeout: timed out`, contract.ErrorClass_ERROR_CLASS_TIMEOUT},
	{"python TimeoutError", `Traceback (most recent call last):
  File "client.py", line 20, in <module>
    data = s.recv(1024)
TimeoutError: timed out`, contract.ErrorClass_ERROR_CLASS_TIMEOUT},
	{"python source line mentions reset", `Traceback (most recent call last):
  File "client.py", line 9, in <module>
    reset_counter(); conn.settimeout(t)
TimeoutError: timed out`, contract.ErrorClass_ERROR_CLASS_TIMEOUT},
	{"python ValueError too long", `Traceback (most recent call last):
  File "client.py", line 9, in <module>
    raise ValueError("name is longer than 1024 bytes")
ValueError: name is longer than 1024 bytes`, contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG},
	{"python EOF", "EOFError: EOF when reading a line", contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY},
	{"go refused", "dial tcp 127.0.0.1:4000: connect: connection refused", contract.ErrorClass_ERROR_CLASS_REFUSED},
	{"go reset", "read tcp 127.0.0.1:50000->127.0.0.1:4000: read: connection reset by peer", contract.ErrorClass_ERROR_CLASS_RESET},
	{"go i/o timeout", "read tcp 127.0.0.1:50000->127.0.0.1:4000: i/o timeout", contract.ErrorClass_ERROR_CLASS_TIMEOUT},
	{"go EOF", "client: unexpected EOF", contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY},
	{"go panic frames", "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/home/u/reset/closed.go:12 +0x1d\nexit status 2", contract.ErrorClass_ERROR_CLASS_OTHER},
	{"go log.Fatal", "2026/01/02 15:04:05 name exceeds 1024 bytes", contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG},
	{"c perror refused", "connect: Connection refused", contract.ErrorClass_ERROR_CLASS_REFUSED},
	{"c perror reset", "recv: Connection reset by peer", contract.ErrorClass_ERROR_CLASS_RESET},
	{"c perror timed out", "recv: Connection timed out", contract.ErrorClass_ERROR_CLASS_TIMEOUT},
	{"c EAGAIN after SO_RCVTIMEO", "recv: Resource temporarily unavailable", contract.ErrorClass_ERROR_CLASS_TIMEOUT},
	{"c name too long", "client: name too long (1025 bytes)", contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG},
	{"shell nc refused", "nc: connect to 127.0.0.1 port 4000 (tcp) failed: Connection refused", contract.ErrorClass_ERROR_CLASS_REFUSED},
	{"shell bash /dev/tcp refused", "client.sh: connect: Connection refused\nclient.sh: line 3: /dev/tcp/127.0.0.1/4000: Connection refused", contract.ErrorClass_ERROR_CLASS_REFUSED},
	{"no reply", "error: server closed the connection without a reply", contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY},
	{"empty reply", "curl: (52) Empty reply from server", contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY},
	{"too long beats refused", "name too large; connection refused anyway", contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG},
	{"refused beats reset", "Connection refused (after reset)", contract.ErrorClass_ERROR_CLASS_REFUSED},
	{"reset beats timeout", "timeout waiting; connection reset", contract.ErrorClass_ERROR_CLASS_RESET},
	{"timeout beats closed", "closed: timed out", contract.ErrorClass_ERROR_CLASS_TIMEOUT},
	{"nothing known", "Segmentation fault", contract.ErrorClass_ERROR_CLASS_OTHER},
	{"empty", "", contract.ErrorClass_ERROR_CLASS_OTHER},
}

func TestClassifyWords(t *testing.T) {
	t.Parallel()
	for _, tt := range classifyCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyWords(tt.text); got != tt.want {
				t.Errorf("classifyWords(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}
