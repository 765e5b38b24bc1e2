package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"
)

// Passphrase-protected envelopes (version 3): the v2 layout, whose
// ciphertext holds a lock (Argon2id parameters, salt, an inner nonce) and,
// inside it, the body sealed a second time under a key that also needs the
// passphrase. doc.go draws both layers; this file builds and opens them.

const (
	version3 = 0x03 // passphrase-protected

	labelDataV3     = "readonce/v3/data"
	labelPassphrase = "readonce/v3/passphrase"

	kdfArgon2id = 0x13 // Argon2 version 1.3 (RFC 9106), the id variant
	saltSize    = 16

	// Offsets within the lock (the outer plaintext).
	offLockKDF    = 0
	offLockTime   = 1
	offLockMemory = 5
	offLockLanes  = 9
	offLockSalt   = 10
	offLockNonce  = offLockSalt + saltSize
	offLockSealed = offLockNonce + nonceSize // the inner ciphertext
	lockOverhead  = offLockSealed + tagSize
)

// KDF is the Argon2id cost of stretching a passphrase. Each envelope
// records the cost it was sealed with, so a change applies to new secrets
// and old ones keep opening.
type KDF struct {
	Time      uint32 // passes over the memory
	MemoryKiB uint32
	Lanes     uint8
}

// DefaultKDF is t=2, m=40 MiB, one lane: the costliest time×memory that
// keeps one attempt under ~50 ms on one core of the reference machine
// (46 ms there; t=3 at 32 MiB was 51 ms, t=2 at 46 MiB 52 ms). seal/doc.go
// says why; the server bounds how many run at once.
var DefaultKDF = KDF{Time: 2, MemoryKiB: 40 << 10, Lanes: 1}

// Bounds on a recorded cost: an envelope asking for more than this is not
// one this package wrote, and opening it must not take a server down.
const (
	maxKDFTime      = 16
	maxKDFMemoryKiB = 1 << 20 // 1 GiB
	maxKDFLanes     = 16
)

func (k KDF) valid() bool {
	return k.Time >= 1 && k.Time <= maxKDFTime && k.Lanes >= 1 && k.Lanes <= maxKDFLanes &&
		k.MemoryKiB >= 8*uint32(k.Lanes) && k.MemoryKiB <= maxKDFMemoryKiB
}

// WithKDF returns a copy of s that seals passphrases at cost k (tests and
// benchmarks use a cheap one). Opening follows each envelope's own cost.
func (s *Sealer) WithKDF(k KDF) (*Sealer, error) {
	if !k.valid() {
		return nil, fmt.Errorf("seal: Argon2id cost out of bounds: %+v", k)
	}
	c := *s
	c.kdf = k
	return &c, nil
}

// passphraseError is an envelope that authenticated under the access key
// and a server key, but whose content needs a passphrase.
type passphraseError string

func (e passphraseError) Error() string { return string(e) }

// PassphraseNeeded tells a caller that the envelope is sound and only the
// passphrase was missing or wrong: it is not a wrong SECRET_KEY.
func (e passphraseError) PassphraseNeeded() bool { return true }

var (
	// ErrPassphraseRequired: Open was given a protected envelope. Its times
	// are returned with it (they are authenticated).
	ErrPassphraseRequired error = passphraseError("seal: a passphrase is required")
	// ErrWrongPassphrase: the envelope is sound and the passphrase is not
	// its own.
	ErrWrongPassphrase error = passphraseError("seal: wrong passphrase")
)

// OpenableWithPassphrase returns the prefixes of the protected envelopes
// this Sealer can open, given the passphrase: version 3 and a key id it
// holds. [Sealer.Openable] does not list them, so a store that claims only
// Openable blobs never claims a protected one for a caller without one.
func (s *Sealer) OpenableWithPassphrase() []string { return s.protected }

// Protected reports whether blob is a passphrase-protected envelope.
func Protected(blob []byte) bool { return len(blob) > 0 && blob[offVersion] == version3 }

