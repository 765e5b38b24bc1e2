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
		`{"content":"x","receipt":true,"passphrase":"p\u00e9"}`, `{"content":"x","passphrase":""}`,
	} {
		f.Add([]byte(seed))
	}
	const maxContent, maxTTL = 64, 168
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeCreate(body, maxContent, 1<<20, maxTTL)
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
			Receipt    bool   `json:"receipt"`
			Passphrase string `json:"passphrase"`
			// Files: content_base64 decoded by encoding/json into []byte
			// (standard, padded base64 — as strict as ours? checked below).
			ContentBase64 []byte  `json:"content_base64"`
			Filename      *string `json:"filename"`
			MediaType     *string `json:"media_type"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("accepted a body encoding/json rejects: %v", err)
		}
		if req.File {
			std.Content = string(std.ContentBase64)
		}
		if std.Content != string(req.Content) || std.Passphrase != string(req.Passphrase) || std.Receipt != req.Receipt {
			t.Fatalf("content, passphrase or receipt differs from encoding/json: %q %q %v vs %q %q %v",
				req.Content, req.Passphrase, req.Receipt, std.Content, std.Passphrase, std.Receipt)
		}
		if len(req.Passphrase) > maxPassphraseBytes || !utf8.Valid(req.Passphrase) {
			t.Fatalf("accepted a passphrase of %d bytes (valid UTF-8: %v)", len(req.Passphrase), utf8.Valid(req.Passphrase))
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

// FuzzDecodeReveal: never panics; an accepted passphrase is what
// encoding/json reads, 1–1024 bytes of UTF-8; an empty body is {}.
func FuzzDecodeReveal(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"passphrase":"x"}`, `{"passphrase":""}`, `{"passphrase":"a","passphrase":"b"}`,
		`{"passphrase":1}`, `{"x":1}`, `{} {}`, "{\"passphrase\":\"\xff\"}", ` `, `[]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		passphrase, err := decodeReveal(body)
		if err != nil {
			return
		}
		if len(bytes.TrimSpace(body)) == 0 {
			if passphrase != nil {
				t.Fatalf("an empty body gave a passphrase")
			}
			return
		}
		var std struct {
			Passphrase *string `json:"passphrase"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("accepted a body encoding/json rejects: %v", err)
		}
		if (std.Passphrase == nil) != (passphrase == nil) || std.Passphrase != nil && *std.Passphrase != string(passphrase) {
			t.Fatalf("passphrase %q differs from encoding/json's %v", passphrase, std.Passphrase)
		}
		if passphrase != nil && (len(passphrase) == 0 || len(passphrase) > maxPassphraseBytes || !utf8.Valid(passphrase)) {
			t.Fatalf("accepted a passphrase of %d bytes", len(passphrase))
		}
	})
}
