package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/greetspec/greetspec/specs/interop"
)

//go:embed matrix.html.tmpl
var matrixPage string

var matrixTmpl = template.Must(template.New("matrix").Funcs(template.FuncMap{
	"lower": func(o interop.Outcome) string { return strings.ToLower(string(o)) },
}).Parse(matrixPage))

// matrixRow is one server's row of cells, one per client.
type matrixRow struct {
	Server string
	Cells  []interop.Cell
}

// WriteMatrixHTML writes the interop matrix as one self-contained HTML page:
// a grid of servers (rows) by clients (columns), each cell green, red or
// partial and expandable to every exchange with both programs'
// observations.
func WriteMatrixHTML(w io.Writer, m interop.Matrix) error {
	var rows []matrixRow
	for _, s := range m.Servers {
		row := matrixRow{Server: s}
		for _, c := range m.Clients {
			cell, ok := m.Cell(s, c)
			if !ok {
				cell = interop.Cell{Server: s, Client: c, Problem: "not run (another shard)"}
			}
			row.Cells = append(row.Cells, cell)
		}
		rows = append(rows, row)
	}
	tally := map[string]int{}
	for o, n := range m.Tally() {
		tally[string(o)] = n
	}
	return matrixTmpl.Execute(w, struct {
		interop.Matrix
		Rows  []matrixRow
		Tally map[string]int
	}{m, rows, tally})
}

// WriteMatrixMarkdown writes the matrix as a Markdown table for CI logs,
// followed by the problem of each red or partial cell.
func WriteMatrixMarkdown(w io.Writer, m interop.Matrix) error {
	var b strings.Builder
	b.WriteString("| server \\ client |")
	for _, c := range m.Clients {
		fmt.Fprintf(&b, " %s |", mdEscape(c))
	}
	b.WriteString("\n|---|")
	for range m.Clients {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, s := range m.Servers {
		fmt.Fprintf(&b, "| %s |", mdEscape(s))
		for _, c := range m.Clients {
			cell, ok := m.Cell(s, c)
			out := "—"
			if ok {
				out = string(cell.Outcome)
			}
			fmt.Fprintf(&b, " %s |", out)
		}
		b.WriteString("\n")
	}
	for _, cell := range m.Cells {
		if cell.Outcome == interop.OK {
			continue
		}
		fmt.Fprintf(&b, "\n- %s x %s: %s", mdEscape(cell.Client), mdEscape(cell.Server), cell.Outcome)
		if cell.Problem != "" {
			fmt.Fprintf(&b, ": %s", mdEscape(cell.Problem))
		}
		for _, ex := range cell.Exchanges {
			if ex.Outcome != interop.OK {
				fmt.Fprintf(&b, "\n  - %s: %s", ex.Case, mdEscape(ex.Problem))
			}
		}
	}
	t := m.Tally()
	fmt.Fprintf(&b, "\n\n%d cells: %d OK, %d FAIL, %d PARTIAL\n", len(m.Cells), t[interop.OK], t[interop.Fail], t[interop.Partial])
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps a table cell one cell: no pipes, no line breaks.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
