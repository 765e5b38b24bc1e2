package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden envelopes in testdata/")

var (
	testServerKey = []byte("0123456789abcdef0123456789abcdef-test-only")
	otherKey      = []byte("fedcba9876543210fedcba9876543210-test-only")
	created       = time.Date(2026, 9, 24, 12, 0, 0, 123456000, time.UTC)
	expires       = created.Add(24 * time.Hour)
)

func newSealer(t testing.TB, current []byte, previous ...[]byte) *Sealer {
	t.Helper()
	s, err := New(current, previous...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// sealOne makes an access key, its lookup key and an envelope of content.
func sealOne(t testing.TB, s *Sealer, content string) (ak, lk string, blob []byte) {
	t.Helper()
	ak, err := s.NewAccessKey()
	if err != nil {
		t.Fatal(err)
	}
	lk, ok := s.LookupKey(ak)
	if !ok {
		t.Fatalf("LookupKey rejected a fresh access key")
	}
	blob, err = s.Seal(ak, lk, []byte(content), created, expires)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return ak, lk, blob
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testServerKey)
	for _, content := range []string{"x", "hunter2", strings.Repeat("é", 40000)} {
		ak, lk, blob := sealOne(t, s, content)
		if got, want := len(blob), overhead+paddedLen(offBodyData+len(content)); got != want {
			t.Errorf("envelope length: got %d, want %d", got, want)
		}
		got, c, e, err := s.Open(ak, lk, blob)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if string(got) != content || !c.Equal(created) || !e.Equal(expires) {
			t.Errorf("Open: got (%d bytes, %v, %v), want (%d bytes, %v, %v)", len(got), c, e, len(content), created, expires)
		}
	}
}

func TestAccessKeyShape(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testServerKey)
	seen := map[string]bool{}
	for range 1000 {
		ak, err := s.NewAccessKey()
		if err != nil {
			t.Fatal(err)
		}
		if len(ak) != accessKeyLen || strings.ContainsAny(ak, "+/=") {
			t.Fatalf("access key %q: want 43 base64url characters without padding", ak)
		}
		if seen[ak] {
			t.Fatalf("access key repeated after %d draws", len(seen))
		}
		seen[ak] = true
	}
}

func TestLookupKey(t *testing.T) {
	t.Parallel()
	ak := strings.Repeat("A", 43)
	lk, ok := LookupKey(ak)
	if !ok {
		t.Fatal("LookupKey rejected a well-formed key")
	}
	if !strings.HasPrefix(lk, "readonce:v1:") || len(lk) != len("readonce:v1:")+43 {
		t.Errorf("lookup key %q: want readonce:v1: and 43 characters", lk)
	}
	if strings.Contains(lk, ak) {
		t.Errorf("lookup key contains the access key")
	}
	lk2, _ := LookupKey(strings.Repeat("A", 42) + "Q")
	if lk2 == lk {
		t.Errorf("two access keys share a lookup key")
	}
	for _, bad := range []string{
		"", "short", strings.Repeat("A", 42), strings.Repeat("A", 44),
		strings.Repeat("A", 42) + "=", strings.Repeat("A", 42) + "+", strings.Repeat("A", 42) + "/",
		strings.Repeat("A", 42) + "B", // non-canonical: trailing bits set
		strings.Repeat("A", 41) + "é",
		"../../../../../../../etc/passwd/../../../../x",
	} {
		if _, ok := LookupKey(bad); ok {
			t.Errorf("LookupKey(%q) accepted a malformed key", bad)
		}
	}
}

