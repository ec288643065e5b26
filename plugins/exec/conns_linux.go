package execadapter

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// openConns counts the TCP connections on local port port that a program
// still holds open (states ESTABLISHED, SYN_RECV and CLOSE_WAIT in
// /proc/net/tcp and /proc/net/tcp6, accepted or still queued), and reports
// whether they could be counted. Connections the program has closed
// (FIN_WAIT, TIME_WAIT, LAST_ACK) and the listener are not counted.
func openConns(port string) (int, bool) {
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0, false
	}
	suffix := ":" + strings.ToUpper(strconv.FormatUint(p, 16))
	for len(suffix) < 5 {
		suffix = ":0" + suffix[1:]
	}
	n, read := 0, false
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		read = true
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || !strings.HasSuffix(fields[1], suffix) {
				continue
			}
			switch fields[3] {
			case "01", "03", "08": // ESTABLISHED, SYN_RECV, CLOSE_WAIT
				n++
			}
		}
		_ = f.Close()
	}
	return n, read
}
