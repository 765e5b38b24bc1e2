package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/readonce/readonce/client"
)

// status is `readonce status RECEIPT` (a receipt token or link): the
// state on the first line, then its times; it never consumes anything.
func (c *cmd) status(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	server := c.serverFlag(fs)
	asJSON := fs.Bool("json", false, "print the receipt as JSON")
	rest, err := flags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("status takes one receipt link or token")
	}
	token, err := receiptToken(rest[0])
	if err != nil {
		return err
	}
	cl, err := c.client(*server, rest[0])
	if err != nil {
		return err
	}
	r, err := cl.Receipt(ctx, token)
	if err != nil {
		return err
	}
	return c.printReceipt(r, *asJSON)
}

// burn is `readonce burn URL|RECEIPT`: destroy a secret unread, by its
// share link (or secret URL) or by its receipt (token or link).
func (c *cmd) burn(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("burn", flag.ContinueOnError)
	server := c.serverFlag(fs)
	asJSON := fs.Bool("json", false, "print the receipt (burning by receipt) or {\"burned\": true} as JSON")
	rest, err := flags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("burn takes one share link or one receipt link or token")
	}
	arg := rest[0]
	cl, err := c.client(*server, arg)
	if err != nil {
		return err
	}
	if isShareLink(arg) {
		if err := cl.Burn(ctx, arg); err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.io.Stdout, map[string]bool{"burned": true})
		}
		fmt.Fprintln(c.io.Stdout, "burned")
		return nil
	}
	token, err := receiptToken(arg)
	if err != nil {
		return err
	}
	r, err := cl.BurnByReceipt(ctx, token)
	if err != nil {
		return err
	}
	if err := c.printReceipt(r, *asJSON); err != nil {
		return err
	}
	if r.State != "burned" {
		return &failure{code: ExitNotFound, msg: "too late to burn: it was " + r.State + " first"}
	}
	return nil
}

// isShareLink tells a share link or secret URL from a receipt.
func isShareLink(s string) bool {
	return strings.Contains(s, "/s#") || strings.Contains(s, "/api/v1/secrets/")
}

// receiptToken is the token in a receipt link (…/r#TOKEN), a receipt URL
// (…/api/v1/receipts/TOKEN) or the token itself.
func receiptToken(s string) (string, error) {
	if isShareLink(s) {
		return "", usageError("that is a share link, not a receipt")
	}
	token, err := client.KeyOf(s) // the same shape: 43 base64url characters
	if err != nil {
		return "", usageError("that is not a receipt link or token")
	}
	return token, nil
}

func (c *cmd) printReceipt(r *client.Receipt, asJSON bool) error {
	if asJSON {
		return writeJSON(c.io.Stdout, r)
	}
	line := func(label string, t *time.Time) {
		if t != nil {
			fmt.Fprintf(c.io.Stdout, "%-9s %s\n", label, t.UTC().Format(time.RFC3339))
		}
	}
	fmt.Fprintln(c.io.Stdout, r.State)
	line("created", &r.CreatedAt)
	line("expires", &r.ExpiresAt)
	line("revealed", r.RevealedAt)
	line("burned", r.BurnedAt)
	if r.CreatedBy != nil {
		fmt.Fprintf(c.io.Stdout, "%-9s %s\n", "by", *r.CreatedBy)
	}
	return nil
}