func TestOpenRejectsWrongContext(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testServerKey)
	ak, lk, blob := sealOne(t, s, "hunter2")
	ak2, lk2, _ := sealOne(t, s, "other")
	cases := map[string]func() ([]byte, time.Time, time.Time, error){
		"other access key":     func() ([]byte, time.Time, time.Time, error) { return s.Open(ak2, lk, blob) },
		"moved to another key": func() ([]byte, time.Time, time.Time, error) { return s.Open(ak, lk2, blob) },
		"other server key": func() ([]byte, time.Time, time.Time, error) {
			return newSealer(t, otherKey).Open(ak, lk, blob)
		},
		"empty":     func() ([]byte, time.Time, time.Time, error) { return s.Open(ak, lk, nil) },
		"truncated": func() ([]byte, time.Time, time.Time, error) { return s.Open(ak, lk, blob[:overhead-1]) },
		"extended": func() ([]byte, time.Time, time.Time, error) {
			return s.Open(ak, lk, append(bytes.Clone(blob), 0))
		},
		"relabelled as version 1": func() ([]byte, time.Time, time.Time, error) {
			b := bytes.Clone(blob)
			b[0] = version1
			return s.Open(ak, lk, b)
		},
		"relabelled as version 3 (protected)": func() ([]byte, time.Time, time.Time, error) {
			b := bytes.Clone(blob)
			b[0] = 3
			return s.Open(ak, lk, b)
		},
		"malformed access key": func() ([]byte, time.Time, time.Time, error) { return s.Open("x", lk, blob) },
	}
	for name, open := range cases {
		t.Run(name, func(t *testing.T) {
			content, _, _, err := open()
			if !errors.Is(err, ErrOpen) || content != nil {
				t.Errorf("got (%q, %v), want (nil, ErrOpen)", content, err)
			}
		})
	}
}

// Every single-bit change anywhere in an envelope must fail to open.
func TestOpenRejectsEveryBitFlip(t *testing.T) {
	t.Parallel()
	s := newSealer(t, testServerKey)
	ak, lk, blob := sealOne(t, s, "correct horse battery staple")
	for i := range len(blob) * 8 {
		b := bytes.Clone(blob)
		b[i/8] ^= 1 << (i % 8)
		if content, _, _, err := s.Open(ak, lk, b); !errors.Is(err, ErrOpen) {
			t.Fatalf("flip of bit %d (byte %d, %s) opened: %q, %v", i, i/8, part(i/8), content, err)
		}
	}
}

