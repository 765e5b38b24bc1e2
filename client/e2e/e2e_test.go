package e2e

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/readonce/readonce/seal"
)

// The vectors are frozen: a change to the format is a new version, with
// vectors of its own. -write-vectors regenerates them from encryptWith,
// only for a new file.
var writeVectors = flag.Bool("write-vectors", false, "write testdata/v1.json")

const vectorsFile = "testdata/v1.json"

// e2eVectors is testdata/v1.json; the page's implementation opens the
// same file in the browser tests (server/e2e_browser_test.go).
type e2eVectors struct {
	Format   string        `json:"format"`
	Vectors  []e2eVector   `json:"vectors"`
	Negative []e2eNegative `json:"negative"`
}

type e2eVector struct {
	Name       string   `json:"name"`
	Key        string   `json:"key"`   // base64url, as in a link
	Nonce      string   `json:"nonce"` // hex
	Text       *string  `json:"text,omitempty"`
	File       *e2eFile `json:"file,omitempty"`
	Ciphertext string   `json:"ciphertext_base64"`
}

type e2eFile struct {
	Name      string `json:"name"`
	MediaType string `json:"media_type"`
	Content   string `json:"content_base64"`
}

type e2eNegative struct {
	Name       string `json:"name"`
	Key        string `json:"key"`
	Ciphertext string `json:"ciphertext_base64"`
}

func (v e2eVector) secret(t *testing.T) seal.Secret {
	t.Helper()
	if v.Text != nil {
		return seal.Secret{Content: []byte(*v.Text)}
	}
	data, err := base64.StdEncoding.DecodeString(v.File.Content)
	if err != nil {
		t.Fatal(err)
	}
	return seal.Secret{Content: data, File: true, Filename: v.File.Name, MediaType: v.File.MediaType}
}

func TestEndToEndVectors(t *testing.T) {
	if *writeVectors {
		writeVectorFile(t)
	}
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vs e2eVectors
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs.Vectors) < 6 || len(vs.Negative) < 6 {
		t.Fatalf("%d vectors, %d negative: the file lost some", len(vs.Vectors), len(vs.Negative))
	}
	for _, v := range vs.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			want := v.secret(t)
			ct, err := base64.StdEncoding.DecodeString(v.Ciphertext)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decrypt(v.Key, ct)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if got.File != want.File || got.Filename != want.Filename || got.MediaType != want.MediaType || !bytes.Equal(got.Content, want.Content) {
				t.Fatalf("opened %v %q %q %d bytes, want %v %q %q %d", got.File, got.Filename, got.MediaType, len(got.Content), want.File, want.Filename, want.MediaType, len(want.Content))
			}
			if n, _ := Len(want); n != len(ct) {
				t.Errorf("Len says %d, the ciphertext is %d", n, len(ct))
			}
			// Sealing is deterministic given key and nonce: the same bytes.
			key, nonce := vectorKey(t, v)
			again, err := encryptWith(key, nonce, want)
			if err != nil || !bytes.Equal(again, ct) {
				t.Fatalf("encrypting again gave other bytes (%v)", err)
			}
		})
	}
	for _, n := range vs.Negative {
		t.Run("negative/"+n.Name, func(t *testing.T) {
			ct, err := base64.StdEncoding.DecodeString(n.Ciphertext)
			if err != nil {
				t.Fatal(err)
			}
			if _, err = Decrypt(n.Key, ct); err != ErrDecrypt {
				t.Fatalf("opened, or failed otherwise than ErrDecrypt: %v", err)
			}
		})
	}
}

