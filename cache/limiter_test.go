package cache

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Bucket names are an HMAC of the client address under a key of this
// deployment: Redis never holds an address, nor a plain hash one could
// check guesses against (the IPv4 space is small enough to try whole).
func TestLimiterBucketNamesAreKeyed(t *testing.T) {
	m := miniredis.RunT(t)
	s := openT(t, "redis://"+m.Addr())
	ctx := context.Background()
	names := func(macKey string) []string {
		m.FlushAll()
		if _, _, err := s.Limiter([]byte(macKey)).Allow(ctx, "create:192.0.2.1", 60, 3, time.Minute, 1); err != nil {
			t.Fatal(err)
		}
		return m.Keys()
	}
	a, b := names("deployment-a"), names("deployment-b")
	if len(a) != 1 || len(b) != 1 || a[0] == b[0] {
		t.Fatalf("bucket names %v and %v: want one each, different per key", a, b)
	}
	sum := sha256.Sum256([]byte("create:192.0.2.1"))
	plain := base64.RawURLEncoding.EncodeToString(sum[:18])
	for _, k := range append(a, b...) {
		if strings.Contains(k, "192.0.2.1") || strings.Contains(k, plain) {
			t.Errorf("bucket name %q holds the address or its plain hash", k)
		}
	}
}
