package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"sync"
	"time"
)

// Labels, one per purpose and versioned, so no two derivations can collide.
const (
	labelLookup  = "readonce/v1/lookup"
	labelData    = "readonce/v1/data"
	labelDataV2  = "readonce/v2/data"
	labelDataV4  = "readonce/v4/data"
	labelPepper  = "readonce/v1/pepper"
	labelKeyID   = "readonce/v1/key-id"
	labelReceipt = "readonce/v1/receipt"

	lookupPrefix  = "readonce:v1:"
	receiptPrefix = "readonce:v1:receipt:"
)

// Sizes of the wire format; see the package comment.
const (
	accessKeyBytes = 32
	// accessKeyLen is the length of an encoded access key.
	accessKeyLen = 43

	version1  = 0x01
	version2  = 0x02 // the v1 layout under an HMAC data key; no longer written
	version4  = 0x04 // what Seal writes: v2's layout holding a padded body (body.go)
	keyIDSize = 4
	nonceSize = 12
	tagSize   = 16

	// Offsets of the envelope's fields (doc.go draws them).
	offVersion    = 0
	offKeyID      = offVersion + 1
	offCreated    = offKeyID + keyIDSize
	offExpires    = offCreated + 8
	offNonce      = offExpires + 8
	offCiphertext = offNonce + nonceSize
	headerSize    = offNonce // authenticated prefix: version, key id, times
	// overhead is how many bytes an envelope adds to its content.
	overhead = headerSize + nonceSize + tagSize
)

// ErrOpen is the one error for every envelope that cannot be opened: it says
// nothing about why, by design.
var ErrOpen = errors.New("seal: cannot open envelope")

var b64 = base64.RawURLEncoding.Strict()

// Sealer seals with the current server key and opens with the current or any
// previous one.
type Sealer struct {
	current   serverKey
	byID      map[[keyIDSize]byte]serverKey
	openable  []string // v4, v2 and v1 prefixes: open with the access key alone
	protected []string // v3 prefixes: open with a passphrase too
	kdf       KDF      // what SealWithPassphrase stretches with
}

type serverKey struct {
	id     [keyIDSize]byte
	pepper []byte
	macs   *sync.Pool // of *dataMAC keyed by pepper: v2 data keys without allocating
}

// dataMAC is HMAC-SHA256 keyed by one pepper, with room for its input and
// output, so deriving a v2 or v4 data key allocates nothing.
type dataMAC struct {
	h   hash.Hash
	in  [len(labelDataV2) + accessKeyBytes]byte // the labels are all as long
	sum [sha256.Size]byte
}

// New returns a Sealer that seals with current and also opens envelopes
// peppered by any of previous (key rotation).
func New(current []byte, previous ...[]byte) (*Sealer, error) {
	if len(current) == 0 {
		return nil, errors.New("seal: empty server key")
	}
	s := &Sealer{byID: make(map[[keyIDSize]byte]serverKey, 1+len(previous)), kdf: DefaultKDF}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) == 0 {
			return nil, errors.New("seal: empty previous server key")
		}
		sk, err := deriveServerKey(k)
		if err != nil {
			return nil, err
		}
		if _, dup := s.byID[sk.id]; dup {
			return nil, fmt.Errorf("seal: server key %d repeats an earlier one", i)
		}
		s.byID[sk.id] = sk
		for _, v := range []byte{version4, version2, version1} {
			s.openable = append(s.openable, string(append([]byte{v}, sk.id[:]...)))
		}
		s.protected = append(s.protected, string(append([]byte{version3}, sk.id[:]...)))
		if i == 0 {
			s.current = sk
		}
	}
	return s, nil
}

func deriveServerKey(secret []byte) (serverKey, error) {
	var sk serverKey
	id, err := hkdf.Key(sha256.New, secret, nil, labelKeyID, keyIDSize)
	if err != nil {
		return sk, fmt.Errorf("seal: derive key id: %w", err)
	}
	copy(sk.id[:], id)
	sk.pepper, err = hkdf.Key(sha256.New, secret, nil, labelPepper, 32)
	if err != nil {
		return sk, fmt.Errorf("seal: derive pepper: %w", err)
	}
	pepper := sk.pepper
	sk.macs = &sync.Pool{New: func() any { return &dataMAC{h: hmac.New(sha256.New, pepper)} }}
	return sk, nil
}

// Openable returns the prefixes (version and key id) of every envelope this
// Sealer can open with the access key alone: a blob that begins with none
// of them was sealed under a server key it does not hold, or needs a
// passphrase too ([Sealer.OpenableWithPassphrase]). The store uses them to
// refuse claiming a blob this server cannot open. The slice is shared; do
// not modify it.
func (s *Sealer) Openable() []string { return s.openable }

