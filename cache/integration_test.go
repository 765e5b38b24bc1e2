//go:build integration

package cache

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/readonce/readonce/internal/redistest"
)

func TestIntegrationStore(t *testing.T) {
	srv := redistest.Start(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := openOpts(t, Options{URL: srv.URL(), AutoPipeline: m.ap})
			storeSuite(t, s)
			t.Run("500 concurrent takes, 20 rounds", func(t *testing.T) {
				exactlyOnce(t, s, 500, 20)
			})
		})
	}
}

func TestIntegrationUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "redis.sock")
	redistest.Start(t, "--unixsocket", sock, "--unixsocketperm", "700")
	s := openOpts(t, Options{URL: "unix://" + sock})
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("over a socket"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if blob, found, err := s.Take(ctx, "k"); err != nil || !found || string(blob) != "over a socket" {
		t.Fatalf("take over unix://: (%q, %v, %v)", blob, found, err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("ready over unix://: %v", err)
	}
}