func vectorKey(t *testing.T, v e2eVector) (key [keySize]byte, nonce [nonceSize]byte) {
	t.Helper()
	k, err := linkKey.DecodeString(v.Key)
	n, err2 := hex.DecodeString(v.Nonce)
	if err != nil || err2 != nil || len(k) != keySize || len(n) != nonceSize {
		t.Fatalf("vector %s: bad key or nonce", v.Name)
	}
	copy(key[:], k)
	copy(nonce[:], n)
	return key, nonce
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []seal.Secret{
		{Content: []byte("x")},
		{Content: []byte(strings.Repeat("ü", 5000))},
		{Content: bytes.Repeat([]byte{0, 0xff}, 40000), File: true, Filename: "id_ed25519", MediaType: "application/x-pem-file"},
	} {
		ct, key, err := Encrypt(s)
		if err != nil {
			t.Fatal(err)
		}
		ct2, key2, _ := Encrypt(s)
		if key == key2 || bytes.Equal(ct[1:13], ct2[1:13]) {
			t.Fatal("a key or nonce was used twice")
		}
		if len(key) != 43 || !ValidKey(key) {
			t.Fatalf("key %d characters", len(key))
		}
		body, _ := seal.BodyLen(s)
		if n, _ := Len(s); len(ct) != 1+12+body+16 || n != len(ct) {
			t.Fatalf("ciphertext %d bytes, Len %d, want %d", len(ct), n, 1+12+body+16)
		}
		if len(ct) > MaxLen(len(s.Content)) {
			t.Fatalf("ciphertext %d bytes, over MaxLen %d", len(ct), MaxLen(len(s.Content)))
		}
		got, err := Decrypt(key, ct)
		if err != nil || !bytes.Equal(got.Content, s.Content) || got.Filename != s.Filename {
			t.Fatalf("round trip changed the secret (%v)", err)
		}
		if _, err := Decrypt(key2, ct); err != ErrDecrypt {
			t.Fatal("opened with another secret's key")
		}
	}
}

// MaxLen bounds every ciphertext of a file of n bytes, and is reached by
// the longest name and type.
func TestMaxLen(t *testing.T) {
	long := strings.Repeat("n", 255)
	for _, n := range []int{1, 200, 256, 1000, 65536, 1 << 20, 1<<20 + 1} {
		worst, _ := Len(seal.Secret{Content: make([]byte, n), File: true, Filename: long, MediaType: long})
		text, _ := Len(seal.Secret{Content: make([]byte, n)})
		if MaxLen(n) != worst || text > worst {
			t.Errorf("n=%d: MaxLen %d, the longest file %d, a text %d", n, MaxLen(n), worst, text)
		}
	}
}

