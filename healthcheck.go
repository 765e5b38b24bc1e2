package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// healthcheck is `readonce healthcheck`: the container's HEALTHCHECK, run by
// the same static binary (the image has no shell and no curl). It reads
// only PORT, so a misconfigured SECRET_KEY cannot make it lie.
func healthcheck(ctx context.Context, env map[string]string, stdout io.Writer) error {
	port := 8000
	if p, ok := env["PORT"]; ok && p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("healthcheck: PORT %q is not a port", p)
		}
		port = n
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d", url, resp.StatusCode)
	}
	fmt.Fprintf(stdout, "healthy: %s\n", body)
	return nil
}
