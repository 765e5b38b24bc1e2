package seal

import (
	"encoding/binary"
	"errors"
)

// The body: what envelopes of version 3 (inside the lock) and 4 encrypt,
// and what the client's end-to-end ciphertext carries (package client).
// A kind byte, the kind's fields, the content, and zero padding to a size
// bucket, so a dump shows a size class, not a length. doc.go draws it.

const (
	kindText = 0x01 // length, content
	kindFile = 0x02 // name, media type, length, content

	offBodyLength = 1 // of a text body's content length
	offBodyData   = 5 // of a text body's content
	minBodySize   = 256

	// MaxFilenameBytes and MaxMediaTypeBytes bound the sealed file fields
	// (each has a one-byte length).
	MaxFilenameBytes  = 255
	MaxMediaTypeBytes = 255
)

// Secret is what an envelope carries: the content, and for a file its name
// (may be empty) and media type. Checking a name or type for safety is the
// caller's job; seal only bounds their lengths.
type Secret struct {
	Content   []byte
	File      bool
	Filename  string
	MediaType string
}

// BodyLen is the padded size of s's body, or an error for fields too long.
func BodyLen(s Secret) (int, error) {
	n := offBodyData + len(s.Content)
	if s.File {
		if len(s.Filename) > MaxFilenameBytes || len(s.MediaType) > MaxMediaTypeBytes {
			return 0, errors.New("seal: file name or media type too long")
		}
		n += 2 + len(s.Filename) + len(s.MediaType)
	}
	if uint64(len(s.Content)) > 1<<32-1 {
		return 0, errors.New("seal: content too large")
	}
	return paddedLen(n), nil
}

// MaxBodyLen is the padded body of the largest secret of contentLen
// bytes: a file whose name and type are at their maximum.
func MaxBodyLen(contentLen int) int {
	return paddedLen(offBodyData + 2 + MaxFilenameBytes + MaxMediaTypeBytes + contentLen)
}

// PutBody writes s's body into dst, which is BodyLen(s) long and zeroed.
func PutBody(dst []byte, s Secret) {
	i := 1
	dst[0] = kindText
	if s.File {
		dst[0] = kindFile
		dst[i] = byte(len(s.Filename))
		i += 1 + copy(dst[i+1:], s.Filename)
		dst[i] = byte(len(s.MediaType))
		i += 1 + copy(dst[i+1:], s.MediaType)
	}
	binary.BigEndian.PutUint32(dst[i:], uint32(len(s.Content)))
	copy(dst[i+4:], s.Content)
}

// ParseBody checks a body's framing (kind, field lengths, zero padding of
// the right size) and returns its secret; the content is a slice of body.
func ParseBody(body []byte) (Secret, bool) {
	var s Secret
	if len(body) < offBodyData {
		return s, false
	}
	i := 1
	switch body[0] {
	case kindText:
	case kindFile:
		s.File = true
		var ok bool
		if s.Filename, i, ok = field(body, i); !ok {
			return Secret{}, false
		}
		if s.MediaType, i, ok = field(body, i); !ok {
			return Secret{}, false
		}
	default:
		return Secret{}, false
	}
	if len(body) < i+4 {
		return Secret{}, false
	}
	n := int(binary.BigEndian.Uint32(body[i:]))
	start := i + 4
	if n > len(body)-start || paddedLen(start+n) != len(body) {
		return Secret{}, false
	}
	for _, b := range body[start+n:] {
		if b != 0 {
			return Secret{}, false
		}
	}
	s.Content = body[start : start+n]
	return s, true
}

// field reads a one-byte length and that many bytes at i.
func field(body []byte, i int) (string, int, bool) {
	if i >= len(body) || i+1+int(body[i]) > len(body) {
		return "", i, false
	}
	n := int(body[i])
	return string(body[i+1 : i+1+n]), i + 1 + n, true
}

// paddedLen is the size bucket of an n-byte body: 256 bytes at least, then
// Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files
// and Communication with PURBs", PETS 2019): at most 12% larger, and a
// length leaks O(log log n) bits instead of O(log n).
func paddedLen(n int) int {
	if n <= minBodySize {
		return minBodySize
	}
	e := bitLen(n) - 1   // floor(log2 n)
	s := bitLen(e)       // floor(log2 e) + 1
	mask := 1<<(e-s) - 1 // the low bits Padmé zeroes
	return (n + mask) &^ mask
}

func bitLen(n int) int {
	l := 0
	for ; n > 0; n >>= 1 {
		l++
	}
	return l
}
