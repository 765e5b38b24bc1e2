//go:build integration

package server_test

import (
	"testing"

	"github.com/readonce/readonce/internal/redistest"
)

func TestIntegrationAPI(t *testing.T) {
	srv := redistest.Start(t)
	be := backend{addr: srv.Addr}
	apiSuite(t, be)
	receiptSuite(t, be)
	passphraseSuite(t, be)
	filesSuite(t, be)
	t.Run("500 concurrent reveals, 20 rounds", func(t *testing.T) {
		concurrentReveals(t, startApp(t, be), 500, 20)
	})
}