// writeVectorFile makes the frozen vectors: fixed keys and nonces (never
// do this outside a test), a spread of texts and files, and the ways a
// ciphertext must fail.
func writeVectorFile(t *testing.T) {
	key := func(b byte) (k [keySize]byte) {
		for i := range k {
			k[i] = b + byte(i)
		}
		return k
	}
	nonce := func(b byte) (n [nonceSize]byte) {
		for i := range n {
			n[i] = b ^ byte(i*7)
		}
		return n
	}
	text := func(s string) *string { return &s }
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	large := bytes.Repeat([]byte("0123456789abcdef"), 320) // 5 120 bytes: a Padmé bucket past 256
	type file struct {
		Name, MediaType string
		Data            []byte
	}
	cases := []struct {
		name string
		text *string
		file *file
	}{
		{"short text", text("hunter2"), nil},
		{"unicode text", text("pässwörd 🔑 秘密\nline two"), nil},
		{"text crossing the first bucket", text(strings.Repeat("a", 300)), nil},
		{"empty text", text(""), nil},
		{"binary file", nil, &file{Name: "blob.bin", MediaType: "application/octet-stream", Data: binary}},
		{"file with a unicode name", nil, &file{Name: "clé privée 🔑.pem", MediaType: "application/x-pem-file", Data: []byte("-----BEGIN KEY-----\nMC4CAQ\n-----END KEY-----\n")}},
		{"file without name or type", nil, &file{Data: []byte{0, 1, 2, 0}}},
		{"larger file", nil, &file{Name: "config.json", MediaType: "application/json", Data: large}},
	}
	var vs e2eVectors
	vs.Format = "readonce end-to-end ciphertext, version 1 (client/e2e/e2e.go)"
	for i, c := range cases {
		k, n := key(byte(i*32)), nonce(byte(i*16+1))
		var s seal.Secret
		if c.text != nil {
			s.Content = []byte(*c.text)
		} else {
			s = seal.Secret{Content: c.file.Data, File: true, Filename: c.file.Name, MediaType: c.file.MediaType}
		}
		ct, err := encryptWith(k, n, s)
		if err != nil {
			t.Fatal(err)
		}
		v := e2eVector{Name: c.name, Key: linkKey.EncodeToString(k[:]), Nonce: hex.EncodeToString(n[:]), Text: c.text, Ciphertext: base64.StdEncoding.EncodeToString(ct)}
		if c.file != nil {
			v.File = &e2eFile{Name: c.file.Name, MediaType: c.file.MediaType, Content: base64.StdEncoding.EncodeToString(c.file.Data)}
		}
		vs.Vectors = append(vs.Vectors, v)
	}
	good, _ := encryptWith(key(1), nonce(2), seal.Secret{Content: []byte("the secret")})
	edit := func(f func(b []byte) []byte) string {
		return base64.StdEncoding.EncodeToString(f(bytes.Clone(good)))
	}
	goodKey := linkKey.EncodeToString(func() []byte { k := key(1); return k[:] }())
	otherKey := linkKey.EncodeToString(func() []byte { k := key(2); return k[:] }())
	// A key whose last character carries stray low bits: the same 32 bytes
	// to a lax decoder, not a key to a strict one.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	strayBits := goodKey[:42] + string(alphabet[strings.IndexByte(alphabet, goodKey[42])+1])
	// An authentic ciphertext whose body is not framed right: padding that
	// is not zero.
	badBody := func() []byte {
		k, n := key(1), nonce(2)
		body := make([]byte, 256)
		seal.PutBody(body, seal.Secret{Content: []byte("the secret")})
		body[255] = 1
		block, _ := aes.NewCipher(k[:])
		aead, _ := cipher.NewGCM(block)
		return aead.Seal(append([]byte{version1}, n[:]...), n[:], body, ad())
	}()
	vs.Negative = []e2eNegative{
		{"a flipped ciphertext bit", goodKey, edit(func(b []byte) []byte { b[40] ^= 0x01; return b })},
		{"a flipped tag bit", goodKey, edit(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b })},
		{"a flipped nonce bit", goodKey, edit(func(b []byte) []byte { b[5] ^= 0x04; return b })},
		{"another version", goodKey, edit(func(b []byte) []byte { b[0] = 0x02; return b })},
		{"truncated", goodKey, edit(func(b []byte) []byte { return b[:len(b)-1] })},
		{"shorter than a header and a tag", goodKey, edit(func(b []byte) []byte { return b[:28] })},
		{"the wrong key", otherKey, edit(func(b []byte) []byte { return b })},
		{"a key of 31 bytes", linkKey.EncodeToString(make([]byte, 31)), edit(func(b []byte) []byte { return b })},
		{"a key with stray bits", strayBits, edit(func(b []byte) []byte { return b })},
		{"authentic, but the padding is not zero", goodKey, base64.StdEncoding.EncodeToString(badBody)},
	}
	out, err := json.MarshalIndent(vs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vectorsFile, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecrypt: any bytes and key either open to a well-framed secret or
// fail with ErrDecrypt, never panic; seeds are the vectors.
func FuzzDecrypt(f *testing.F) {
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		f.Fatal(err)
	}
	var vs e2eVectors
	json.Unmarshal(raw, &vs)
	for _, v := range vs.Vectors {
		ct, _ := base64.StdEncoding.DecodeString(v.Ciphertext)
		f.Add(v.Key, ct)
	}
	for _, n := range vs.Negative {
		ct, _ := base64.StdEncoding.DecodeString(n.Ciphertext)
		f.Add(n.Key, ct)
	}
	f.Fuzz(func(t *testing.T, key string, ct []byte) {
		s, err := Decrypt(key, ct)
		if err != nil && err != ErrDecrypt {
			t.Fatalf("a failure that is not ErrDecrypt: %v", err)
		}
		if err == nil && (!ValidKey(key) || len(s.Filename) > seal.MaxFilenameBytes) {
			t.Fatalf("opened with key %q to %+v", key, s)
		}
	})
}
