package server

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// openAPISource is the API's contract, written by hand and kept true by the
// contract test, which validates every response of the HTTP suite against
// the document served at /openapi.json.
//
//go:embed openapi.json
var openAPISource []byte

// renderOpenAPI fills the deployment's values into the document, keeping
// its order: the server URL and the configured limits.
func renderOpenAPI(cfg Config) ([]byte, error) {
	set := map[string]string{
		"/servers/0/url": strconv.Quote(cfg.PublicURL),
		"/components/schemas/NewSecret/properties/content/maxLength":   strconv.Itoa(cfg.MaxContentBytes),
		"/components/schemas/NewSecret/properties/ttl_hours/maximum":   strconv.Itoa(cfg.MaxTTLHours),
		"/components/schemas/NewSecret/properties/ttl_hours/default":   strconv.Itoa(cfg.DefaultTTLHours),
		"/components/schemas/NewSecret/properties/ttl_seconds/maximum": strconv.Itoa(cfg.MaxTTLHours * 3600),
	}
	dec := jsontext.NewDecoder(bytes.NewReader(openAPISource))
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out, jsontext.WithIndent("  "))
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("server: openapi.json: %w", err)
		}
		if err := enc.WriteToken(tok); err != nil {
			return nil, err
		}
		// Just read an object member's name: is its value one to replace?
		if kind, n := dec.StackIndex(dec.StackDepth()); kind == '{' && n%2 == 1 {
			ptr := string(dec.StackPointer())
			if repl, ok := set[ptr]; ok {
				if err := dec.SkipValue(); err != nil {
					return nil, err
				}
				if err := enc.WriteValue(jsontext.Value(repl)); err != nil {
					return nil, err
				}
				delete(set, ptr)
			}
		}
	}
	if len(set) > 0 {
		return nil, fmt.Errorf("server: openapi.json lacks %v", set)
	}
	return out.Bytes(), nil
}
