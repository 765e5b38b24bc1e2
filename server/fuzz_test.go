package server

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeCreate: the decoder never panics, and whatever it accepts is a
// JSON object that encoding/json reads the same way, with content and
// ttl_hours inside their bounds.
func FuzzDecodeCreate(f *testing.F) {
	for _, seed := range []string{
		`{"content":"x"}`, `{"content":"x","ttl_hours":24}`, `{"content":"x","ttl_hours":null}`,
		`{"content":"a\u00e9\ud83d\ude00"}`, `{"content":"x","content":"y"}`, `{"content":"x"} {}`,
		`{"content":"x","ttl_hours":1e1}`, "{\"content\":\"\xff\"}", `[]`, `{"content":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	const maxContent, maxTTL = 64, 168
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeCreate(body, maxContent, maxTTL)
		if err != nil {
			return
		}
		if len(req.Content) == 0 || len(req.Content) > maxContent || !utf8.Valid(req.Content) {
			t.Fatalf("accepted content of %d bytes (valid UTF-8: %v)", len(req.Content), utf8.Valid(req.Content))
		}
		if req.TTLHours < 0 || req.TTLHours > maxTTL {
			t.Fatalf("accepted ttl_hours %d", req.TTLHours)
		}
		var std struct {
			Content  string `json:"content"`
			TTLHours *int   `json:"ttl_hours"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("accepted a body encoding/json rejects: %v", err)
		}
		if std.Content != string(req.Content) {
			t.Fatalf("content differs from encoding/json: %q vs %q", req.Content, std.Content)
		}
		if (std.TTLHours == nil) != (req.TTLHours == 0) || std.TTLHours != nil && *std.TTLHours != req.TTLHours {
			t.Fatalf("ttl_hours differs from encoding/json")
		}
	})
}
