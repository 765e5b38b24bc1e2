// Package client is a Go client for the readonce API over net/http: create
// a secret (text or file, with a lifetime, a passphrase, a receipt), reveal
// it, burn it, read or burn its receipt.
//
// Every call takes a context. Errors are typed: [ErrNotFound] (unknown,
// expired, already read — possibly by someone else: the link may have been
// intercepted), [*UnavailableError] (try again after RetryAfter),
// [*PassphraseError] (the secret needs its passphrase; attempts left),
// [ErrUnauthorized] (creating needs a token). Retries happen only where
// they are safe: a create and a receipt read may be sent again after a
// connection error or a 503; a reveal or a burn never is, since the first
// attempt may have consumed the secret.
//
// With CreateOptions.EndToEnd the client encrypts first (package e2e has
// the format, shared with the create page): the server stores ciphertext it
// cannot open, and the share link's fragment carries the key. Reveal
// decrypts whatever link it is given, so links made by the page and by
// this package open in either.
package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/readonce/readonce/client/e2e"
)

// Client talks to one readonce server.
type Client struct {
	base  string // scheme://host[/prefix], no trailing slash
	http  *http.Client
	token string
	// Retries is how many more times a retryable call is sent (default 2).
	Retries int
}

// New returns a client for the server at baseURL (PUBLIC_URL). httpClient
// nil means a client with a 30 s timeout; token, when not empty, is sent as
// a bearer token on creates (REQUIRE_AUTH).
func New(baseURL string, httpClient *http.Client, token string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: %q is not an http(s) URL", baseURL)
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), http: httpClient, token: token, Retries: 2}, nil
}

// Errors of the API.
var (
	// ErrNotFound: no such secret or receipt — never created, expired,
	// already read or burned. If you did not read it, someone else may have.
	ErrNotFound = errors.New("readonce: not found, expired, or already read")
	// ErrUnauthorized: creating needs a valid bearer token.
	ErrUnauthorized = errors.New("readonce: not authorized to create")
	// ErrUnavailable matches every *UnavailableError (errors.Is).
	ErrUnavailable = errors.New("readonce: unavailable")
	// ErrPassphrase matches every *PassphraseError (errors.Is).
	ErrPassphrase = errors.New("readonce: passphrase")
)

// UnavailableError is a 503 or 429: nothing was shown or consumed; try
// again after RetryAfter.
type UnavailableError struct {
	Status     int
	Detail     string
	RetryAfter time.Duration
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("readonce: unavailable (%d %s), retry after %v", e.Status, e.Detail, e.RetryAfter)
}

func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// PassphraseError: the secret is protected. Wrong is false when no
// passphrase was given; AttemptsLeft wrong guesses remain (0 after a wrong
// one: that guess destroyed the secret).
type PassphraseError struct {
	Wrong        bool
	AttemptsLeft int
}

func (e *PassphraseError) Error() string {
	if e.Wrong {
		return fmt.Sprintf("readonce: wrong passphrase, %d attempts left", e.AttemptsLeft)
	}
	return fmt.Sprintf("readonce: a passphrase is required (%d attempts left)", e.AttemptsLeft)
}

func (e *PassphraseError) Is(target error) bool { return target == ErrPassphrase }

// APIError is any other refusal (a 400, 413, 415 or 422): the request was
// wrong and nothing was stored.
type APIError struct {
	Status int
	Body   string // the JSON answer, which never holds a secret
}

func (e *APIError) Error() string { return fmt.Sprintf("readonce: refused (%d): %s", e.Status, e.Body) }

// File is a file to share, or one revealed. A revealed end-to-end file's
// Name is the sender's, checked by no server (it never saw it): never use
// it as a path as it is.
type File struct {
	Name      string // may be empty
	MediaType string // empty: application/octet-stream
	Data      []byte
}

// CreateOptions shape a new secret; the zero value is the server's default
// lifetime, no passphrase, no receipt.
type CreateOptions struct {
	TTL        time.Duration // rounded to whole seconds, at least a minute; 0: the default
	Passphrase string
	Receipt    bool
	// EndToEnd encrypts here first: the server stores only ciphertext, and
	// ShareURL's fragment carries the key (PUBLIC_URL/s#KEY.CLIENTKEY).
	EndToEnd bool
}

// Created is what a create returns. AccessKey and ReceiptToken are secrets:
// never log them.
type Created struct {
	AccessKey          string    `json:"access_key"`
	ExpiresAt          time.Time `json:"expires_at"`
	SecretURL          string    `json:"secret_url"`
	ShareURL           string    `json:"share_url"`
	ReceiptToken       string    `json:"receipt_token,omitempty"`
	ReceiptURL         string    `json:"receipt_url,omitempty"`
	PassphraseRequired bool      `json:"passphrase_required,omitempty"`
	EndToEnd           bool      `json:"end_to_end"` // set by this package, not the server
}

// Secret is a revealed secret: Text, or File for a file.
type Secret struct {
	Text      string
	File      *File
	CreatedAt time.Time
}

