package server

import (
	"strings"
	"testing"
)

func BenchmarkDecodeCreate(b *testing.B) {
	body := []byte(`{"content":"` + strings.Repeat("x", 256) + `","ttl_hours":24}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeCreate(body, 65536, 1<<20, 168); err != nil {
			b.Fatal(err)
		}
	}
}
