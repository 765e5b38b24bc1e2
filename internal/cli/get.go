package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/readonce/readonce/client"
)

// get is `readonce get URL|KEY`: reveal (and so destroy) the secret, write
// it to stdout or -o FILE exactly as it was sent. A protected secret takes
// --passphrase-file, or at a terminal is asked for without echo.
func (c *cmd) get(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	server := c.serverFlag(fs)
	out := fs.String("o", "", "write the secret to this file (created 0600) instead of stdout")
	force := fs.Bool("force", false, "with -o: replace a file that exists")
	passphraseFile := fs.String("passphrase-file", "", "the passphrase, on this file's first line")
	asJSON := fs.Bool("json", false, "print one JSON object (without -o, the content is in it)")
	rest, err := flags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError("get takes one link or access key")
	}
	link := rest[0]
	if _, _, err := client.ParseLink(link); err != nil {
		return usageError("that is not a readonce link or access key")
	}
	passphrase := ""
	if *passphraseFile != "" {
		if passphrase, err = readPassphrase(*passphraseFile); err != nil {
			return err
		}
	}
	cl, err := c.client(*server, link)
	if err != nil {
		return err
	}
	// The file is made before the reveal: a path that cannot be written
	// must not cost the only reading.
	var dest *output
	if *out != "" {
		if dest, err = reserve(*out, *force); err != nil {
			return err
		}
		defer dest.abandon()
	}

	var secret *client.Secret
	if passphrase != "" {
		secret, err = cl.RevealWithPassphrase(ctx, link, passphrase)
	} else {
		secret, err = cl.Reveal(ctx, link)
		var pe *client.PassphraseError
		if errors.As(err, &pe) && !pe.Wrong && c.io.IsTerminal() {
			secret, err = c.askPassphrase(ctx, cl, link, pe.AttemptsLeft)
		}
	}
	if err != nil {
		return err
	}

	content, name, mediaType := []byte(secret.Text), "", ""
	if secret.File != nil {
		content, name, mediaType = secret.File.Data, secret.File.Name, secret.File.MediaType
	}
	if dest != nil {
		if err := dest.commit(content); err != nil {
			return &failure{msg: "the secret was revealed (so it is destroyed on the server) but could not be written: " + err.Error()}
		}
	}
	if !*asJSON {
		if dest == nil {
			_, err = c.io.Stdout.Write(content)
		}
		return err
	}
	obj := map[string]any{"created_at": secret.CreatedAt, "bytes": len(content)}
	if secret.File != nil {
		obj["filename"], obj["media_type"] = nonEmpty(name), nonEmpty(mediaType)
	}
	switch {
	case dest != nil:
		obj["saved_to"] = *out
	case secret.File != nil:
		obj["content_base64"] = base64.StdEncoding.EncodeToString(content)
	default:
		obj["content"] = secret.Text
	}
	return writeJSON(c.io.Stdout, obj)
}

// askPassphrase prompts on the terminal, without echo.
func (c *cmd) askPassphrase(ctx context.Context, cl *client.Client, link string, left int) (*client.Secret, error) {
	fmt.Fprintf(c.io.Stderr, "Passphrase (%d attempts left): ", left)
	p, err := c.io.ReadPassword()
	fmt.Fprintln(c.io.Stderr)
	if err != nil {
		return nil, &failure{code: ExitPassphrase, msg: "could not read the passphrase: " + err.Error()}
	}
	if len(p) == 0 {
		return nil, &failure{code: ExitPassphrase, msg: "no passphrase given; nothing was revealed or counted"}
	}
	defer clear(p)
	return cl.RevealWithPassphrase(ctx, link, string(p))
}

// output is -o's file: reserved before the reveal, written after it.
type output struct {
	path, tmp string // tmp: with --force, the file renamed over path
	f         *os.File
	done      bool
}

// reserve creates path (0600, refusing one that exists) or, with force,
// a temporary file beside it that replaces it on commit.
func reserve(path string, force bool) (*output, error) {
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return nil, &failure{code: ExitUsage, msg: "-o: " + path + " exists; nothing was revealed (--force replaces it)"}
		}
		if err != nil {
			return nil, &failure{code: ExitUsage, msg: "-o: " + pathError(err) + "; nothing was revealed"}
		}
		return &output{path: path, f: f}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".readonce-*")
	if err != nil {
		return nil, &failure{code: ExitUsage, msg: "-o: " + pathError(err) + "; nothing was revealed"}
	}
	return &output{path: path, tmp: f.Name(), f: f}, nil // CreateTemp makes it 0600
}

func (o *output) commit(content []byte) error {
	if _, err := o.f.Write(content); err != nil {
		return err
	}
	if err := o.f.Sync(); err != nil {
		return err
	}
	if err := o.f.Close(); err != nil {
		return err
	}
	if o.tmp != "" {
		if err := os.Rename(o.tmp, o.path); err != nil {
			return err
		}
	}
	o.done = true
	return nil
}

// abandon removes what reserve made, unless commit finished.
func (o *output) abandon() {
	if o.done {
		return
	}
	o.f.Close()
	if o.tmp != "" {
		os.Remove(o.tmp)
		return
	}
	os.Remove(o.path)
}