// Receipt is what a receipt says.
type Receipt struct {
	State      string     `json:"state"` // pending, revealed, burned or expired
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevealedAt *time.Time `json:"revealed_at"`
	BurnedAt   *time.Time `json:"burned_at"`
	CreatedBy  *string    `json:"created_by"`
}

// Create stores a text secret.
func (c *Client) Create(ctx context.Context, text string, opts CreateOptions) (*Created, error) {
	if opts.EndToEnd {
		return c.createEndToEnd(ctx, Secret{Text: text}, opts)
	}
	return c.create(ctx, map[string]any{"content": text}, opts)
}

// CreateFile stores a file with its name and type (sealed with it, or
// with EndToEnd inside the ciphertext).
func (c *Client) CreateFile(ctx context.Context, f File, opts CreateOptions) (*Created, error) {
	if opts.EndToEnd {
		return c.createEndToEnd(ctx, Secret{File: &f}, opts)
	}
	body := map[string]any{"content_base64": base64.StdEncoding.EncodeToString(f.Data)}
	if f.Name != "" {
		body["filename"] = f.Name
	}
	if f.MediaType != "" {
		body["media_type"] = f.MediaType
	}
	return c.create(ctx, body, opts)
}

// createEndToEnd posts only ciphertext; the key goes into the share link
// and nowhere else.
func (c *Client) createEndToEnd(ctx context.Context, s Secret, opts CreateOptions) (*Created, error) {
	ciphertext, key, err := EncryptEndToEnd(s)
	if err != nil {
		return nil, err
	}
	created, err := c.create(ctx, map[string]any{
		"content_base64": base64.StdEncoding.EncodeToString(ciphertext),
		"media_type":     EndToEndMediaType,
	}, opts)
	if err != nil {
		return nil, err
	}
	created.ShareURL += "." + key
	created.EndToEnd = true
	return created, nil
}

