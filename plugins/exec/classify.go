package execadapter

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/greetspec/greetspec/core/contract"
)

// outcomeWords are the well-known words that classify a failed client
// program by what it printed, in the order they are tried: the first class
// with a word in the text wins. Matching is case-insensitive. They fit what
// ordinary programs print: Python exceptions (ConnectionRefusedError,
// ConnectionResetError, socket.timeout, TimeoutError), Go's net errors
// ("connection refused", "connection reset by peer", "i/o timeout") and C's
// perror/strerror texts ("Connection refused", "Connection reset by peer",
// "Connection timed out", and "Resource temporarily unavailable", which is
// what recv(2) reports when SO_RCVTIMEO expires).
var outcomeWords = []struct {
	class contract.ErrorClass
	words []string
}{
	{contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG, []string{"too long", "too large", "exceeds", "longer than", "more than 1024"}},
	{contract.ErrorClass_ERROR_CLASS_REFUSED, []string{"refused"}},
	{contract.ErrorClass_ERROR_CLASS_RESET, []string{"reset"}},
	{contract.ErrorClass_ERROR_CLASS_TIMEOUT, []string{"timed out", "timeout", "temporarily unavailable"}},
	{contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY, []string{"closed", "no reply", "without a reply", "eof", "empty reply"}},
}

// classifyWords returns the class named by the first well-known word found
// in text (see outcomeWords), or ERROR_CLASS_OTHER. Lines that quote
// program source rather than say what happened (the indented source lines
// of a Python traceback, the tab-indented frames of a Go stack trace) are
// not read.
func classifyWords(text string) contract.ErrorClass {
	text = strings.ToLower(dropSourceLines(text))
	for _, o := range outcomeWords {
		for _, w := range o.words {
			if strings.Contains(text, w) {
				return o.class
			}
		}
	}
	return contract.ErrorClass_ERROR_CLASS_OTHER
}

// pyFrame matches the frame line of a Python traceback; the indented line
// after it quotes the program's source.
var pyFrame = regexp.MustCompile(`(?i)^\s+File ".*", line \d+`)

// dropSourceLines removes from text the lines that quote source code: the
// source lines after each Python traceback frame (`  File "x.py", line 3,
// in f` is followed by `    sock.settimeout(timeout)` and perhaps a line
// of ^^^ markers), the frame lines themselves (they name files), and Go
// stack frame lines, which start with a tab and name a source file.
func dropSourceLines(text string) string {
	lines := strings.Split(text, "\n")
	out := lines[:0]
	inFrame := false
	for _, l := range lines {
		if inFrame && (strings.HasPrefix(l, "    ") || strings.HasPrefix(l, "\t")) {
			continue // source line, or the ^^^ markers under it
		}
		inFrame = pyFrame.MatchString(l)
		if inFrame {
			continue
		}
		if strings.HasPrefix(l, "\t") && strings.Contains(strings.ToLower(l), ".go:") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// OutcomeClasses are the class names --client-outcome accepts, with the
// error class each stands for.
var OutcomeClasses = map[string]contract.ErrorClass{
	"name-too-long": contract.ErrorClass_ERROR_CLASS_NAME_TOO_LONG,
	"refused":       contract.ErrorClass_ERROR_CLASS_REFUSED,
	"reset":         contract.ErrorClass_ERROR_CLASS_RESET,
	"closed-early":  contract.ErrorClass_ERROR_CLASS_CLOSED_EARLY,
	"timeout":       contract.ErrorClass_ERROR_CLASS_TIMEOUT,
	"other":         contract.ErrorClass_ERROR_CLASS_OTHER,
}

// ParseClientOutcomes parses CLASS=EXITCODE mappings (as given to
// --client-outcome, or comma-separated in EnvClientOutcomes): a client
// program that exits with EXITCODE failed with CLASS, whatever it printed.
// CLASS is one of the keys of OutcomeClasses; EXITCODE is 1 to 255 (0 is
// success) and may appear only once. An empty list gives an empty map.
func ParseClientOutcomes(mappings []string) (map[int]contract.ErrorClass, error) {
	m := map[int]contract.ErrorClass{}
	for _, s := range mappings {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name, code, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--client-outcome %q: want CLASS=EXITCODE, such as refused=3", s)
		}
		class, known := OutcomeClasses[strings.ToLower(strings.TrimSpace(name))]
		if !known {
			return nil, fmt.Errorf("--client-outcome %q: unknown class %q (known: %s)", s, name, strings.Join(outcomeClassNames(), ", "))
		}
		n, err := strconv.Atoi(strings.TrimSpace(code))
		if err != nil || n < 1 || n > 255 {
			return nil, fmt.Errorf("--client-outcome %q: exit code %q is not a number from 1 to 255 (0 means success)", s, code)
		}
		if prev, dup := m[n]; dup && prev != class {
			return nil, fmt.Errorf("--client-outcome %q: exit code %d is already mapped to %s", s, n, className(prev))
		}
		m[n] = class
	}
	return m, nil
}

// SplitClientOutcomes splits the comma-separated form of EnvClientOutcomes.
func SplitClientOutcomes(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func outcomeClassNames() []string {
	names := make([]string, 0, len(OutcomeClasses))
	for n := range OutcomeClasses {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// className is the --client-outcome name of class.
func className(class contract.ErrorClass) string {
	for n, c := range OutcomeClasses {
		if c == class {
			return n
		}
	}
	return class.String()
}
