// Command tally prints the CI summary line "N passed, N failed" for a test
// run: Ginkgo specs from the merged JSON report, plain Go tests from the
// top-level "--- PASS"/"--- FAIL" lines of the log. It exits 1 when nothing
// was tested, so an empty run can never look green.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type suite struct {
	SuitePath      string
	SuiteSucceeded bool
	SpecReports    []struct {
		State        string
		LeafNodeType string
	}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tally REPORT.json OUTPUT.log")
		os.Exit(2)
	}
	passed, failed := 0, 0
	if data, err := os.ReadFile(os.Args[1]); err == nil {
		var suites []suite
		if err := json.Unmarshal(data, &suites); err != nil {
			fmt.Fprintln(os.Stderr, "tally:", err)
			os.Exit(2)
		}
		for _, s := range suites {
			suiteFailed := 0
			for _, r := range s.SpecReports {
				if r.LeafNodeType != "It" {
					if r.State != "passed" && r.State != "skipped" && r.State != "pending" {
						suiteFailed++ // a failed setup or report node
					}
					continue
				}
				switch r.State {
				case "passed":
					passed++
				case "skipped", "pending":
				default:
					suiteFailed++
				}
			}
			if !s.SuiteSucceeded && suiteFailed == 0 {
				suiteFailed = 1 // the suite failed without a failed spec
			}
			failed += suiteFailed
		}
	}
	f, err := os.Open(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tally:", err)
		os.Exit(2)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "--- PASS: "):
			passed++
		case strings.HasPrefix(line, "--- FAIL: "):
			failed++
		}
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if passed+failed == 0 || failed > 0 {
		os.Exit(1)
	}
}