func (c *Client) create(ctx context.Context, body map[string]any, opts CreateOptions) (*Created, error) {
	if opts.TTL > 0 {
		body["ttl_seconds"] = int64(opts.TTL.Round(time.Second) / time.Second)
	}
	if opts.Passphrase != "" {
		body["passphrase"] = opts.Passphrase
	}
	if opts.Receipt {
		body["receipt"] = true
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	var out Created
	// A create is safe to send again: a lost answer leaves at most an
	// unused secret behind, which expires.
	if err := c.do(ctx, http.MethodPost, "/api/v1/secrets/", payload, true, http.StatusCreated, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reveal reads the secret behind link — a share link (end-to-end or not),
// a secret URL or an access key — and destroys it; an end-to-end secret is
// decrypted with the link's key (a *DecryptError if that fails: it is
// consumed all the same). It is never retried: a first attempt whose
// answer was lost may have consumed it.
func (c *Client) Reveal(ctx context.Context, link string) (*Secret, error) {
	key, clientKey, err := ParseLink(link)
	if err != nil {
		return nil, err
	}
	s, err := c.reveal(ctx, http.MethodGet, "/api/v1/secrets/"+key, nil)
	if err != nil {
		return nil, err
	}
	return decrypted(s, clientKey)
}

// RevealWithPassphrase reveals a protected secret (or any other: the
// passphrase is then not needed).
func (c *Client) RevealWithPassphrase(ctx context.Context, link, passphrase string) (*Secret, error) {
	key, clientKey, err := ParseLink(link)
	if err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(map[string]string{"passphrase": passphrase})
	s, err := c.reveal(ctx, http.MethodPost, "/api/v1/secrets/"+key+"/reveal", payload)
	if err != nil {
		return nil, err
	}
	return decrypted(s, clientKey)
}

// decrypted opens a revealed end-to-end ciphertext with the link's key.
// A link with a key whose secret is not end-to-end is shown as it is.
func decrypted(s *Secret, clientKey string) (*Secret, error) {
	if s.File == nil || s.File.MediaType != EndToEndMediaType || s.File.Name != "" {
		return s, nil
	}
	if clientKey == "" {
		return nil, &DecryptError{MissingKey: true}
	}
	plain, err := DecryptEndToEnd(clientKey, s.File.Data)
	if err != nil {
		return nil, err
	}
	plain.CreatedAt = s.CreatedAt
	return plain, nil
}

func (c *Client) reveal(ctx context.Context, method, path string, payload []byte) (*Secret, error) {
	var raw struct {
		Content       *string   `json:"content"`
		ContentBase64 *string   `json:"content_base64"`
		Filename      *string   `json:"filename"`
		MediaType     string    `json:"media_type"`
		CreatedAt     time.Time `json:"created_at"`
	}
	if err := c.do(ctx, method, path, payload, false, http.StatusOK, &raw); err != nil {
		return nil, err
	}
	s := &Secret{CreatedAt: raw.CreatedAt}
	switch {
	case raw.ContentBase64 != nil:
		data, err := base64.StdEncoding.DecodeString(*raw.ContentBase64)
		if err != nil {
			return nil, fmt.Errorf("readonce: a file that is not base64: %w", err)
		}
		s.File = &File{Data: data, MediaType: raw.MediaType}
		if raw.Filename != nil {
			s.File.Name = *raw.Filename
		}
	case raw.Content != nil:
		s.Text = *raw.Content
	default:
		return nil, errors.New("readonce: a reveal without content")
	}
	return s, nil
}

// Burn destroys the secret behind accessKey unread. ErrNotFound: it was
// already gone (read, burned or expired). Never retried.
func (c *Client) Burn(ctx context.Context, accessKey string) error {
	key, err := KeyOf(accessKey)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, "/api/v1/secrets/"+key, nil, false, http.StatusNoContent, nil)
}

// Receipt reads a receipt; it never consumes anything, so it is retried.
func (c *Client) Receipt(ctx context.Context, token string) (*Receipt, error) {
	var r Receipt
	if err := c.do(ctx, http.MethodGet, "/api/v1/receipts/"+url.PathEscape(token), nil, true, http.StatusOK, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// BurnByReceipt burns the secret a receipt names, if it is still pending,
// and returns the receipt: State is "burned", or "revealed"/"expired" when
// it was too late (the server's 409).
func (c *Client) BurnByReceipt(ctx context.Context, token string) (*Receipt, error) {
	var r Receipt
	err := c.do(ctx, http.MethodDelete, "/api/v1/receipts/"+url.PathEscape(token), nil, false, http.StatusOK, &r)
	var api *APIError
	if errors.As(err, &api) && api.Status == http.StatusConflict {
		if jerr := json.Unmarshal([]byte(api.Body), &r); jerr == nil {
			return &r, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// KeyOf is the access key in s: the key itself, a share URL (…/s#KEY or
// …/s#KEY.CLIENTKEY) or a secret URL (…/api/v1/secrets/KEY).
func KeyOf(s string) (string, error) {
	key, _, err := ParseLink(s)
	return key, err
}

// ParseLink splits a link (or a bare access key) into its access key and,
// for an end-to-end link, the client's key ("" otherwise). Neither is
// echoed in the error.
func ParseLink(s string) (accessKey, clientKey string, err error) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexAny(s, "#/"); i >= 0 {
		s = s[i+1:]
	}
	accessKey, clientKey, hasKey := strings.Cut(s, ".")
	if len(accessKey) != 43 || strings.Trim(accessKey, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" ||
		(hasKey && !e2e.ValidKey(clientKey)) {
		return "", "", errNotALink
	}
	return accessKey, clientKey, nil
}

// do sends one call and decodes a want answer into out; a retryable call
// is sent again (up to Retries more times) after a connection error or a
// 503/429, waiting what the server asked.
func (c *Client) do(ctx context.Context, method, path string, payload []byte, retryable bool, want int, out any) error {
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, path, payload, want, out)
		var unavailable *UnavailableError
		var transport *transportError
		switch {
		case err == nil || !retryable || attempt >= c.Retries:
			return unwrapTransport(err)
		case errors.As(err, &unavailable):
			if !sleep(ctx, min(max(unavailable.RetryAfter, 100*time.Millisecond), 10*time.Second)) {
				return err
			}
		case errors.As(err, &transport):
			if !sleep(ctx, time.Duration(attempt+1)*200*time.Millisecond) {
				return transport.err
			}
		default:
			return err
		}
	}
}

// expectContinueOver is the body size past which a request asks first.
const expectContinueOver = 64 << 10

type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }

func unwrapTransport(err error) error {
	var t *transportError
	if errors.As(err, &t) {
		return &UnavailableError{Detail: "the server could not be reached: " + t.err.Error()}
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *Client) once(ctx context.Context, method, path string, payload []byte, want int, out any) error {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if len(payload) > expectContinueOver {
		// Ask before sending a file: a server that would refuse it says so
		// first, rather than closing while the body is still being written.
		req.Header.Set("Expect", "100-continue")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" && method == http.MethodPost && path == "/api/v1/secrets/" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// net/http's *url.Error names the URL, and a reveal's URL holds the
		// access key: only the cause goes on.
		var u *url.Error
		if errors.As(err, &u) {
			err = u.Err
		}
		return &transportError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &transportError{err}
	}
	if resp.StatusCode == want {
		if out == nil {
			return nil
		}
		return json.Unmarshal(data, out)
	}
	var detail struct {
		Detail       any  `json:"detail"`
		AttemptsLeft *int `json:"attempts_left"`
	}
	_ = json.Unmarshal(data, &detail)
	text, _ := detail.Detail.(string)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return ErrNotFound
	case resp.StatusCode == http.StatusUnauthorized:
		return ErrUnauthorized
	case resp.StatusCode == http.StatusForbidden && detail.AttemptsLeft != nil:
		return &PassphraseError{Wrong: text == "Wrong passphrase", AttemptsLeft: *detail.AttemptsLeft}
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &UnavailableError{Status: resp.StatusCode, Detail: text, RetryAfter: time.Duration(secs) * time.Second}
	}
	return &APIError{Status: resp.StatusCode, Body: string(data)}
}
