// Package cli is the readonce command line: send, get, status and burn,
// over package client, for people at a terminal and for CI pipelines.
//
// What it promises: end-to-end by default (the server stores ciphertext;
// the key exists only in the printed link); a link, key, token or
// passphrase is never printed in an error; a revealed file is written 0600
// and never over an existing file without --force, and the file is
// reserved before the reveal, so a bad path cannot waste the one reading;
// a passphrase is read from a file or, at a terminal, without echo. Exit
// codes are a contract for scripts — see the constants.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/readonce/readonce/client"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitFailed      = 1 // anything else: a refused request, a file that could not be written, a failed decryption
	ExitUsage       = 2 // wrong arguments, a link that is not one, a file that exists
	ExitNotFound    = 3 // not found, expired or already read: maybe intercepted
	ExitUnavailable = 4 // the server could not be reached or is busy: nothing was revealed, try again
	ExitAuth        = 5 // creating needs a valid READONCE_TOKEN
	ExitPassphrase  = 6 // a passphrase is needed, or it was wrong
)

// Commands are the command names this package runs.
var Commands = []string{"send", "get", "status", "burn"}

// IO is what a command reads and writes. Stdin is a terminal when IsTerminal
// says so; ReadPassword reads a line from it without echo.
type IO struct {
	Stdin        io.Reader
	Stdout       io.Writer
	Stderr       io.Writer
	IsTerminal   func() bool
	ReadPassword func() ([]byte, error)
}

// ExitError carries a command's exit code; its message was already
// written to stderr.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Run runs command with args. env holds READONCE_URL and READONCE_TOKEN.
// It returns nil (exit 0) or an *ExitError.
func Run(ctx context.Context, command string, args []string, env map[string]string, stdio IO) error {
	c := &cmd{io: stdio, env: env}
	var err error
	switch command {
	case "send":
		err = c.send(ctx, args)
	case "get":
		err = c.get(ctx, args)
	case "status":
		err = c.status(ctx, args)
	case "burn":
		err = c.burn(ctx, args)
	default:
		err = usageError("unknown command " + command)
	}
	if err == nil {
		return nil
	}
	code, msg := explain(err)
	if code == ExitNotFound && c.elsewhere != "" {
		msg += " (" + c.elsewhere + ")"
	}
	fmt.Fprintln(stdio.Stderr, "readonce "+command+": "+msg)
	return &ExitError{Code: code}
}

type cmd struct {
	io  IO
	env map[string]string
	// elsewhere notes that the server asked is not the one the link
	// names: a "not found" may mean only that.
	elsewhere string
}

// usageError is a mistake in the command line: exit 2.
type usageError string

func (e usageError) Error() string { return string(e) }

// failure is a message for exit 1 (or code, when set).
type failure struct {
	code int
	msg  string
}

func (e *failure) Error() string { return e.msg }

// explain is the one table of what every error becomes: an exit code and
// a message that never holds a key, a token, a passphrase or content.
func explain(err error) (int, string) {
	var usage usageError
	var fail *failure
	var unavailable *client.UnavailableError
	var pass *client.PassphraseError
	var decrypt *client.DecryptError
	var api *client.APIError
	switch {
	case errors.As(err, &usage):
		return ExitUsage, usage.Error() + " (readonce help)"
	case errors.As(err, &fail):
		return max(fail.code, ExitFailed), fail.msg
	case errors.Is(err, client.ErrNotFound):
		return ExitNotFound, "not found: it was already read or burned, it expired, or it never existed. " +
			"If you did not read it yourself, someone else may have: the link may have been intercepted"
	case errors.As(err, &unavailable):
		msg := "the server is unavailable (" + unavailable.Detail + "); nothing was revealed or changed, try again"
		if unavailable.Status == 0 { // no answer at all: the detail says why, and whether anything arrived is unknown
			msg = unavailable.Detail + "; try again"
		}
		if unavailable.RetryAfter > 0 {
			msg += " in " + unavailable.RetryAfter.String()
		}
		return ExitUnavailable, msg
	case errors.Is(err, client.ErrUnauthorized):
		return ExitAuth, "not authorized to create: set READONCE_TOKEN to a creator token"
	case errors.As(err, &pass):
		switch {
		case pass.Wrong && pass.AttemptsLeft == 0:
			return ExitPassphrase, "wrong passphrase, and that was the last attempt: the secret is destroyed"
		case pass.Wrong:
			return ExitPassphrase, fmt.Sprintf("wrong passphrase; nothing was revealed, %d attempts left", pass.AttemptsLeft)
		}
		return ExitPassphrase, fmt.Sprintf("the secret is protected by a passphrase: give --passphrase-file FILE, or run at a terminal to be asked (%d attempts left)", pass.AttemptsLeft)
	case errors.As(err, &decrypt):
		return ExitFailed, strings.TrimPrefix(decrypt.Error(), "readonce: ")
	case errors.As(err, &api) && api.Status == 413:
		return ExitFailed, "too large for this server: its MAX_FILE_BYTES bounds a secret; nothing was stored"
	case errors.As(err, &api):
		return ExitFailed, fmt.Sprintf("the server refused it (%d): %s", api.Status, api.Body)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ExitUnavailable, "stopped before an answer came; if it was a reveal, the secret may be consumed"
	}
	return ExitFailed, err.Error()
}

// flags parses a command's flags wherever they stand among its
// arguments (Go's flag package stops at the first argument) and returns
// the arguments.
func flags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError(err.Error())
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// serverFlag is --server, defaulting to READONCE_URL.
func (c *cmd) serverFlag(fs *flag.FlagSet) *string {
	return fs.String("server", c.env["READONCE_URL"], "the server's URL (PUBLIC_URL); default READONCE_URL")
}

// client is a client for server (--server, else READONCE_URL) or, when
// neither is set, for the server a link names. The setting wins: a
// pipeline may reach the server by an internal address while its links
// carry the public one.
func (c *cmd) client(server, link string) (*client.Client, error) {
	if base, ok := baseOf(link); ok {
		if server == "" {
			server = base
		} else if origin(server) != origin(base) {
			c.elsewhere = "asked " + origin(server) + ", while the link names " + origin(base)
		}
	}
	if server == "" {
		return nil, usageError("no server: set READONCE_URL, or give --server URL")
	}
	cl, err := client.New(server, nil, c.env["READONCE_TOKEN"])
	if err != nil {
		return nil, usageError("the server's URL is not an http(s) URL")
	}
	return cl, nil
}

func origin(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// baseOf is the server a link came from: its scheme, host and path up to
// /s, /r, /api/v1/secrets/… or /api/v1/receipts/….
func baseOf(link string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	p := u.Path
	for _, suffix := range []string{"/s", "/r"} {
		if strings.HasSuffix(p, suffix) {
			return u.Scheme + "://" + u.Host + strings.TrimSuffix(p, suffix), true
		}
	}
	for _, api := range []string{"/api/v1/secrets/", "/api/v1/receipts/"} {
		if i := strings.Index(p, api); i >= 0 {
			return u.Scheme + "://" + u.Host + p[:i], true
		}
	}
	return "", false
}

// ttl reads --ttl: a Go duration (15m, 2h) or whole days (7d).
func ttl(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && n > 0 && fmt.Sprint(n) == days {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute {
		return 0, usageError("--ttl takes a lifetime of a minute or more, such as 15m, 2h or 7d")
	}
	return d, nil
}
