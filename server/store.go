package server

import (
	"context"
	"time"

	"github.com/readonce/readonce/internal/receipt"
	"github.com/readonce/readonce/seal" // for its Secret, a plain value: the server calls no cipher
)

// Store keeps sealed blobs under lookup keys. It never sees an access key or
// content, only what Sealer made of them.
type Store interface {
	// Put stores blob under key for ttl. It is idempotent: a retry after an
	// error cannot create a second copy.
	Put(ctx context.Context, key string, blob []byte, ttl time.Duration) error
	// Claim takes key for this caller alone and returns its blob, in one
	// atomic step: exactly one caller gets the blob, however many race;
	// the rest get nil. A blob that begins with none of openable (it was
	// sealed under a server key this server lacks) is returned unclaimed
	// and left in place. A claim that reaches the store after the call's
	// deadline claims nothing, and a re-send cannot let a second caller
	// win. An error means the claim did not demonstrably win; the secret is
	// then, but for one documented window, still there.
	// A won claim also moves the secret's receipt, if it has a pending one,
	// to outcome (receipt.Revealed or receipt.Burned), in the same step.
	Claim(ctx context.Context, key, outcome string, openable []string) (blob []byte, claimed bool, err error)
	// PutReceipted is Put with a pending receipt, found through tokenKey,
	// that outlives the secret by retention. A create without a receipt
	// never comes here: it costs one SET, as before receipts.
	PutReceipted(ctx context.Context, key string, blob []byte, ttl time.Duration, tokenKey, createdBy string, created, expires time.Time, retention time.Duration) error
	// Receipt reads the receipt at tokenKey; found is false when there is
	// none (never, or past its retention). It changes nothing.
	Receipt(ctx context.Context, tokenKey string) (rec receipt.Record, found bool, err error)
	// BurnByReceipt burns the secret the receipt at tokenKey names, if the
	// receipt is pending and the blob begins with one of openable, and
	// returns the receipt as it then stands. A blob sealed under a server
	// key this server lacks is left in place: the error is a ForeignError.
	BurnByReceipt(ctx context.Context, tokenKey string, openable []string) (rec receipt.Record, found bool, err error)
	// Get returns the blob under key without consuming it; found is false
	// when there is none (never stored, expired, or claimed). A protected
	// secret is read, opened with its passphrase, and only then claimed.
	Get(ctx context.Context, key string) (blob []byte, found bool, err error)
	// WrongGuess counts one wrong passphrase against the secret at key and
	// returns the attempts left of limit, in one atomic step; the guess that
	// leaves none destroys the secret and burns its receipt. gone is true,
	// counting nothing, when the secret is already gone or claimed.
	WrongGuess(ctx context.Context, key string, limit int) (left int, gone bool, err error)
	// WrongGuesses is how many wrong passphrases the secret at key has had.
	WrongGuesses(ctx context.Context, key string) (int, error)
	// Ready reports whether the store can serve: it answers, and will not
	// evict live secrets.
	Ready(ctx context.Context) error
}

// StoreError is what the server reads from a Store's errors beyond "it
// failed". An error that does not implement it is a plain outage.
type StoreError interface {
	error
	// ErrorKind is a short word from a fixed set ("timeout", "oom", …) for
	// metric labels; it never holds a key.
	ErrorKind() string
	// StorageFull reports that the store refused a write for lack of
	// memory: creates answer "storage full" while reveals keep working.
	StorageFull() bool
}

// ForeignError is a Store error saying the blob was sealed under a server
// key this server lacks, and was left in place.
type ForeignError interface {
	error
	Foreign() bool
}

// ReadinessError is a Ready error that says what an operator must fix
// (an eviction policy, say); /ready shows ReadinessDetail, which must hold
// nothing secret.
type ReadinessError interface {
	error
	ReadinessDetail() string
}

// Sealer turns content into blobs only the holder of an access key can open.
// It does no I/O.
type Sealer interface {
	// NewAccessKey returns a fresh random access key. It fails only if the
	// system's randomness does.
	NewAccessKey() (string, error)
	// LookupKey maps an access key to the key the store holds its blob
	// under: a one-way function, so a store dump yields no access key. ok is
	// false for a malformed access key, which then cannot exist.
	LookupKey(accessKey string) (lookupKey string, ok bool)
	// SealSecret encrypts sec (a text, or a file with its name and type)
	// for accessKey, bound to lookupKey and to both times, so a blob moved
	// to another key or with edited times fails to open; with a non-empty
	// passphrase it opens only with that too. Nothing is retained.
	SealSecret(accessKey, lookupKey string, sec seal.Secret, passphrase []byte, created, expires time.Time) ([]byte, error)
	// Open authenticates and decrypts a blob made by Seal (with this server
	// key or a previous one). Any failure is one opaque error. It does not
	// judge expiry: that is the caller's clock's job.
	Open(accessKey, lookupKey string, blob []byte) (content []byte, created, expires time.Time, err error)
	// NewReceiptToken returns a fresh random receipt token, independent of
	// every access key.
	NewReceiptToken() (string, error)
	// ReceiptKey maps a receipt token to the store key its receipt is found
	// under, one-way as LookupKey; ok is false for a malformed token.
	ReceiptKey(token string) (tokenKey string, ok bool)
	// Openable returns the prefixes every blob this Sealer can open with
	// the access key alone begins with (the envelope's version and server
	// key id): the store claims only such blobs, so a wrong SECRET_KEY burns
	// nothing, and a reveal without a passphrase never claims a protected
	// secret.
	Openable() []string

	// OpenSecret opens any blob SealSecret made (or an older server did);
	// an unprotected one needs no passphrase. A protected blob that is
	// sound but needs a passphrase (none given, or a wrong one) fails with
	// a PassphraseError; Open fails so too, with the blob's times.
	OpenSecret(accessKey, lookupKey string, blob, passphrase []byte) (sec seal.Secret, created, expires time.Time, err error)
	// OpenableWithPassphrase returns the prefixes of the protected blobs
	// this Sealer can open given their passphrase.
	OpenableWithPassphrase() []string
}

// PassphraseError is a Sealer error for a blob that authenticated under
// the access key and a server key this server holds, and needs a
// passphrase: none was given, or a wrong one. Any other failure to open
// (a wrong SECRET_KEY, a corrupt blob) is not one, and never counts as a
// guess.
type PassphraseError interface {
	error
	PassphraseNeeded() bool
}
