package client

import (
	"errors"

	"github.com/readonce/readonce/client/e2e"
	"github.com/readonce/readonce/seal"
)

// EndToEndMediaType marks an end-to-end ciphertext on the server (package
// e2e has the format).
const EndToEndMediaType = e2e.MediaType

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
	if s.File != nil {
		return e2e.Encrypt(seal.Secret{Content: s.File.Data, File: true, Filename: s.File.Name, MediaType: s.File.MediaType})
	}
	return e2e.Encrypt(seal.Secret{Content: []byte(s.Text)})
}

// DecryptEndToEnd opens a ciphertext with the link's key; any failure is
// a *DecryptError.
func DecryptEndToEnd(key string, ciphertext []byte) (*Secret, error) {
	s, err := e2e.Decrypt(key, ciphertext)
	if errors.Is(err, e2e.ErrDecrypt) {
		return nil, &DecryptError{}
	}
	if err != nil {
		return nil, err
	}
	if !s.File {
		return &Secret{Text: string(s.Content)}, nil
	}
	return &Secret{File: &File{Name: s.Filename, MediaType: s.MediaType, Data: s.Content}}, nil
}

var errNotALink = errors.New("readonce: not an access key or a readonce link") // the input is never echoed: it may be a secret
