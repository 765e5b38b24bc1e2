// Package e2e is readonce's end-to-end ciphertext: what the create page
// (server/web/e2e.js), the Go client and `readonce send` post as
// content_base64 when the client encrypts, so the server stores a secret
// it cannot read. Both implementations open the same vectors
// (testdata/v1.json) and write them again byte for byte.
//
// Version 1:
//
//	offset  size     field
//	0       1        version: 0x01
//	1       12       nonce: random, fresh for every secret
//	13      n + 16   AES-256-GCM(key, nonce, body, ad) — ciphertext and tag
//
//	key  32 random bytes, fresh for every secret; it travels only in the
//	     share link's fragment: PUBLIC_URL/s#<access key>.<key>, both
//	     base64url without padding (43 characters each). Browsers never send
//	     a fragment to a server, and the server never sees the key.
//	ad   the 12 bytes "readonce/e2e" followed by the version byte
//	body the body sealed envelopes carry (seal/doc.go, "The body"): kind
//	     0x01 text (u32 length, content) or 0x02 file (u8 name length,
//	     name, u8 type length, media type, u32 length, content), all
//	     integers big-endian, zero-padded to 256 bytes, then to Padmé
//	     buckets (at most 12 % more), so the server sees a size class, not
//	     a length — and never a file's name or type.
//
// The ciphertext is posted with media_type MediaType and no filename. The
// server takes one of up to MaxLen(MAX_FILE_BYTES) bytes: what a file of
// MAX_FILE_BYTES becomes, so the limit means the same in both modes. A
// passphrase and a receipt work as for any secret: the server seals the
// ciphertext once more.
package e2e

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"

	"github.com/readonce/readonce/seal"
)

const (
	// MediaType marks an end-to-end ciphertext on the server.
	MediaType = "application/vnd.readonce.e2e"

	version1   = 0x01
	nonceSize  = 12
	headerSize = 1 + nonceSize
	tagSize    = 16
	keySize    = 32
	label      = "readonce/e2e"
)

// ErrDecrypt is every failure to open a ciphertext: a key that is not 32
// base64url bytes, another version, a changed byte, a body not framed
// right. Which one is not told.
var ErrDecrypt = errors.New("e2e: cannot decrypt: the key is wrong or the data was altered")

// linkKey spells a key one way only (Strict: no stray trailing bits).
var linkKey = base64.RawURLEncoding.Strict()

// Encrypt encrypts s under a fresh key, returned base64url for the link's
// fragment.
func Encrypt(s seal.Secret) (ciphertext []byte, key string, err error) {
	var k [keySize]byte
	var nonce [nonceSize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, "", err
	}
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, "", err
	}
	ciphertext, err = encryptWith(k, nonce, s)
	return ciphertext, linkKey.EncodeToString(k[:]), err
}

// encryptWith is Encrypt with a given key and nonce: the vectors' way to
// check both implementations write the same bytes.
func encryptWith(k [keySize]byte, nonce [nonceSize]byte, s seal.Secret) ([]byte, error) {
	n, err := seal.BodyLen(s)
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerSize+n, headerSize+n+tagSize)
	out[0] = version1
	copy(out[1:], nonce[:])
	seal.PutBody(out[headerSize:], s)
	aead, err := newAEAD(k[:])
	if err != nil {
		return nil, err
	}
	// In place: the body is encrypted where it was built.
	return aead.Seal(out[:headerSize], nonce[:], out[headerSize:], ad()), nil
}

// Decrypt opens a version-1 ciphertext with a link's key; the content is
// a new slice. A file's name is the sender's, checked by no server.
func Decrypt(key string, ciphertext []byte) (seal.Secret, error) {
	k, err := linkKey.DecodeString(key)
	if err != nil || len(k) != keySize || len(ciphertext) < headerSize+tagSize || ciphertext[0] != version1 {
		return seal.Secret{}, ErrDecrypt
	}
	aead, err := newAEAD(k)
	if err != nil {
		return seal.Secret{}, err
	}
	plain, err := aead.Open(nil, ciphertext[1:headerSize], ciphertext[headerSize:], ad())
	if err != nil {
		return seal.Secret{}, ErrDecrypt
	}
	s, ok := seal.ParseBody(plain)
	if !ok {
		return seal.Secret{}, ErrDecrypt
	}
	return s, nil
}

// ValidKey says whether s could be a link's key, before any request.
func ValidKey(s string) bool {
	k, err := linkKey.DecodeString(s)
	return err == nil && len(k) == keySize
}

// Len is the length of s's ciphertext.
func Len(s seal.Secret) (int, error) {
	n, err := seal.BodyLen(s)
	return headerSize + n + tagSize, err
}

// MaxLen is the longest ciphertext of a secret of at most maxContent
// bytes: a file of that size with a name and a type of 255 bytes each.
func MaxLen(maxContent int) int { return headerSize + seal.MaxBodyLen(maxContent) + tagSize }

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func ad() []byte { return append([]byte(label), version1) }
