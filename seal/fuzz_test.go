package seal

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpen feeds arbitrary blobs to Open: it must never panic, and anything
// other than the exact envelope sealed for this access key must be ErrOpen.
func FuzzOpen(f *testing.F) {
	s := newSealer(f, testServerKey)
	ak, lk, blob := sealOne(f, s, "fuzz me")
	f.Add(blob)
	f.Add(blob[:Overhead])
	f.Add([]byte{version1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		content, _, _, err := s.Open(ak, lk, b)
		if bytes.Equal(b, blob) {
			if err != nil || string(content) != "fuzz me" {
				t.Fatalf("the real envelope failed to open: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrOpen) {
			t.Fatalf("a forged envelope opened: %q, %v", content, err)
		}
	})
}
