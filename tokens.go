package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/readonce/readonce/auth"
	"github.com/readonce/readonce/cache"
)

// tokens is `readonce tokens create|list|revoke`: named API tokens for
// creators, kept in the Redis the servers use (REDIS_URL and the rest of
// the server's configuration). A token is printed once, at create; Redis
// keeps only its SHA-256.
func tokens(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("tokens: create --name NAME [--expires 90d] | list | revoke NAME")
	}
	if cfg.RedisURL == "" {
		return errors.New("tokens: set REDIS_URL: API tokens live in the Redis every replica reads (the embedded store is one process's own)")
	}
	store, err := cache.Open(cfg.cacheOptions(slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	defer store.Close()
	now := time.Now().UTC()
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("tokens create", flag.ContinueOnError)
		fs.SetOutput(stderr)
		name := fs.String("name", "", "what the token is for: it names the creator in receipts (1-64 of A-Z a-z 0-9 . _ -)")
		expires := fs.String("expires", "", "lifetime, in days (90d) or a Go duration (2160h); default: until revoked")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if err := auth.CheckTokenName(*name); err != nil {
			return fmt.Errorf("tokens create: --name: %w", err)
		}
		var until time.Time
		if *expires != "" {
			d, err := lifetime(*expires)
			if err != nil {
				return fmt.Errorf("tokens create: --expires: %w", err)
			}
			until = now.Add(d)
		}
		token, hash, err := auth.NewAPIToken()
		if err != nil {
			return err
		}
		if err := store.CreateAPIToken(ctx, *name, hash, now, until); err != nil {
			return fmt.Errorf("tokens create: %w", err)
		}
		fmt.Fprintln(stdout, token)
		fmt.Fprintf(stderr, "token %q made; it is shown once, here: give it to its creator as READONCE_TOKEN\n", *name)
		return nil
	case "list":
		list, err := store.APITokens(ctx, now)
		if err != nil {
			return fmt.Errorf("tokens list: %w", err)
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tCREATED\tEXPIRES\tLAST USED")
		for _, t := range list {
			exp := date(t.Expires, "never")
			if t.Expired {
				exp = "expired"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Name, date(t.Created, "-"), exp, date(t.LastUsed, "never"))
		}
		return w.Flush()
	case "revoke":
		if len(args) != 2 {
			return errors.New("tokens revoke NAME")
		}
		ok, err := store.RevokeAPIToken(ctx, args[1])
		if err != nil {
			return fmt.Errorf("tokens revoke: %w", err)
		}
		if !ok {
			return fmt.Errorf("tokens revoke: no token named %q", args[1])
		}
		fmt.Fprintf(stdout, "revoked %s: refused from the next request on, by every replica\n", args[1])
		return nil
	}
	return fmt.Errorf("tokens: unknown subcommand %q (create, list, revoke)", args[0])
}

// lifetime reads 90d or a Go duration.
func lifetime(s string) (time.Duration, error) {
	var days int
	if n, err := fmt.Sscanf(s, "%dd", &days); err == nil && n == 1 && fmt.Sprintf("%dd", days) == s && days > 0 {
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a lifetime such as 90d or 720h", s)
	}
	return d, nil
}

func date(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}
