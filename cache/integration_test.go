//go:build integration

package cache

import (
	"testing"

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
