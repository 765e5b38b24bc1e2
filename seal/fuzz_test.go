package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"path/filepath"
	"testing"
)

// FuzzOpen feeds arbitrary blobs to Open as the holder of the first golden
// vector's access key: it must never panic, and anything other than that
// exact envelope must be ErrOpen. The corpus starts from every golden
// envelope, positive and negative, so mutations begin next to real ones.
func FuzzOpen(f *testing.F) {
	vectors := loadJSON[golden](f, filepath.Join("testdata", "v4.json"))
	g := vectors[0]
	s := newSealer(f, []byte(g.ServerKey))
	real, _ := base64.StdEncoding.DecodeString(g.Envelope)
	for _, file := range []string{"v1.json", "v2.json", "v3.json", "v4.json"} {
		for _, v := range loadJSON[golden](f, filepath.Join("testdata", file)) {
			b, _ := base64.StdEncoding.DecodeString(v.Envelope)
			f.Add(b)
		}
	}
	for _, file := range []string{"v1-negative.json", "v2-negative.json", "v3-negative.json", "v4-negative.json"} {
		for _, v := range loadJSON[negative](f, filepath.Join("testdata", file)) {
			b, _ := base64.StdEncoding.DecodeString(v.Envelope)
			f.Add(b)
		}
	}
	f.Add([]byte{version1})
	f.Add([]byte{version2})
	f.Add([]byte{version4})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		content, _, _, err := s.Open(g.AccessKey, g.LookupKey, b)
		if bytes.Equal(b, real) {
			if err != nil || string(content) != g.Content {
				t.Fatalf("the golden envelope failed to open: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrOpen) {
			t.Fatalf("a forged envelope opened: %q, %v", content, err)
		}
	})
}

// FuzzOpenWithPassphrase is FuzzOpen for protected envelopes, as the
// holder of a cheap v3 vector's access key and passphrase: a mutated blob
// is ErrOpen — never "wrong passphrase", which would count as a guess.
func FuzzOpenWithPassphrase(f *testing.F) {
	g := loadJSON[golden](f, filepath.Join("testdata", "v3.json"))[1] // cheap cost: fast iterations
	s := newSealer(f, []byte(g.ServerKey))
	real, _ := base64.StdEncoding.DecodeString(g.Envelope)
	for _, v := range loadJSON[golden](f, filepath.Join("testdata", "v3.json")) {
		b, _ := base64.StdEncoding.DecodeString(v.Envelope)
		f.Add(b)
	}
	for _, v := range loadJSON[negative](f, filepath.Join("testdata", "v3-negative.json")) {
		b, _ := base64.StdEncoding.DecodeString(v.Envelope)
		f.Add(b)
	}
	f.Add([]byte{version3})
	f.Fuzz(func(t *testing.T, b []byte) {
		content, _, _, err := s.OpenWithPassphrase(g.AccessKey, g.LookupKey, b, []byte(g.Passphrase))
		if bytes.Equal(b, real) {
			if err != nil || string(content) != g.Content {
				t.Fatalf("the golden envelope failed to open: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrOpen) {
			t.Fatalf("a forged envelope: %q, %v", content, err)
		}
	})
}