// LogValue keeps key material out of logs.
func (s *Sealer) LogValue() slog.Value { return slog.StringValue("[sealer]") }

// NewAccessKey returns a fresh random access key, encoded.
func (s *Sealer) NewAccessKey() (string, error) {
	var k [accessKeyBytes]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", fmt.Errorf("seal: access key: %w", err)
	}
	var out [accessKeyLen]byte
	b64.Encode(out[:], k[:])
	return string(out[:]), nil
}

// NewReceiptToken returns a fresh random receipt token: 32 bytes from
// crypto/rand, drawn apart from the access key, so neither can be derived
// from the other.
func (s *Sealer) NewReceiptToken() (string, error) { return s.NewAccessKey() }

// ReceiptKey returns the store key under which a receipt token finds its
// receipt: "readonce:v1:receipt:" + base64url(SHA-256("readonce/v1/receipt"
// ‖ token bytes)), one-way like LookupKey, so a dump yields no token. ok is
// false for a malformed token.
func (s *Sealer) ReceiptKey(token string) (string, bool) {
	return storeKey(receiptPrefix, labelReceipt, token) // a token has an access key's shape
}

// LookupKey returns the store key for an access key, and false when the
// access key is malformed (wrong length or alphabet, non-canonical encoding).
func (s *Sealer) LookupKey(accessKey string) (string, bool) { return LookupKey(accessKey) }

// LookupKey is [Sealer.LookupKey] without a Sealer: it needs no server key.
func LookupKey(accessKey string) (string, bool) {
	return storeKey(lookupPrefix, labelLookup, accessKey)
}

// storeKey is prefix + base64url(SHA-256(label ‖ the 32 bytes of key)), or
// false for a malformed key. One allocation: the string.
func storeKey(prefix, label, key string) (string, bool) {
	k, ok := decodeAccessKey(key)
	if !ok {
		return "", false
	}
	var in [64]byte // label (at most 20 bytes) and key: on the stack
	n := copy(in[:], label)
	n += copy(in[n:], k[:])
	sum := sha256.Sum256(in[:n])
	var out [64]byte
	m := copy(out[:], prefix)
	b64.Encode(out[m:], sum[:])
	return string(out[:m+43]), true
}

func decodeAccessKey(s string) (k [accessKeyBytes]byte, ok bool) {
	if len(s) != accessKeyLen {
		return k, false
	}
	n, err := b64.Decode(k[:], []byte(s))
	return k, err == nil && n == accessKeyBytes
}

// Seal encrypts content (text) for the holder of accessKey, bound to
// lookupKey and to both times: [Sealer.SealSecret] without a passphrase.
func (s *Sealer) Seal(accessKey, lookupKey string, content []byte, created, expires time.Time) ([]byte, error) {
	return s.SealSecret(accessKey, lookupKey, Secret{Content: content}, nil, created, expires)
}

// SealSecret seals sec for the holder of accessKey, bound to lookupKey and
// to both times: an envelope of version 4, or of version 3 when passphrase
// is not empty (it then opens only with the passphrase too). Nothing of sec
// or passphrase is retained or cleared.
func (s *Sealer) SealSecret(accessKey, lookupKey string, sec Secret, passphrase []byte, created, expires time.Time) ([]byte, error) {
	if len(passphrase) > 0 {
		return s.sealProtected(accessKey, lookupKey, sec, passphrase, created, expires)
	}
	k, ok := decodeAccessKey(accessKey)
	if !ok {
		return nil, errors.New("seal: malformed access key")
	}
	n, err := BodyLen(sec)
	if err != nil {
		return nil, err
	}
	blob := make([]byte, offCiphertext+n, offCiphertext+n+tagSize)
	blob[offVersion] = version4
	copy(blob[offKeyID:], s.current.id[:])
	binary.BigEndian.PutUint64(blob[offCreated:], uint64(created.UnixMicro()))
	binary.BigEndian.PutUint64(blob[offExpires:], uint64(expires.UnixMicro()))
	nonce := blob[offNonce:offCiphertext]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	PutBody(blob[offCiphertext:], sec)
	aead, err := s.current.dataAEAD(version4, k)
	if err != nil {
		clear(blob[offCiphertext:])
		return nil, err
	}
	ad := adBuffers.Get().(*adBuffer)
	defer adBuffers.Put(ad)
	// In place: the body is overwritten by its ciphertext, no second copy.
	return aead.Seal(blob[:offCiphertext], nonce, blob[offCiphertext:], associatedData(ad[:], blob, lookupKey)), nil
}

// Open authenticates and decrypts an envelope and returns its content (of
// a file too). Any failure is [ErrOpen], but for a sound passphrase-
// protected envelope: [ErrPassphraseRequired], with its times. Open does
// not judge expiry: the caller compares expires with its clock.
func (s *Sealer) Open(accessKey, lookupKey string, blob []byte) (content []byte, created, expires time.Time, err error) {
	sec, created, expires, err := s.OpenSecret(accessKey, lookupKey, blob, nil)
	return sec.Content, created, expires, err
}

