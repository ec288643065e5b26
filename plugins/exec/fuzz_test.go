package execadapter

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/greetspec/greetspec/core/contract"
)

// seedStrings returns every JSON string in the fixtures and the text of
// the helper programs in testdata, as fuzz seeds: names, replies, pieces
// and real program text.
func seedStrings(t interface{ Fatal(...any) }) []string {
	var seeds []string
	files, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "*.json"))
	if len(files) == 0 {
		t.Fatal("no fixtures found for the fuzz seeds")
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			seeds = append(seeds, v)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(f, err)
		}
		walk(v)
	}
	progs, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, f := range progs {
		if b, err := os.ReadFile(f); err == nil {
			seeds = append(seeds, string(b))
		}
	}
	return seeds
}

// shellQuote quotes s for splitArgs as a POSIX shell would.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{
		"python3 server.py {host} {port}", `prog --addr={addr} "{name}" '{name_file}' {timeout_ms}`,
		`awk '{print}' {{port}} {port`, `a\ b "c\"d" 'e''f'`, "x {unknown}", "'unterminated", `"also`, `trail\`,
		"sh -c 'exec \"$0\" \"$@\"' prog {port}", "", "  \t\n",
	} {
		f.Add(s)
	}
	for _, s := range seedStrings(f) {
		f.Add(s)
	}
	allowed := append(append([]string{}, clientPlaceholders...), "idle_timeout_ms")
	f.Fuzz(func(t *testing.T, text string) {
		argv, err := splitArgs(text)
		if err == nil {
			// Quoting the words and splitting again gives the same words.
			quoted := make([]string, len(argv))
			for i, a := range argv {
				quoted[i] = shellQuote(a)
			}
			again, err := splitArgs(strings.Join(quoted, " "))
			if err != nil || strings.Join(again, "\x00") != strings.Join(argv, "\x00") || len(again) != len(argv) {
				t.Fatalf("split %q = %q; re-split of the quoted words = %q, %v", text, argv, again, err)
			}
		}
		tmpl, err := parseTemplate(text, allowed...)
		if err != nil {
			return
		}
		// Substituted values are never expanded again, whatever they hold.
		vals := map[string]string{}
		for _, p := range allowed {
			vals[p] = "{" + p + "}{{$(x)"
		}
		out := tmpl.fill(vals)
		if len(out) != len(tmpl.argv) || len(out) == 0 {
			t.Fatalf("fill(%q) = %q", text, out)
		}
		for p := range tmpl.uses {
			if !strings.Contains(strings.Join(out, " "), vals[p]) {
				t.Fatalf("template %q uses {%s} but the filled argv %q lacks its value", text, p, out)
			}
		}
	})
}

func FuzzFindReply(f *testing.F) {
	for _, s := range []string{
		"Enter the name: welcome to Asif server\n", "welcome\r\n", "Name:\nhi\n\n", "Enter your name:", "\n", "",
		"Enter the name: Enter the name: x", "reply=a\nreply=b\n",
	} {
		f.Add([]byte(s), false)
	}
	for _, s := range seedStrings(f) {
		f.Add([]byte(s), false)
		f.Add([]byte("Enter the name: "+s+"\n"), true)
	}
	pattern := regexp.MustCompile(`reply=(?P<reply>[^\n]*)`)
	f.Fuzz(func(t *testing.T, out []byte, truncated bool) {
		reply, found := defaultReply(out, truncated)
		if found != (len(reply) > 0) {
			t.Fatalf("defaultReply(%q) = %q, found %v", out, reply, found)
		}
		// out = the prompt (if any) + reply + at most one line ending.
		p := 0
		if loc := promptPrefix.FindIndex(out); loc != nil {
			p = loc[1]
		}
		if !bytes.HasPrefix(out[p:], reply) {
			t.Fatalf("defaultReply(%q) = %q, not what follows the prompt", out, reply)
		}
		switch end := string(out[p+len(reply):]); {
		case end == "" && !truncated && bytes.HasSuffix(reply, []byte("\n")):
			t.Fatalf("defaultReply(%q) kept the line ending", out)
		case end != "" && (truncated || end != "\n" && end != "\r\n"):
			t.Fatalf("defaultReply(%q, truncated %v) dropped %q", out, truncated, end)
		}
		// A reply pattern finds the same thing in the head or the tail.
		c := &Client{reply: pattern}
		got, ok := c.findReply(out, out, truncated)
		want, wantOK := matchReply(pattern, out)
		if ok != wantOK || !bytes.Equal(got, want) {
			t.Fatalf("findReply with a pattern = %q, %v; want %q, %v", got, ok, want, wantOK)
		}
	})
}

func FuzzClassify(f *testing.F) {
	for _, c := range classifyCases {
		f.Add(c.text)
	}
	for _, s := range seedStrings(f) {
		f.Add(s)
	}
	known := map[contract.ErrorClass]bool{contract.ErrorClass_ERROR_CLASS_OTHER: true}
	for _, o := range outcomeWords {
		known[o.class] = true
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := classifyWords(text)
		if !known[got] {
			t.Fatalf("classifyWords(%q) = %v, not a failure class", text, got)
		}
		// Case does not matter (ASCII letters swapped).
		swapped := strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z':
				return r - 'a' + 'A'
			case r >= 'A' && r <= 'Z':
				return r - 'A' + 'a'
			}
			return r
		}, text)
		if again := classifyWords(swapped); again != got {
			t.Fatalf("classifyWords(%q) = %v but %v with ASCII case swapped", text, got, again)
		}
		// The class is the first row with a word in what is read.
		lower := strings.ToLower(dropSourceLines(text))
		want := contract.ErrorClass_ERROR_CLASS_OTHER
	rows:
		for _, o := range outcomeWords {
			for _, w := range o.words {
				if strings.Contains(lower, w) {
					want = o.class
					break rows
				}
			}
		}
		if got != want {
			t.Fatalf("classifyWords(%q) = %v, want %v", text, got, want)
		}
		// Escaping program output leaves no control character.
		if e := escapeText(text); strings.ContainsFunc(e, func(r rune) bool {
			return r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0x2028 || r == 0x2029
		}) {
			t.Fatalf("escapeText(%q) = %q keeps a control character", text, e)
		}
	})
}
