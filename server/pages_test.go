package server

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

// The docs page's CSP names the public origin; only a clean origin gets in.
func TestOriginForCSP(t *testing.T) {
	for in, want := range map[string]string{
		"https://secrets.example.com/path": "https://secrets.example.com",
		"http://localhost:8000":            "http://localhost:8000",
		"https://[2001:db8::1]:8443":       "https://[2001:db8::1]:8443",
		"https://h.example;script-src":     "",
		"https://h.example%3Bx":            "",
		"javascript://h.example":           "",
		"not a url":                        "",
	} {
		if got := origin(in); got != want {
			t.Errorf("origin(%q) = %q, want %q", in, got, want)
		}
	}
}

// The vendored ReDoc files are exactly what SHA256SUMS says `make redoc`
// fetched: a hand edit, or a bundle swapped without its sum, fails here.
func TestVendoredRedocMatchesItsSums(t *testing.T) {
	sums, err := webFiles.ReadFile("web/redoc/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(sums)) {
		want, name, ok := strings.Cut(strings.TrimSpace(line), "  ")
		if !ok {
			continue
		}
		b, err := webFiles.ReadFile("web/redoc/" + name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != want {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %s", name, got, want)
		}
		n++
	}
	if n != 3 {
		t.Errorf("SHA256SUMS lists %d files, want the bundle, its licence notes and LICENSE", n)
	}
}
