package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/readonce/readonce/client"
)

// maxInput bounds what send reads: past it the server would refuse anyway.
const maxInput = 64 << 20

// send is `readonce send`: the secret from stdin (a text if it is UTF-8,
// else a file without a name) or --file, encrypted here unless
// --server-sealed; prints the share link (and with --receipt the receipt
// link on a second line), or with --json one object.
func (c *cmd) send(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	server := c.serverFlag(fs)
	file := fs.String("file", "", "send this file (its name and type go with it) instead of stdin")
	lifetime := fs.String("ttl", "", "lifetime: 15m, 2h, 7d (default: the server's)")
	passphraseFile := fs.String("passphrase-file", "", "protect it with the passphrase in this file (first line)")
	receipt := fs.Bool("receipt", false, "also print a receipt link: see whether it was opened, burn it before")
	asJSON := fs.Bool("json", false, "print one JSON object")
	serverSealed := fs.Bool("server-sealed", false, "let the server encrypt (the server then sees the secret); default: end-to-end")
	rest, err := flags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("send takes the secret on stdin or with --file, not as an argument (arguments end up in shell history and ps)")
	}
	d, err := ttl(*lifetime)
	if err != nil {
		return err
	}
	opts := client.CreateOptions{TTL: d, Receipt: *receipt, EndToEnd: !*serverSealed}
	if *passphraseFile != "" {
		if opts.Passphrase, err = readPassphrase(*passphraseFile); err != nil {
			return err
		}
	}
	cl, err := c.client(*server, "")
	if err != nil {
		return err
	}

	var created *client.Created
	if *file != "" {
		data, err := readLimited(*file)
		if err != nil {
			return err
		}
		name := filepath.Base(*file)
		created, err = cl.CreateFile(ctx, client.File{Name: name, MediaType: mime.TypeByExtension(filepath.Ext(name)), Data: data}, opts)
		if err != nil {
			return err
		}
	} else {
		if c.io.IsTerminal() {
			fmt.Fprintln(c.io.Stderr, "Type or paste the secret, then Ctrl-D on a line of its own:")
		}
		data, err := io.ReadAll(io.LimitReader(c.io.Stdin, maxInput+1))
		switch {
		case err != nil:
			return &failure{msg: "reading stdin: " + err.Error()}
		case len(data) == 0:
			return usageError("nothing to send: stdin was empty")
		case len(data) > maxInput:
			return &failure{msg: "stdin holds more than 64 MiB"}
		case utf8.Valid(data) && !bytes.ContainsRune(data, 0):
			created, err = cl.Create(ctx, string(data), opts)
		default: // binary: a file without a name
			created, err = cl.CreateFile(ctx, client.File{Data: data}, opts)
		}
		if err != nil {
			return err
		}
	}
	receiptURL := ""
	if created.ReceiptToken != "" {
		receiptURL = strings.TrimSuffix(created.ShareURL[:strings.LastIndex(created.ShareURL, "/s#")], "/") + "/r#" + created.ReceiptToken
	}
	if *asJSON {
		return writeJSON(c.io.Stdout, map[string]any{
			"share_url": created.ShareURL, "expires_at": created.ExpiresAt, "end_to_end": created.EndToEnd,
			"passphrase_required": created.PassphraseRequired, "receipt_url": nonEmpty(receiptURL), "receipt_token": nonEmpty(created.ReceiptToken),
		})
	}
	fmt.Fprintln(c.io.Stdout, created.ShareURL)
	if receiptURL != "" {
		fmt.Fprintln(c.io.Stdout, receiptURL)
	}
	return nil
}

// readPassphrase is a passphrase file's first line (its line ending
// dropped).
func readPassphrase(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", &failure{code: ExitUsage, msg: "--passphrase-file: " + pathError(err)}
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", usageError("--passphrase-file holds no passphrase on its first line")
	}
	return line, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &failure{code: ExitUsage, msg: "--file: " + pathError(err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxInput+1))
	if err != nil {
		return nil, &failure{msg: "--file: " + pathError(err)}
	}
	if len(data) > maxInput {
		return nil, &failure{msg: "--file: more than 64 MiB"}
	}
	if len(data) == 0 {
		return nil, usageError("--file is empty")
	}
	return data, nil
}

// pathError is an os error without Go's "open PATH:" noise doubled.
func pathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
