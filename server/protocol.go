package server

import (
	"context"
	"errors"
	"time"

	"github.com/readonce/readonce/internal/receipt"
	"github.com/readonce/readonce/seal"
)

// secrets is the read-once protocol, apart from HTTP: the product's rules
// over a Store and a Sealer, in plain Go. One access key maps to one lookup
// key and one blob; the blob is claimed in one atomic step, never twice; a
// blob sealed under a key this server lacks stays where it is; the server's
// clock judges expiry. Handlers only decode, call and write.
type secrets struct {
	store      Store
	sealer     Sealer
	now        func() time.Time
	defaultTTL time.Duration
	retention  time.Duration // a receipt's life past its secret's expiry

	maxAttempts int      // wrong passphrases a protected secret survives
	kdf         *kdfGate // bounds Argon2 work
	burnable    []string // every envelope prefix this server opens (passphrase.go)
}

// created is what a create hands back to its caller.
type created struct {
	accessKey    string
	expires      time.Time
	receiptToken string // "" without a receipt
}

// revealed is a secret's one reading. Its content is the caller's to clear.
type revealed struct {
	seal.Secret
	created time.Time
}

// Errors of the protocol; errors.go says what each becomes.
var (
	// errSecretNotFound: unknown, expired, already read, or malformed — the
	// four are one answer, so a key's history cannot be probed.
	errSecretNotFound = errors.New("secret not found")
	// errCannotOpen: a stored blob did not open (most likely a server
	// started with the wrong SECRET_KEY). It was left untouched.
	errCannotOpen = errors.New("a stored secret could not be opened; it was left in place (is SECRET_KEY right?)")
	// errReceiptNotFound: unknown, malformed, or past its retention.
	errReceiptNotFound = errors.New("receipt not found")
	// errCorrupt: a blob sealed under one of this server's keys failed to
	// authenticate. Only a corrupt or forged blob does that (or the 1 in
	// 2^32 wrong key whose id matches a right one's); nobody could have
	// opened it, and the claim consumed it.
	errCorrupt = errors.New("a stored secret under this server's key failed to authenticate (corrupt or forged); it was consumed")
)

// storeFailed wraps a Store error with the operation: the outcome of that
// call is unknown, never "not found".
type storeFailed struct {
	op  string
	err error
}

func (e *storeFailed) Error() string { return "store: " + e.op + ": " + e.err.Error() }
func (e *storeFailed) Unwrap() error { return e.err }

// internalFailed is a bug or a broken platform (randomness, ciphers).
type internalFailed struct {
	op  string
	err error
}

func (e *internalFailed) Error() string { return e.op + ": " + e.err.Error() }
func (e *internalFailed) Unwrap() error { return e.err }

// create seals sec under a fresh access key and stores it for ttl (0: the
// default), with a receipt (naming createdBy, when known) when asked, and
// protected by passphrase when it is not empty. The content and passphrase are cleared once sealed.
func (p *secrets) create(ctx context.Context, sec seal.Secret, passphrase []byte, ttl time.Duration, withReceipt bool, createdBy string) (created, error) {
	defer clear(sec.Content) // the plaintext copy is not needed past sealing
	defer clear(passphrase)
	if ttl == 0 {
		ttl = p.defaultTTL
	}
	now := p.now().UTC().Truncate(time.Microsecond) // the envelope keeps microseconds
	expires := now.Add(ttl)
	accessKey, err := p.sealer.NewAccessKey()
	if err != nil {
		return created{}, &internalFailed{"new access key", err}
	}
	lookupKey, _ := p.sealer.LookupKey(accessKey)
	var blob []byte
	if len(passphrase) > 0 {
		blob, err = p.sealProtected(accessKey, lookupKey, sec, passphrase, now, expires)
	} else if blob, err = p.sealer.SealSecret(accessKey, lookupKey, sec, nil, now, expires); err != nil {
		err = &internalFailed{"seal", err}
	}
	if err != nil {
		return created{}, err
	}
	c := created{accessKey: accessKey, expires: expires}
	if !withReceipt {
		err = p.store.Put(ctx, lookupKey, blob, ttl)
	} else if c.receiptToken, err = p.sealer.NewReceiptToken(); err != nil {
		return created{}, &internalFailed{"new receipt token", err}
	} else {
		tokenKey, _ := p.sealer.ReceiptKey(c.receiptToken)
		err = p.store.PutReceipted(ctx, lookupKey, blob, ttl, tokenKey, createdBy, now, expires, p.retention)
	}
	if err != nil {
		return created{}, &storeFailed{"create", err}
	}
	return c, nil
}

