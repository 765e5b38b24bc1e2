package server

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeCreate: the decoder never panics, and whatever it accepts is a
// JSON object that encoding/json reads the same way, with content and
// the lifetime inside their bounds.
func FuzzDecodeCreate(f *testing.F) {
	for _, seed := range []string{
		`{"content":"x"}`, `{"content":"x","ttl_hours":24}`, `{"content":"x","ttl_hours":null}`,
		`{"content":"a\u00e9\ud83d\ude00"}`, `{"content":"x","content":"y"}`, `{"content":"x"} {}`,
		`{"content":"x","ttl_hours":1e1}`, "{\"content\":\"\xff\"}", `[]`, `{"content":"\ud800"}`,
		`{"content":"x","ttl_seconds":60}`, `{"content":"x","ttl_seconds":90,"ttl_hours":null}`,
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
		if req.TTL != 0 && (req.TTL < minTTLSeconds*time.Second || req.TTL > maxTTL*time.Hour) {
			t.Fatalf("accepted a lifetime of %v", req.TTL)
		}
		var std struct {
			Content    string `json:"content"`
			TTLHours   *int   `json:"ttl_hours"`
			TTLSeconds *int   `json:"ttl_seconds"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("accepted a body encoding/json rejects: %v", err)
		}
		if std.Content != string(req.Content) {
			t.Fatalf("content differs from encoding/json: %q vs %q", req.Content, std.Content)
		}
		var want time.Duration
		if std.TTLHours != nil {
			want += time.Duration(*std.TTLHours) * time.Hour
		}
		if std.TTLSeconds != nil {
			want += time.Duration(*std.TTLSeconds) * time.Second
		}
		if std.TTLHours != nil && std.TTLSeconds != nil {
			t.Fatalf("accepted both ttl_hours and ttl_seconds")
		}
		if want != req.TTL {
			t.Fatalf("lifetime %v differs from encoding/json's %v", req.TTL, want)
		}
	})
}