// SealWithPassphrase is [Sealer.Seal] for content that opens only with the
// access key and passphrase together: a store dump, SECRET_KEY and the URL
// still open nothing without it. passphrase is not retained or cleared.
func (s *Sealer) SealWithPassphrase(accessKey, lookupKey string, content, passphrase []byte, created, expires time.Time) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("seal: empty passphrase")
	}
	return s.SealSecret(accessKey, lookupKey, Secret{Content: content}, passphrase, created, expires)
}

// sealProtected writes a version 3 envelope of sec.
func (s *Sealer) sealProtected(accessKey, lookupKey string, sec Secret, passphrase []byte, created, expires time.Time) ([]byte, error) {
	k, ok := decodeAccessKey(accessKey)
	if !ok {
		return nil, errors.New("seal: malformed access key")
	}
	bodyLen, err := BodyLen(sec)
	if err != nil {
		return nil, err
	}
	lockLen := offLockSealed + bodyLen + tagSize
	blob := make([]byte, offCiphertext, offCiphertext+lockLen+tagSize)
	blob[offVersion] = version3
	copy(blob[offKeyID:], s.current.id[:])
	binary.BigEndian.PutUint64(blob[offCreated:], uint64(created.UnixMicro()))
	binary.BigEndian.PutUint64(blob[offExpires:], uint64(expires.UnixMicro()))
	if _, err := rand.Read(blob[offNonce:offCiphertext]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}

	lock := make([]byte, offLockSealed, lockLen)
	lock[offLockKDF] = kdfArgon2id
	binary.BigEndian.PutUint32(lock[offLockTime:], s.kdf.Time)
	binary.BigEndian.PutUint32(lock[offLockMemory:], s.kdf.MemoryKiB)
	lock[offLockLanes] = s.kdf.Lanes
	if _, err := rand.Read(lock[offLockSalt:offLockSealed]); err != nil { // salt and inner nonce
		return nil, fmt.Errorf("seal: salt: %w", err)
	}
	body := make([]byte, bodyLen)
	PutBody(body, sec)
	defer clear(body)

	outerKey := s.current.dataKeyV3(k)
	defer clear(outerKey[:])
	ad := associatedData(make([]byte, 0, headerSize+len(lookupKey)), blob, lookupKey)
	inner, err := passphraseAEAD(outerKey, passphrase, lock[:offLockNonce], s.kdf)
	if err != nil {
		return nil, err
	}
	lock = inner.Seal(lock, lock[offLockNonce:offLockSealed], body, ad)
	outer, err := newGCM(outerKey)
	if err != nil {
		return nil, err
	}
	return outer.Seal(blob, blob[offNonce:offCiphertext], lock, ad), nil
}

// OpenWithPassphrase opens any envelope: a protected one with passphrase,
// any other as [Sealer.Open] does (the passphrase is then not needed). A
// protected envelope that authenticates under the access key and a server
// key, with a passphrase that does not open it, fails with
// [ErrWrongPassphrase]; every other failure is [ErrOpen] and costs no
// Argon2 work.
func (s *Sealer) OpenWithPassphrase(accessKey, lookupKey string, blob, passphrase []byte) (content []byte, created, expires time.Time, err error) {
	sec, created, expires, err := s.OpenSecret(accessKey, lookupKey, blob, passphrase)
	return sec.Content, created, expires, err
}

// openProtected opens a version 3 envelope; without a passphrase it checks
// the outer layer and returns ErrPassphraseRequired with the times.
func (s *Sealer) openProtected(accessKey, lookupKey string, blob, passphrase []byte) (sec Secret, created, expires time.Time, err error) {
	lock, outerKey, err := s.openLock(accessKey, lookupKey, blob)
	if err != nil {
		return sec, created, expires, err
	}
	defer clear(outerKey[:])
	created, expires = times(blob)
	if len(passphrase) == 0 {
		return sec, created, expires, ErrPassphraseRequired
	}
	kdf := KDF{
		Time:      binary.BigEndian.Uint32(lock[offLockTime:]),
		MemoryKiB: binary.BigEndian.Uint32(lock[offLockMemory:]),
		Lanes:     lock[offLockLanes],
	}
	inner, err := passphraseAEAD(outerKey, passphrase, lock[:offLockNonce], kdf)
	if err != nil {
		return sec, created, expires, ErrOpen
	}
	ad := associatedData(make([]byte, 0, headerSize+len(lookupKey)), blob, lookupKey)
	body, err := inner.Open(nil, lock[offLockNonce:offLockSealed], lock[offLockSealed:], ad)
	if err != nil {
		return sec, created, expires, ErrWrongPassphrase
	}
	sec, ok := ParseBody(body)
	if !ok {
		clear(body)
		return Secret{}, time.Time{}, time.Time{}, ErrOpen
	}
	return sec, created, expires, nil
}

