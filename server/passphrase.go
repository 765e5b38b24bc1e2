package server

import (
	"bytes"
	"context"
	"errors"

	"time"

	"github.com/readonce/readonce/internal/lowprio"
	"github.com/readonce/readonce/internal/receipt"
	"github.com/readonce/readonce/seal"
)

// Passphrases, apart from HTTP. A protected secret is read, opened with
// the passphrase, and only then claimed (open before claim): a wrong
// passphrase never touches the blob, it only counts, and the guess that
// spends the last attempt destroys the secret in the same atomic step.
// Argon2id runs behind a gate, at the lowest CPU priority, so a flood of
// guesses cannot take every core.

// attemptsError is a protected secret answered without its content: no
// passphrase was given, or a wrong one. left is how many wrong guesses it
// still takes; 0 after a wrong one means that guess destroyed it.
type attemptsError struct {
	wrong bool
	left  int
}

func (e *attemptsError) Error() string {
	if e.wrong {
		return "wrong passphrase"
	}
	return "passphrase required"
}

// errPassphraseBusy: every Argon2 slot stayed taken for the gate's wait.
var errPassphraseBusy = errors.New("too many passphrase checks at once")

// kdfGate bounds passphrase stretching two ways: at most width runs at
// once, and on average at most share of the process's cores. A slot whose
// run took d stays taken for d×rest more (a duty cycle): a flood of guesses
// then leaves the other cores, and most of the gate's own, to every other
// request. A caller waits up to wait for a slot, then gives up with
// errPassphraseBusy.
type kdfGate struct {
	slots chan struct{}
	wait  time.Duration
	rest  float64 // seconds a slot cools per second of work
	// The clock, and how a cooled slot comes back: time.Now and
	// time.AfterFunc but in tests.
	now   func() time.Time
	after func(time.Duration, func())
}

func newKDFGate(width int, share float64, procs int, wait time.Duration) *kdfGate {
	width = max(width, 1)
	duty := min(1, share*float64(procs)/float64(width))
	return &kdfGate{slots: make(chan struct{}, width), wait: wait, rest: 1/duty - 1, now: time.Now,
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
}

// enter takes a slot; the caller must call the release it returns once its
// work is done.
func (g *kdfGate) enter() (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			return nil, errPassphraseBusy
		}
	}
	start := g.now()
	return func() {
		if cool := time.Duration(float64(g.now().Sub(start)) * g.rest); cool > 0 {
			g.after(cool, func() { <-g.slots })
			return
		}
		<-g.slots
	}, nil
}

// sealProtected is Seal with a passphrase, through the gate.
func (p *secrets) sealProtected(accessKey, lookupKey string, sec seal.Secret, passphrase []byte, now, expires time.Time) ([]byte, error) {
	release, err := p.kdf.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	var blob []byte
	lowprio.Run(func() { blob, err = p.sealer.SealSecret(accessKey, lookupKey, sec, passphrase, now, expires) })
	if err != nil {
		return nil, &internalFailed{"seal", err}
	}
	return blob, nil
}

// protected reports whether blob is a protected envelope this server can
// open given its passphrase.
func (p *secrets) protected(blob []byte) bool {
	for _, prefix := range p.sealer.OpenableWithPassphrase() {
		if len(blob) >= len(prefix) && string(blob[:len(prefix)]) == prefix {
			return true
		}
	}
	return false
}

// passphraseRequired answers a reveal without a passphrase of the
// protected blob behind lookupKey: how many attempts it has left, once the
// envelope is known to be sound and unexpired. Nothing is consumed.
func (p *secrets) passphraseRequired(ctx context.Context, accessKey, lookupKey string, blob []byte) error {
	_, _, expires, err := p.sealer.Open(accessKey, lookupKey, blob)
	var needed PassphraseError
	switch {
	case !errors.As(err, &needed): // under a key this server holds, yet it does not authenticate
		return errCannotOpen
	case !p.now().Before(expires):
		return errSecretNotFound
	}
	used, err := p.store.WrongGuesses(ctx, lookupKey)
	if err != nil {
		return &storeFailed{"guess", err}
	}
	return &attemptsError{left: max(p.maxAttempts-used, 0)}
}

// revealWithPassphrase reveals the secret behind accessKey, once: a
// protected one with its passphrase, any other as reveal does. passphrase
// is cleared when done.
func (p *secrets) revealWithPassphrase(ctx context.Context, accessKey string, passphrase []byte) (revealed, error) {
	defer clear(passphrase)
	lookupKey, ok := p.sealer.LookupKey(accessKey)
	if !ok {
		return revealed{}, errSecretNotFound
	}
	blob, found, err := p.store.Get(ctx, lookupKey)
	switch {
	case err != nil:
		return revealed{}, &storeFailed{"reveal", err}
	case !found:
		return revealed{}, errSecretNotFound
	case !p.protected(blob): // unprotected, or under a key this server lacks: reveal decides
		return p.reveal(ctx, accessKey)
	case len(passphrase) == 0:
		return revealed{}, p.passphraseRequired(ctx, accessKey, lookupKey, blob)
	}

	release, err := p.kdf.enter()
	if err != nil {
		return revealed{}, err
	}
	var sec seal.Secret
	var createdAt, expires time.Time
	lowprio.Run(func() {
		sec, createdAt, expires, err = p.sealer.OpenSecret(accessKey, lookupKey, blob, passphrase)
	})
	release()
	var needed PassphraseError
	switch {
	case err == nil:
	case !errors.As(err, &needed): // a held key's blob that does not authenticate: left in place
		return revealed{}, errCannotOpen
	case !p.now().Before(expires): // an expired secret is not guessed at, it is over
		return revealed{}, errSecretNotFound
	default:
		return revealed{}, p.wrongGuess(ctx, lookupKey)
	}
	if !p.now().Before(expires) {
		clear(sec.Content)
		return revealed{}, errSecretNotFound
	}
	claimedBlob, claimed, err := p.store.Claim(ctx, lookupKey, receipt.Revealed, p.sealer.OpenableWithPassphrase())
	switch {
	case err != nil:
		clear(sec.Content)
		return revealed{}, &storeFailed{"reveal", err}
	case claimedBlob == nil || !claimed || !bytes.Equal(claimedBlob, blob): // another reader, or the last wrong guess, won
		clear(sec.Content)
		return revealed{}, errSecretNotFound
	}
	return revealed{Secret: sec, created: createdAt}, nil
}

// wrongGuess counts one wrong passphrase: 403 with the attempts left, or
// the reveal's 404 when the secret went meanwhile.
func (p *secrets) wrongGuess(ctx context.Context, lookupKey string) error {
	left, gone, err := p.store.WrongGuess(ctx, lookupKey, p.maxAttempts)
	switch {
	case err != nil: // not counted as far as anyone can tell: an outage, never a free guess
		return &storeFailed{"guess", err}
	case gone:
		return errSecretNotFound
	}
	return &attemptsError{wrong: true, left: left}
}

// burnable is every envelope prefix this server can open, with a
// passphrase or without: a burn needs no passphrase (the URL's holder
// could spend the attempts anyway), only a blob this server could open.
func burnable(s Sealer) []string {
	return append(append([]string(nil), s.Openable()...), s.OpenableWithPassphrase()...)
}
