package seal

import (
	"strings"
	"testing"
)

func BenchmarkSeal(b *testing.B) {
	s := newSealer(b, testServerKey)
	ak, _ := s.NewAccessKey()
	lk, _ := s.LookupKey(ak)
	content := []byte(strings.Repeat("x", 256))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(ak, lk, content, created, expires); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s := newSealer(b, testServerKey)
	ak, lk, blob := sealOne(b, s, strings.Repeat("x", 256))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := s.Open(ak, lk, blob); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupKey(b *testing.B) {
	s := newSealer(b, testServerKey)
	ak, _ := s.NewAccessKey()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := LookupKey(ak); !ok {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkNewAccessKey(b *testing.B) {
	s := newSealer(b, testServerKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.NewAccessKey(); err != nil {
			b.Fatal(err)
		}
	}
}
