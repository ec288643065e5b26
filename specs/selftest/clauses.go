package selftest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed clauses.json
var clausesJSON []byte

// Clause is one clause of a requirement of PROTOCOL.md: the part of its
// sentence one mistake can break, with the test data and faulty plugins
// that show a violation of it is caught (clauses.json).
type Clause struct {
	// Requirement is the requirement's ID.
	Requirement string `json:"requirement"`
	// Clause is a verbatim part of the requirement's sentence.
	Clause string `json:"clause"`
	// Fixtures are "file:id" references to fixture rows whose specs a
	// violation of this clause alone fails.
	Fixtures []string `json:"fixtures"`
	// Faulty names faulty plugins (without "faulty/") that violate this
	// clause and are declared to kill its requirement.
	Faulty []string `json:"faulty"`
}

// Clauses returns the clause table. It panics on malformed data, which
// the package's tests rule out.
func Clauses() []Clause {
	cs, err := parseClauses(clausesJSON)
	if err != nil {
		panic("selftest: clauses.json: " + err.Error())
	}
	return cs
}

func parseClauses(data []byte) ([]Clause, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc struct {
		Description string   `json:"description"`
		Clauses     []Clause `json:"clauses"`
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if len(doc.Clauses) == 0 {
		return nil, fmt.Errorf("no clauses")
	}
	return doc.Clauses, nil
}
