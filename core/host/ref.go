package host

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/greetspec/greetspec/core/contract"
)

// BuiltinPrefix starts a reference to a plugin built into greetspec.
const BuiltinPrefix = "builtin:"

// ParseRef turns a plugin reference into a Spec. A reference is either
// "builtin:NAME", served by re-executing self (the running greetspec or test
// binary) with contract.BuiltinEnv set, or a command line: an executable
// (looked up in PATH if it has no slash) and its arguments, split on spaces
// with single or double quotes grouping words. No shell is involved.
func ParseRef(ref, self string) (Spec, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return Spec{}, fmt.Errorf("empty plugin reference")
	}
	if strings.HasPrefix(ref, AttachPrefix) {
		return parseAttachRef(ref)
	}
	if name, ok := strings.CutPrefix(ref, BuiltinPrefix); ok {
		if name == "" {
			return Spec{}, fmt.Errorf("plugin reference %q names no built-in plugin", ref)
		}
		return Spec{Name: ref, Path: self, Env: []string{contract.BuiltinEnv + "=" + name}, Builtin: true}, nil
	}
	words, err := SplitWords(ref)
	if err != nil {
		return Spec{}, fmt.Errorf("plugin reference %q: %w", ref, err)
	}
	path, err := exec.LookPath(words[0])
	if err != nil {
		return Spec{}, fmt.Errorf("plugin %q: %w", words[0], err)
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return Spec{}, fmt.Errorf("plugin %q is not an executable file", words[0])
	}
	return Spec{Name: ref, Path: path, Args: words[1:]}, nil
}

// SplitWords splits s into words on unquoted white space; single and double
// quotes group, a backslash escapes the next character outside single quotes.
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote or escape")
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("no command")
	}
	return words, nil
}
