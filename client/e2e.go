package client

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"

	"github.com/readonce/readonce/seal"
)

// End-to-end ciphertext, version 1: what the create page (server/web/e2e.js)
// and this package post as content_base64 when the client encrypts, so the
// server stores a secret it cannot read. Both implement these bytes and
// open the same vectors (testdata/e2e-v1.json).
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
// The ciphertext is posted with media_type EndToEndMediaType and no
// filename, so MAX_FILE_BYTES bounds it (the padding included) and a
// reveal without the key can say what it got. A passphrase and a receipt
// work as for any secret: the server seals the ciphertext once more.
const (
	// EndToEndMediaType marks an end-to-end ciphertext on the server.
	EndToEndMediaType = "application/vnd.readonce.e2e"

	e2eVersion1   = 0x01
	e2eNonceSize  = 12
	e2eHeaderSize = 1 + e2eNonceSize
	e2eTagSize    = 16
	e2eKeySize    = 32
	e2eLabel      = "readonce/e2e"
)

// linkKey spells a key one way only (Strict: no stray trailing bits).
var linkKey = base64.RawURLEncoding.Strict()

// DecryptError: the secret was revealed — so it is destroyed on the server
// — but its end-to-end ciphertext could not be opened: the link's key is
// missing (MissingKey) or wrong, or the ciphertext was altered.
type DecryptError struct{ MissingKey bool }

func (e *DecryptError) Error() string {
	if e.MissingKey {
		return "readonce: the secret is end-to-end encrypted and the link has no key (the part after the dot); it was revealed, so it is destroyed now"
	}
	return "readonce: the secret could not be decrypted: the link's key is wrong or the data was altered; it was revealed, so it is destroyed now"
}

// EncryptEndToEnd encrypts s (its Text, or its File with name and type)
// under a fresh key, returned base64url for the link's fragment.
func EncryptEndToEnd(s Secret) (ciphertext []byte, key string, err error) {
	var k [e2eKeySize]byte
	var nonce [e2eNonceSize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, "", err
	}
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, "", err
	}
	ciphertext, err = encryptWith(k, nonce, s)
	return ciphertext, linkKey.EncodeToString(k[:]), err
}

// encryptWith is EncryptEndToEnd with a given key and nonce: the vectors'
// way to check both implementations write the same bytes.
func encryptWith(k [e2eKeySize]byte, nonce [e2eNonceSize]byte, s Secret) ([]byte, error) {
	body := bodyOf(s)
	n, err := seal.BodyLen(body)
	if err != nil {
		return nil, err
	}
	out := make([]byte, e2eHeaderSize+n, e2eHeaderSize+n+e2eTagSize)
	out[0] = e2eVersion1
	copy(out[1:], nonce[:])
	seal.PutBody(out[e2eHeaderSize:], body)
	aead, err := e2eAEAD(k[:])
	if err != nil {
		return nil, err
	}
	// In place: the body is encrypted where it was built.
	return aead.Seal(out[:e2eHeaderSize], nonce[:], out[e2eHeaderSize:], e2eAD()), nil
}

// DecryptEndToEnd opens a version-1 ciphertext with the link's key. Any
// failure — a key that is not 32 base64url bytes, another version, a
// tampered byte, a body that is not framed right — is a *DecryptError.
func DecryptEndToEnd(key string, ciphertext []byte) (*Secret, error) {
	k, err := linkKey.DecodeString(key)
	if err != nil || len(k) != e2eKeySize || len(ciphertext) < e2eHeaderSize+e2eTagSize || ciphertext[0] != e2eVersion1 {
		return nil, &DecryptError{}
	}
	aead, err := e2eAEAD(k)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, ciphertext[1:e2eHeaderSize], ciphertext[e2eHeaderSize:], e2eAD())
	if err != nil {
		return nil, &DecryptError{}
	}
	body, ok := seal.ParseBody(plain)
	if !ok {
		return nil, &DecryptError{}
	}
	if !body.File {
		return &Secret{Text: string(body.Content)}, nil
	}
	return &Secret{File: &File{Name: body.Filename, MediaType: body.MediaType, Data: body.Content}}, nil
}

func bodyOf(s Secret) seal.Secret {
	if s.File != nil {
		return seal.Secret{Content: s.File.Data, File: true, Filename: s.File.Name, MediaType: s.File.MediaType}
	}
	return seal.Secret{Content: []byte(s.Text)}
}

func e2eAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func e2eAD() []byte { return append([]byte(e2eLabel), e2eVersion1) }

// validLinkKey says whether s could be a link's key, before any request.
func validLinkKey(s string) bool {
	k, err := linkKey.DecodeString(s)
	return err == nil && len(k) == e2eKeySize
}

var errNotALink = errors.New("readonce: not an access key or a readonce link") // the input is never echoed: it may be a secret