// OpenSecret opens any envelope this Sealer made or can open: a protected
// one (version 3) with passphrase, every other without it. Failures are
// those of [Sealer.Open] and [Sealer.OpenWithPassphrase].
func (s *Sealer) OpenSecret(accessKey, lookupKey string, blob, passphrase []byte) (sec Secret, created, expires time.Time, err error) {
	if Protected(blob) {
		return s.openProtected(accessKey, lookupKey, blob, passphrase)
	}
	if len(blob) < overhead {
		return sec, created, expires, ErrOpen
	}
	version := blob[offVersion]
	if version != version1 && version != version2 && version != version4 {
		return sec, created, expires, ErrOpen
	}
	k, ok := decodeAccessKey(accessKey)
	if !ok {
		return sec, created, expires, ErrOpen
	}
	sk, ok := s.byID[[keyIDSize]byte(blob[offKeyID:offCreated])]
	if !ok {
		return sec, created, expires, ErrOpen
	}
	aead, err := sk.dataAEAD(version, k)
	if err != nil {
		return sec, created, expires, ErrOpen
	}
	nonce := blob[offNonce:offCiphertext]
	ad := adBuffers.Get().(*adBuffer)
	defer adBuffers.Put(ad)
	plain, err := aead.Open(nil, nonce, blob[offCiphertext:], associatedData(ad[:], blob, lookupKey))
	if err != nil {
		return sec, created, expires, ErrOpen
	}
	if version == version4 {
		var ok bool
		if sec, ok = ParseBody(plain); !ok { // authentic, yet not a body: not ours
			clear(plain)
			return Secret{}, created, expires, ErrOpen
		}
	} else {
		sec.Content = plain // versions 1 and 2 hold the text itself
	}
	created, expires = times(blob)
	return sec, created, expires, nil
}

func times(blob []byte) (created, expires time.Time) {
	created = time.UnixMicro(int64(binary.BigEndian.Uint64(blob[offCreated:]))).UTC()
	expires = time.UnixMicro(int64(binary.BigEndian.Uint64(blob[offExpires:]))).UTC()
	return created, expires
}

// adBuffer is scratch space for associated data (lookup keys are 55
// bytes); pooled, since a buffer handed to the AEAD interface escapes.
type adBuffer [headerSize + 64]byte

var adBuffers = sync.Pool{New: func() any { return new(adBuffer) }}

// associatedData is the header followed by the lookup key, in buf.
func associatedData(buf []byte, blob []byte, lookupKey string) []byte {
	return append(append(buf[:0], blob[:headerSize]...), lookupKey...)
}

// dataAEAD is the AES-256-GCM of one envelope: its data key comes from the
// access key and this server key's pepper, by the envelope version's rule.
func (sk serverKey) dataAEAD(version byte, accessKey [accessKeyBytes]byte) (cipher.AEAD, error) {
	var key [32]byte
	switch version {
	case version1:
		k, err := dataKeyV1(accessKey, sk.pepper)
		if err != nil {
			return nil, err
		}
		key = k
	case version2:
		key = sk.dataKeyHMAC(labelDataV2, accessKey)
	default:
		key = sk.dataKeyHMAC(labelDataV4, accessKey)
	}
	defer clear(key[:])
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("seal: cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// dataKeyV1 is HKDF-SHA256(secret = access key, salt = pepper, info =
// "readonce/v1/data"). Apart, so that only v1 envelopes pay for its copy of
// the access key escaping to the heap.
func dataKeyV1(accessKey [accessKeyBytes]byte, pepper []byte) ([32]byte, error) {
	k, err := hkdf.Key(sha256.New, accessKey[:], pepper, labelData, 32)
	if err != nil {
		return [32]byte{}, fmt.Errorf("seal: derive data key: %w", err)
	}
	return [32]byte(k), nil
}

// dataKeyHMAC is HMAC-SHA256(pepper, label ‖ access key), the data key of
// versions 2 ("readonce/v2/data") and 4 ("readonce/v4/data"): one HMAC from
// a pool instead of HKDF's two, built anew each time.
func (sk serverKey) dataKeyHMAC(label string, accessKey [accessKeyBytes]byte) [32]byte {
	m := sk.macs.Get().(*dataMAC)
	defer sk.macs.Put(m)
	copy(m.in[:], label)
	copy(m.in[len(labelDataV2):], accessKey[:])
	m.h.Reset()
	m.h.Write(m.in[:])
	m.h.Sum(m.sum[:0])
	key := m.sum
	clear(m.in[len(labelDataV2):])
	clear(m.sum[:])
	return key
}
