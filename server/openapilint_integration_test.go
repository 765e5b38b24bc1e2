//go:build integration

package server_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// redocly lint of the contract, with the recommended rules: no finding
// but the deliberate ones written down in internal/openapilint (each with
// its reason). `make redocly` installs the pinned linter; without it this
// fails rather than skips.
func TestIntegrationOpenAPILint(t *testing.T) {
	bin := "../internal/openapilint/node_modules/.bin/redocly"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("redocly is not installed (make redocly): %v", err)
	}
	cmd := exec.Command(bin, "lint", "--config", "../internal/openapilint/redocly.yaml", "openapi.json")
	// Nothing leaves the machine: no telemetry, no update check.
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "warning") {
		t.Fatalf("redocly lint: %v (warnings count too)\n%s", err, out)
	}
}