func part(offset int) string {
	switch {
	case offset == 0:
		return "version"
	case offset < 5:
		return "key id"
	case offset < 13:
		return "created_at"
	case offset < 21:
		return "expires_at"
	case offset < 33:
		return "nonce"
	default:
		return "ciphertext"
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old := newSealer(t, otherKey)
	ak, lk, blob := sealOne(t, old, "sealed before rotation")

	rotated := newSealer(t, testServerKey, otherKey)
	if got, _, _, err := rotated.Open(ak, lk, blob); err != nil || string(got) != "sealed before rotation" {
		t.Fatalf("rotated sealer: got (%q, %v), want the old secret", got, err)
	}
	ak2, lk2, blob2 := sealOne(t, rotated, "sealed after rotation")
	if _, _, _, err := old.Open(ak2, lk2, blob2); !errors.Is(err, ErrOpen) {
		t.Errorf("new envelope was sealed with the previous key")
	}
	if _, _, _, err := newSealer(t, testServerKey).Open(ak, lk, blob); !errors.Is(err, ErrOpen) {
		t.Errorf("an envelope of a dropped key still opens")
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	if _, err := New(nil); err == nil {
		t.Error("New accepted an empty key")
	}
	if _, err := New(testServerKey, testServerKey); err == nil {
		t.Error("New accepted a previous key equal to the current one")
	}
	if _, err := New(testServerKey, []byte{}); err == nil {
		t.Error("New accepted an empty previous key")
	}
}

// golden is one envelope written by an earlier build; it must keep opening.
type golden struct {
	Comment   string `json:"comment"`
	ServerKey string `json:"server_key"`
	AccessKey string `json:"access_key"`
	LookupKey string `json:"lookup_key"`
	Content   string `json:"content"`
	// Passphrase opens a version 3 envelope; empty for the others.
	Passphrase string `json:"passphrase,omitempty"`
	// A file's fields (versions 3 and 4); Content is then base64 (std).
	File      bool      `json:"file,omitempty"`
	Filename  string    `json:"filename,omitempty"`
	MediaType string    `json:"media_type,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Envelope  string    `json:"envelope"`
}

// TestGolden: every envelope version ever written keeps opening. Only the
// current version's file is ever rewritten (-update); older ones are frozen.
func TestGolden(t *testing.T) { // not parallel: -update writes v2.json before the negatives read it
	if *update { // v1.json and v2.json are frozen: nothing writes them any more
		writeGoldenV3(t, filepath.Join("testdata", "v3.json"))
		writeGolden(t, filepath.Join("testdata", "v4.json"))
	}
	for version, file := range map[byte]string{version1: "v1.json", version2: "v2.json", version3: "v3.json", version4: "v4.json"} {
		for _, g := range loadJSON[golden](t, filepath.Join("testdata", file)) {
			t.Run(file+"/"+g.Comment, func(t *testing.T) {
				blob, err := base64.StdEncoding.DecodeString(g.Envelope)
				if err != nil {
					t.Fatal(err)
				}
				if blob[offVersion] != version {
					t.Fatalf("%s holds a version %d envelope", file, blob[offVersion])
				}
				if lk, ok := LookupKey(g.AccessKey); !ok || lk != g.LookupKey {
					t.Errorf("lookup key: got %q, want %q", lk, g.LookupKey)
				}
				sec, c, e, err := newSealer(t, []byte(g.ServerKey)).OpenSecret(g.AccessKey, g.LookupKey, blob, []byte(g.Passphrase))
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				content := string(sec.Content)
				if g.File {
					content = base64.StdEncoding.EncodeToString(sec.Content)
				}
				if content != g.Content || !c.Equal(g.CreatedAt) || !e.Equal(g.ExpiresAt) {
					t.Errorf("got (%q, %v, %v), want (%q, %v, %v)", content, c, e, g.Content, g.CreatedAt, g.ExpiresAt)
				}
				if sec.File != g.File || sec.Filename != g.Filename || sec.MediaType != g.MediaType {
					t.Errorf("file fields (%v, %q, %q), want (%v, %q, %q)", sec.File, sec.Filename, sec.MediaType, g.File, g.Filename, g.MediaType)
				}
			})
		}
	}
}

// writeGolden writes testdata/v4.json, the current unprotected version:
// texts and files.
func writeGolden(t *testing.T, path string) {
	s := newSealer(t, testServerKey)
	var vectors []golden
	for _, v := range []struct {
		comment string
		sec     Secret
	}{
		{"ascii", Secret{Content: []byte("hunter2")}},
		{"unicode and newlines", Secret{Content: []byte("pässwörd\nzweite Zeile ✓")}},
		{"long text padded past 256 bytes", Secret{Content: []byte(strings.Repeat("0123456789", 40))}},
		{"file with a name and a type", Secret{Content: []byte("apiVersion: v1\nkind: Config\n"), File: true, Filename: "kubeconfig.yaml", MediaType: "application/yaml"}},
		{"binary file, unicode name, no type", Secret{Content: []byte{0, 1, 2, 0xff, 0xfe, 0x80}, File: true, Filename: "schlüssel ✓.bin"}},
		{"file without a name", Secret{Content: []byte("KEY=value\n"), File: true, MediaType: "text/plain; charset=utf-8"}},
	} {
		ak, _ := s.NewAccessKey()
		lk, _ := s.LookupKey(ak)
		blob, err := s.SealSecret(ak, lk, v.sec, nil, created, expires)
		if err != nil {
			t.Fatal(err)
		}
		content := string(v.sec.Content)
		if v.sec.File {
			content = base64.StdEncoding.EncodeToString(v.sec.Content)
		}
		vectors = append(vectors, golden{Comment: v.comment, ServerKey: string(testServerKey), AccessKey: ak, LookupKey: lk,
			Content: content, File: v.sec.File, Filename: v.sec.Filename, MediaType: v.sec.MediaType,
			CreatedAt: created, ExpiresAt: expires, Envelope: base64.StdEncoding.EncodeToString(blob)})
	}
	data, err := json.MarshalIndent(vectors, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Openable names exactly the envelopes a Sealer can open: the store claims
// only blobs that begin with one of its prefixes.
func TestOpenableNamesWhatOpens(t *testing.T) {
	begins := func(s *Sealer, blob []byte) bool {
		for _, p := range s.Openable() {
			if p != "" && bytes.HasPrefix(blob, []byte(p)) {
				return true
			}
		}
		return false
	}
	old, rotated, other := newSealer(t, otherKey), newSealer(t, testServerKey, otherKey), newSealer(t, testServerKey)
	_, _, oldBlob := sealOne(t, old, "sealed before the rotation")
	_, _, newBlob := sealOne(t, rotated, "sealed after it")
	for _, c := range []struct {
		name   string
		s      *Sealer
		blob   []byte
		opened bool
	}{
		{"current key", rotated, newBlob, true},
		{"previous key", rotated, oldBlob, true},
		{"a key it lacks", other, oldBlob, false},
		{"the old server, new blob", old, newBlob, false},
	} {
		if got := begins(c.s, c.blob); got != c.opened {
			t.Errorf("%s: blob begins with an openable prefix: %v, want %v", c.name, got, c.opened)
		}
	}
	if n := len(rotated.Openable()); n != 6 {
		t.Errorf("a sealer with one previous key has %d openable prefixes, want 6 (two keys, three versions)", n)
	}
}

// Files keep their name and type through a seal, with or without a
// passphrase; texts and files of one size class seal to one length.
func TestFileRoundTrip(t *testing.T) {
	t.Parallel()
	s := cheapSealer(t, testServerKey)
	ak, lk := mustKey(t, s)
	for _, pass := range []string{"", "pw"} {
		for _, sec := range []Secret{
			{Content: []byte{0, 0xff, 0x80, '\n'}, File: true, Filename: "id_ed25519", MediaType: "application/octet-stream"},
			{Content: []byte("x"), File: true},
			{Content: bytes.Repeat([]byte{7}, 100000), File: true, Filename: strings.Repeat("n", MaxFilenameBytes), MediaType: strings.Repeat("t", MaxMediaTypeBytes)},
		} {
			blob, err := s.SealSecret(ak, lk, sec, []byte(pass), created, expires)
			if err != nil {
				t.Fatal(err)
			}
			got, _, _, err := s.OpenSecret(ak, lk, blob, []byte(pass))
			if err != nil || !bytes.Equal(got.Content, sec.Content) || !got.File || got.Filename != sec.Filename || got.MediaType != sec.MediaType {
				t.Errorf("passphrase %q: got (%v, %q, %q, %d bytes, %v)", pass, got.File, got.Filename, got.MediaType, len(got.Content), err)
			}
		}
	}
	if _, err := s.SealSecret(ak, lk, Secret{Content: []byte("x"), File: true, Filename: strings.Repeat("n", MaxFilenameBytes+1)}, nil, created, expires); err == nil {
		t.Error("sealed a 256-byte file name")
	}
	text, _ := s.Seal(ak, lk, []byte("1234"), created, expires)
	file, _ := s.SealSecret(ak, lk, Secret{Content: []byte("a longer secret, still short"), File: true, Filename: "a.txt", MediaType: "text/plain"}, nil, created, expires)
	if len(text) != len(file) || len(text) != overhead+minBodySize {
		t.Errorf("a 4-byte text seals to %d bytes, a short file to %d: want both %d", len(text), len(file), overhead+minBodySize)
	}
}

// A body is parsed exactly: a field running past the end, a wrong kind,
// padding that is not zero or not the bucket's size are all refused.
func TestParseBodyRejects(t *testing.T) {
	t.Parallel()
	good := make([]byte, minBodySize)
	PutBody(good, Secret{Content: []byte("c"), File: true, Filename: "f", MediaType: "t"})
	if sec, ok := ParseBody(good); !ok || string(sec.Content) != "c" || sec.Filename != "f" || sec.MediaType != "t" {
		t.Fatalf("the good body: %+v %v", sec, ok)
	}
	for name, edit := range map[string]func(b []byte) []byte{
		"unknown kind":          func(b []byte) []byte { b[0] = 3; return b },
		"name past the end":     func(b []byte) []byte { b[1] = 255; return b[:200] },
		"length past the end":   func(b []byte) []byte { b[8] = 0xff; return b },
		"non-zero padding":      func(b []byte) []byte { b[len(b)-1] = 1; return b },
		"shorter than a bucket": func(b []byte) []byte { return b[:len(b)-1] },
		"longer than a bucket":  func(b []byte) []byte { return append(b, 0) },
		"empty":                 func(b []byte) []byte { return nil },
	} {
		if _, ok := ParseBody(edit(bytes.Clone(good))); ok {
			t.Errorf("%s: parsed", name)
		}
	}
}