// reveal returns the secret behind accessKey and destroys it, for one caller
// only: claim the blob (only if this server's keys can open it), open it,
// judge expiry.
func (p *secrets) reveal(ctx context.Context, accessKey string) (revealed, error) {
	lookupKey, ok := p.sealer.LookupKey(accessKey)
	if !ok { // malformed: it cannot exist, so no store round trip
		return revealed{}, errSecretNotFound
	}
	blob, claimed, err := p.store.Claim(ctx, lookupKey, receipt.Revealed, p.sealer.Openable())
	switch {
	case err != nil: // not shown: the claim did not demonstrably win
		return revealed{}, &storeFailed{"reveal", err}
	case blob == nil: // never stored, expired, or another reader claimed it
		return revealed{}, errSecretNotFound
	case !claimed && p.protected(blob): // needs a passphrase: left in place
		return revealed{}, p.passphraseRequired(ctx, accessKey, lookupKey, blob)
	case !claimed: // sealed under a server key this server lacks: left in place
		return revealed{}, errCannotOpen
	}
	sec, createdAt, expires, err := p.sealer.OpenSecret(accessKey, lookupKey, blob, nil)
	if err != nil { // under one of this server's keys, yet it does not authenticate
		return revealed{}, errCorrupt
	}
	if !p.now().Before(expires) { // the store had not evicted it yet; it is not served
		clear(sec.Content)
		return revealed{}, errSecretNotFound
	}
	return revealed{Secret: sec, created: createdAt}, nil
}

// burn destroys the secret behind accessKey without reading it out, through
// the same claim as a reveal: a burn and reveals racing on one key have one
// winner in total. A blob sealed under a key this server lacks is left in
// place, as for a reveal: a misconfigured server burns nothing.
func (p *secrets) burn(ctx context.Context, accessKey string) error {
	lookupKey, ok := p.sealer.LookupKey(accessKey)
	if !ok {
		return errSecretNotFound
	}
	blob, claimed, err := p.store.Claim(ctx, lookupKey, receipt.Burned, p.burnable)
	switch {
	case err != nil:
		return &storeFailed{"burn", err}
	case blob == nil:
		return errSecretNotFound
	case !claimed:
		return errCannotOpen
	}
	// Opened only to judge expiry and authenticity the way a reveal does;
	// the content is cleared unread. A protected blob authenticates as far
	// as the access key reaches: its passphrase is not needed to burn it.
	content, _, expires, err := p.sealer.Open(accessKey, lookupKey, blob)
	clear(content)
	var needed PassphraseError
	switch {
	case err != nil && !errors.As(err, &needed):
		return errCorrupt
	case !p.now().Before(expires):
		return errSecretNotFound
	}
	return nil
}

// readReceipt is the receipt behind token, as it reads now. It consumes
// nothing.
func (p *secrets) readReceipt(ctx context.Context, token string) (receipt.Record, error) {
	tokenKey, ok := p.sealer.ReceiptKey(token)
	if !ok { // malformed: it cannot exist, so no store round trip
		return receipt.Record{}, errReceiptNotFound
	}
	rec, found, err := p.store.Receipt(ctx, tokenKey)
	switch {
	case err != nil:
		return receipt.Record{}, &storeFailed{"receipt", err}
	case !found:
		return receipt.Record{}, errReceiptNotFound
	}
	return rec.As(p.now()), nil
}

// burnReceipt burns the pending secret behind token and returns its
// receipt; burned is false (with the receipt) when it was already revealed
// or expired. Burning twice is burning once.
func (p *secrets) burnReceipt(ctx context.Context, token string) (rec receipt.Record, burned bool, err error) {
	tokenKey, ok := p.sealer.ReceiptKey(token)
	if !ok {
		return rec, false, errReceiptNotFound
	}
	// The server's clock judges expiry, as for a reveal: an expired secret
	// the store still holds is not burned, it is over.
	rec, found, err := p.store.Receipt(ctx, tokenKey)
	switch {
	case err != nil:
		return rec, false, &storeFailed{"receipt", err}
	case !found:
		return rec, false, errReceiptNotFound
	case rec.As(p.now()).State != receipt.Pending:
		rec = rec.As(p.now())
		return rec, rec.State == receipt.Burned, nil
	}
	rec, found, err = p.store.BurnByReceipt(ctx, tokenKey, p.burnable)
	var foreign ForeignError
	switch {
	case errors.As(err, &foreign) && foreign.Foreign():
		return rec, false, errCannotOpen
	case err != nil:
		return rec, false, &storeFailed{"burn", err}
	case !found:
		return rec, false, errReceiptNotFound
	}
	if rec = rec.As(p.now()); rec.State == receipt.Pending {
		rec.State = receipt.Expired // the store had already let the secret go
	}
	return rec, rec.State == receipt.Burned, nil
}
