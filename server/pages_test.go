package server

import "testing"

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
