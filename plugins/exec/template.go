package execadapter

import (
	"fmt"
	"slices"
	"strings"
)

// template is a command template split into argv. Placeholders are
// substituted inside each element after splitting, so a substituted value
// (a name with spaces, quotes or `$(...)`) always stays one literal argument
// and no shell ever sees it.
type template struct {
	text string   // the template as the user wrote it, for messages
	argv []string // split, quotes removed, placeholders still in place
	uses map[string]bool
}

// parseTemplate splits text into argv and checks that every placeholder is
// one of allowed.
func parseTemplate(text string, allowed ...string) (*template, error) {
	argv, err := splitArgs(text)
	if err != nil {
		return nil, fmt.Errorf("command template %q: %w", text, err)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("command template is empty")
	}
	t := &template{text: text, argv: argv, uses: map[string]bool{}}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, arg := range argv {
		var bad []string
		_, err := expand(arg, func(name string) (string, bool) {
			if !ok[name] {
				bad = append(bad, name)
			}
			t.uses[name] = true
			return "", true
		})
		if err != nil {
			return nil, fmt.Errorf("command template %q: %w", text, err)
		}
		if len(bad) > 0 {
			known := slices.Sorted(slices.Values(allowed)) // a copy: allowed is the caller's (a package variable)
			return nil, fmt.Errorf("command template %q: unknown placeholder {%s} (known: {%s}; write {{ and }} for literal braces)",
				text, bad[0], strings.Join(known, "}, {"))
		}
	}
	return t, nil
}

// fill returns argv with the placeholders replaced by vals.
func (t *template) fill(vals map[string]string) []string {
	out := make([]string, len(t.argv))
	for i, arg := range t.argv {
		// parseTemplate has vetted every placeholder, so expand cannot fail.
		out[i], _ = expand(arg, func(name string) (string, bool) {
			v, ok := vals[name]
			return v, ok
		})
	}
	return out
}

// expand replaces each {name} in s by lookup(name). "{{" and "}}" stand for
// literal braces; a brace that does not open a placeholder of lower-case
// letters and underscores is kept as it is, so templates such as
// `awk '{print}'` need no escaping unless they look like a placeholder.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			sb.WriteByte('{')
			i += 2
		case strings.HasPrefix(s[i:], "}}"):
			sb.WriteByte('}')
			i += 2
		case s[i] == '{':
			j := i + 1
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] == '_') {
				j++
			}
			if j == i+1 || j == len(s) || s[j] != '}' {
				sb.WriteByte('{')
				i++
				continue
			}
			v, ok := lookup(s[i+1 : j])
			if !ok {
				return "", fmt.Errorf("unknown placeholder {%s}", s[i+1:j])
			}
			sb.WriteString(v)
			i = j + 1
		default:
			sb.WriteByte(s[i])
			i++
		}
	}
	return sb.String(), nil
}

// splitArgs splits s into words the way a POSIX shell would for a simple
// command, without any expansion: whitespace separates words; 'single
// quotes' keep everything literally; "double quotes" keep everything but let
// a backslash escape ", \, $ and `; outside quotes a backslash makes the next
// character literal. Nothing else ($, `, *, ;, |) is special.
func splitArgs(s string) ([]string, error) {
	var (
		args   []string
		cur    strings.Builder
		inWord bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
		case c == '\\':
			inWord = true
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}
