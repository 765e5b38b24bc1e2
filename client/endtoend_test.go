package client_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/readonce/readonce/client"
)

// recorder keeps every request and answer body the client exchanges.
type recorder struct {
	mu   sync.Mutex
	sent [][]byte
	got  [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		r.mu.Lock()
		r.sent = append(r.sent, append([]byte(req.URL.String()+"\n"), b...))
		r.mu.Unlock()
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		r.mu.Lock()
		r.got = append(r.got, b)
		r.mu.Unlock()
	}
	return resp, err
}

func (r *recorder) saw(needle []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range append(append([][]byte{}, r.sent...), r.got...) {
		if bytes.Contains(b, needle) {
			return true
		}
	}
	return false
}

func TestEndToEnd(t *testing.T) {
	base := startServer(t, nil)
	rec := &recorder{}
	c, _ := client.New(base, &http.Client{Transport: rec}, "")
	ctx := context.Background()
	text := "end-to-end: pässwörd 🔑"
	created, err := c.Create(ctx, text, client.CreateOptions{EndToEnd: true, Receipt: true})
	if err != nil || !created.EndToEnd {
		t.Fatalf("create: %+v %v", created, err)
	}
	access, clientKey, err := client.ParseLink(created.ShareURL)
	if err != nil || access != created.AccessKey || len(clientKey) != 43 || !strings.HasSuffix(created.ShareURL, "/s#"+access+"."+clientKey) {
		t.Fatalf("share link %q does not carry the key: %v", created.ShareURL, err)
	}
	if rec.saw([]byte(text)) || rec.saw([]byte(clientKey)) {
		t.Fatal("the plaintext or the key went over the wire")
	}
	got, err := c.Reveal(ctx, created.ShareURL)
	if err != nil || got.Text != text || got.File != nil {
		t.Fatalf("reveal: %+v %v", got, err)
	}
	if rec.saw([]byte(text)) || rec.saw([]byte(clientKey)) {
		t.Fatal("the plaintext or the key came back over the wire")
	}
	if r, err := c.Receipt(ctx, created.ReceiptToken); err != nil || r.State != "revealed" {
		t.Errorf("receipt: %+v %v", r, err)
	}

	// A file with its name and type, behind a passphrase.
	data := bytes.Repeat([]byte{0, 1, 0xfe, 0xff}, 1000)
	created, err = c.CreateFile(ctx, client.File{Name: "prod.env", MediaType: "text/plain", Data: data}, client.CreateOptions{EndToEnd: true, Passphrase: "by phone"})
	if err != nil || !created.PassphraseRequired {
		t.Fatalf("create a protected file: %+v %v", created, err)
	}
	if rec.saw([]byte("prod.env")) {
		t.Fatal("the file's name went over the wire")
	}
	var pe *client.PassphraseError
	if _, err := c.Reveal(ctx, created.ShareURL); !errors.As(err, &pe) || !errors.Is(err, client.ErrPassphrase) {
		t.Fatalf("reveal without the passphrase: %v", err)
	}
	got, err = c.RevealWithPassphrase(ctx, created.ShareURL, "by phone")
	if err != nil || got.File == nil || got.File.Name != "prod.env" || got.File.MediaType != "text/plain" || !bytes.Equal(got.File.Data, data) {
		t.Fatalf("reveal of the file: %+v %v", got, err)
	}
}

// What the server holds is ciphertext: a plain reveal by the access key
// alone gets the marked ciphertext, and the client says it lacks the key
// — after the secret was consumed, which it says too.
func TestEndToEndWithoutTheKey(t *testing.T) {
	base := startServer(t, nil)
	c := newClient(t, base)
	ctx := context.Background()
	created, err := c.Create(ctx, "only with the key", client.CreateOptions{EndToEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/api/v1/secrets/" + created.AccessKey)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		ContentBase64 string  `json:"content_base64"`
		MediaType     string  `json:"media_type"`
		Filename      *string `json:"filename"`
	}
	json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	ct, _ := base64.StdEncoding.DecodeString(raw.ContentBase64)
	if resp.StatusCode != 200 || raw.MediaType != client.EndToEndMediaType || raw.Filename != nil || len(ct) != 1+12+256+16 || bytes.Contains(ct, []byte("only with")) {
		t.Fatalf("the server holds %d %q %d bytes, want the marked ciphertext", resp.StatusCode, raw.MediaType, len(ct))
	}

	created, _ = c.Create(ctx, "only with the key", client.CreateOptions{EndToEnd: true})
	var de *client.DecryptError
	if _, err := c.Reveal(ctx, created.AccessKey); !errors.As(err, &de) || !de.MissingKey || !strings.Contains(err.Error(), "destroyed") {
		t.Fatalf("reveal by the access key alone: %v, want a DecryptError (missing key) saying it is consumed", err)
	}
	created, _ = c.Create(ctx, "only with the key", client.CreateOptions{EndToEnd: true})
	_, otherKey, _ := client.ParseLink(mustCreate(t, c).ShareURL)
	if _, err := c.Reveal(ctx, created.AccessKey+"."+otherKey); !errors.As(err, &de) || de.MissingKey {
		t.Fatalf("reveal with another secret's key: %v, want a DecryptError", err)
	}
	if _, err := c.Reveal(ctx, created.AccessKey); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("after a failed decryption: %v, want ErrNotFound (it was consumed)", err)
	}
	if _, _, err := client.ParseLink(created.AccessKey + ".short"); err == nil || strings.Contains(err.Error(), created.AccessKey) {
		t.Errorf("a damaged key part: %v", err)
	}
}

func mustCreate(t *testing.T, c *client.Client) *client.Created {
	t.Helper()
	created, err := c.Create(context.Background(), "another", client.CreateOptions{EndToEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// A transport error names no URL: a reveal's holds the access key.
func TestTransportErrorHidesTheKey(t *testing.T) {
	dead, _ := client.New("http://127.0.0.1:1", nil, "")
	key := strings.Repeat("Zz", 21) + "Q"
	_, err := dead.Reveal(context.Background(), key)
	if !errors.Is(err, client.ErrUnavailable) || strings.Contains(err.Error(), key) {
		t.Fatalf("closed port: %v, want ErrUnavailable without the key", err)
	}
}