// openLock authenticates a version 3 envelope's outer layer and returns its
// lock, with the outer key (the caller clears it). A lock whose recorded
// cost is out of bounds or of an unknown KDF is refused here, before any
// Argon2 work.
func (s *Sealer) openLock(accessKey, lookupKey string, blob []byte) (lock []byte, outerKey [32]byte, err error) {
	if len(blob) < overhead+lockOverhead {
		return nil, outerKey, ErrOpen
	}
	k, ok := decodeAccessKey(accessKey)
	if !ok {
		return nil, outerKey, ErrOpen
	}
	sk, ok := s.byID[[keyIDSize]byte(blob[offKeyID:offCreated])]
	if !ok {
		return nil, outerKey, ErrOpen
	}
	outerKey = sk.dataKeyV3(k)
	outer, err := newGCM(outerKey)
	if err != nil {
		clear(outerKey[:])
		return nil, outerKey, ErrOpen
	}
	ad := associatedData(make([]byte, 0, headerSize+len(lookupKey)), blob, lookupKey)
	lock, err = outer.Open(nil, blob[offNonce:offCiphertext], blob[offCiphertext:], ad)
	kdf := KDF{Time: 1, MemoryKiB: 8, Lanes: 1}
	if err == nil && len(lock) >= lockOverhead {
		kdf = KDF{binary.BigEndian.Uint32(lock[offLockTime:]), binary.BigEndian.Uint32(lock[offLockMemory:]), lock[offLockLanes]}
	}
	if err != nil || len(lock) < lockOverhead || lock[offLockKDF] != kdfArgon2id || !kdf.valid() {
		clear(outerKey[:])
		return nil, [32]byte{}, ErrOpen
	}
	return lock, outerKey, nil
}

// passphraseAEAD is the inner layer's AES-256-GCM. Its key is
// HMAC-SHA256(key = the outer data key, "readonce/v3/passphrase" ‖
// Argon2id(passphrase, salt, cost) ‖ the lock's first 26 bytes), so it needs
// SECRET_KEY, the access key and the passphrase at once, and is bound to the
// cost and salt it was made with.
func passphraseAEAD(outerKey [32]byte, passphrase, lockHead []byte, kdf KDF) (cipher.AEAD, error) {
	stretched := argon2.IDKey(passphrase, lockHead[offLockSalt:offLockSalt+saltSize], kdf.Time, kdf.MemoryKiB, kdf.Lanes, 32)
	defer clear(stretched)
	m := hmac.New(sha256.New, outerKey[:])
	m.Write([]byte(labelPassphrase))
	m.Write(stretched)
	m.Write(lockHead)
	var key [32]byte
	m.Sum(key[:0])
	defer clear(key[:])
	return newGCM(key)
}

// dataKeyV3 is HMAC-SHA256(pepper, "readonce/v3/data" ‖ access key): v2's
// rule under its own label. Built anew: Argon2 dwarfs it.
func (sk serverKey) dataKeyV3(accessKey [accessKeyBytes]byte) [32]byte {
	m := hmac.New(sha256.New, sk.pepper)
	m.Write([]byte(labelDataV3))
	m.Write(accessKey[:])
	var key [32]byte
	m.Sum(key[:0])
	clear(accessKey[:])
	return key
}

func newGCM(key [32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("seal: cipher: %w", err)
	}
	return cipher.NewGCM(block)
}
