package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// cheapKDF keeps the tests fast; the cost is recorded in each envelope, so
// opening follows it whatever the Sealer's own.
var cheapKDF = KDF{Time: 1, MemoryKiB: 64, Lanes: 1}

func cheapSealer(t testing.TB, current []byte, previous ...[]byte) *Sealer {
	t.Helper()
	s, err := newSealer(t, current, previous...).WithKDF(cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sealProtected(t testing.TB, s *Sealer, content, passphrase string) (ak, lk string, blob []byte) {
	t.Helper()
	ak, _ = s.NewAccessKey()
	lk, _ = s.LookupKey(ak)
	blob, err := s.SealWithPassphrase(ak, lk, []byte(content), []byte(passphrase), created, expires)
	if err != nil {
		t.Fatalf("SealWithPassphrase: %v", err)
	}
	return ak, lk, blob
}

func TestPassphraseRoundTrip(t *testing.T) {
	t.Parallel()
	s := cheapSealer(t, testServerKey)
	for _, content := range []string{"x", "hunter2", strings.Repeat("é", 40000)} {
		ak, lk, blob := sealProtected(t, s, content, "correct horse")
		if !Protected(blob) || blob[offVersion] != version3 {
			t.Fatalf("a protected envelope begins with %#x", blob[0])
		}
		got, c, e, err := s.OpenWithPassphrase(ak, lk, blob, []byte("correct horse"))
		if err != nil || string(got) != content || !c.Equal(created) || !e.Equal(expires) {
			t.Fatalf("got (%d bytes, %v, %v, %v), want %d bytes", len(got), c, e, err, len(content))
		}
	}
}

// The three ways a protected envelope fails are told apart: no passphrase
// and a wrong one are passphrase errors of a sound envelope; a wrong
// SECRET_KEY, another access key or a forged blob are ErrOpen, so a server
// never counts them as a guess.
func TestPassphraseFailuresAreToldApart(t *testing.T) {
	t.Parallel()
	s := cheapSealer(t, testServerKey)
	ak, lk, blob := sealProtected(t, s, "hunter2", "correct horse")
	ak2, _ := s.NewAccessKey()
	for _, c := range []struct {
		name string
		open func() ([]byte, error)
		want error
	}{
		{"no passphrase, Open", func() ([]byte, error) { b, _, _, err := s.Open(ak, lk, blob); return b, err }, ErrPassphraseRequired},
		{"no passphrase", func() ([]byte, error) { b, _, _, err := s.OpenWithPassphrase(ak, lk, blob, nil); return b, err }, ErrPassphraseRequired},
		{"wrong passphrase", func() ([]byte, error) {
			b, _, _, err := s.OpenWithPassphrase(ak, lk, blob, []byte("correct horsf"))
			return b, err
		}, ErrWrongPassphrase},
		{"wrong SECRET_KEY", func() ([]byte, error) {
			b, _, _, err := cheapSealer(t, otherKey).OpenWithPassphrase(ak, lk, blob, []byte("correct horse"))
			return b, err
		}, ErrOpen},
		{"other access key", func() ([]byte, error) {
			b, _, _, err := s.OpenWithPassphrase(ak2, lk, blob, []byte("correct horse"))
			return b, err
		}, ErrOpen},
		{"relabelled as version 2", func() ([]byte, error) {
			b := bytes.Clone(blob)
			b[offVersion] = version2
			c, _, _, err := s.OpenWithPassphrase(ak, lk, b, []byte("correct horse"))
			return c, err
		}, ErrOpen},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.open()
			if !errors.Is(err, c.want) || got != nil {
				t.Errorf("got (%q, %v), want %v", got, err, c.want)
			}
			_, needed := err.(interface{ PassphraseNeeded() bool })
			if needed != (c.want != ErrOpen) {
				t.Errorf("%v says PassphraseNeeded: %v", err, needed)
			}
		})
	}
	// A v2 envelope opens with or without a passphrase: it needs none.
	ak, lk, plain := sealOne(t, s, "plain")
	if got, _, _, err := s.OpenWithPassphrase(ak, lk, plain, []byte("anything")); err != nil || string(got) != "plain" {
		t.Errorf("an unprotected envelope through OpenWithPassphrase: %q, %v", got, err)
	}
}

// Every single-bit change is caught by the outer layer: ErrOpen, never a
// "wrong passphrase" (a corrupt blob must not count as a guess).
func TestPassphraseEnvelopeRejectsEveryBitFlip(t *testing.T) {
	t.Parallel()
	s := cheapSealer(t, testServerKey)
	ak, lk, blob := sealProtected(t, s, "hunter2", "pw")
	for i := range len(blob) * 8 {
		b := bytes.Clone(blob)
		b[i/8] ^= 1 << (i % 8)
		if content, _, _, err := s.OpenWithPassphrase(ak, lk, b, []byte("pw")); !errors.Is(err, ErrOpen) {
			t.Fatalf("flip of bit %d (byte %d, %s): %q, %v", i, i/8, part(i/8), content, err)
		}
	}
}

// Short secrets all pad to one size, so a dump does not tell "1234" from
// a 200-character password; longer ones grow by at most 12%.
func TestPassphrasePadding(t *testing.T) {
	t.Parallel()
	s := cheapSealer(t, testServerKey)
	_, _, first := sealProtected(t, s, "1", "pw")
	for _, n := range []int{4, 32, 200, minBodySize - offBodyData} {
		if _, _, b := sealProtected(t, s, strings.Repeat("x", n), "pw"); len(b) != len(first) {
			t.Errorf("a %d-byte secret seals to %d bytes, a 1-byte one to %d", n, len(b), len(first))
		}
	}
	for n := 1; n < 1<<20; n = n*3/2 + 1 {
		p := paddedLen(n)
		if p < n || p < minBodySize || (n > minBodySize && float64(p) > float64(n)*1.12) {
			t.Errorf("paddedLen(%d) = %d", n, p)
		}
	}
}

// A cost out of bounds in a sealed lock is refused before Argon2 runs: this
// envelope asks for 2 GiB, and the test would run out of memory or time if
// it were stretched.
func TestPassphraseCostBounds(t *testing.T) {
	t.Parallel()
	if _, err := newSealer(t, testServerKey).WithKDF(KDF{Time: 1, MemoryKiB: 2 << 20, Lanes: 1}); err == nil {
		t.Error("WithKDF accepted 2 GiB")
	}
	greedy := newSealer(t, testServerKey)
	greedy.kdf = KDF{Time: 1, MemoryKiB: 2 << 20, Lanes: 1} // as no public path could
	ak, lk := mustKey(t, greedy)
	blob, err := sealWithoutStretching(greedy, ak, lk)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := greedy.OpenWithPassphrase(ak, lk, blob, []byte("pw")); !errors.Is(err, ErrOpen) {
		t.Errorf("a lock asking for 2 GiB: %v, want ErrOpen", err)
	}
}

func mustKey(t testing.TB, s *Sealer) (ak, lk string) {
	ak, err := s.NewAccessKey()
	if err != nil {
		t.Fatal(err)
	}
	lk, _ = s.LookupKey(ak)
	return ak, lk
}

// sealWithoutStretching builds a v3 envelope whose lock records s.kdf but
// whose inner layer is random: enough to test what opening does with the
// recorded cost, without paying it.
func sealWithoutStretching(s *Sealer, ak, lk string) ([]byte, error) {
	k, _ := decodeAccessKey(ak)
	blob := make([]byte, offCiphertext)
	blob[offVersion] = version3
	copy(blob[offKeyID:], s.current.id[:])
	lock := make([]byte, lockOverhead+minBodySize)
	lock[offLockKDF] = kdfArgon2id
	lock[offLockTime+3] = byte(s.kdf.Time)
	lock[offLockMemory], lock[offLockMemory+1], lock[offLockMemory+2], lock[offLockMemory+3] =
		byte(s.kdf.MemoryKiB>>24), byte(s.kdf.MemoryKiB>>16), byte(s.kdf.MemoryKiB>>8), byte(s.kdf.MemoryKiB)
	lock[offLockLanes] = s.kdf.Lanes
	key := s.current.dataKeyV3(k)
	outer, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return outer.Seal(blob, blob[offNonce:offCiphertext], lock, associatedData(nil, blob, lk)), nil
}

// The default cost is the one doc.go states.
func TestDefaultKDF(t *testing.T) {
	if DefaultKDF != (KDF{Time: 2, MemoryKiB: 40960, Lanes: 1}) || !DefaultKDF.valid() {
		t.Errorf("DefaultKDF = %+v; doc.go and README say t=2, m=40 MiB, one lane", DefaultKDF)
	}
	if newSealer(t, testServerKey).kdf != DefaultKDF {
		t.Error("New does not seal at DefaultKDF")
	}
}

// writeGoldenV3 writes testdata/v3.json: one vector at the default cost,
// the rest at a cheap one (each envelope records its own).
func writeGoldenV3(t *testing.T, path string) {
	var vectors []golden
	for _, v := range []struct {
		comment, content, passphrase string
		kdf                          KDF
	}{
		{"ascii, default cost", "hunter2", "correct horse battery staple", DefaultKDF},
		{"unicode content and passphrase, cheap cost", "pässwörd\nzweite Zeile ✓", "Ünïcødé ✓ pass", cheapKDF},
		{"long content padded past 256 bytes", strings.Repeat("0123456789", 40), "p", cheapKDF},
	} {
		s, err := newSealer(t, testServerKey).WithKDF(v.kdf)
		if err != nil {
			t.Fatal(err)
		}
		ak, lk, blob := sealProtected(t, s, v.content, v.passphrase)
		vectors = append(vectors, golden{Comment: v.comment, ServerKey: string(testServerKey), AccessKey: ak, LookupKey: lk,
			Content: v.content, Passphrase: v.passphrase, CreatedAt: created, ExpiresAt: expires, Envelope: base64.StdEncoding.EncodeToString(blob)})
	}
	// A file behind a passphrase: the inner body is a file body.
	s, err := newSealer(t, testServerKey).WithKDF(cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	file := Secret{Content: []byte("client\ndev tun\nremote vpn.example 1194\n"), File: true, Filename: "office.ovpn", MediaType: "application/x-openvpn-profile"}
	ak, _ := s.NewAccessKey()
	lk, _ := s.LookupKey(ak)
	blob, err := s.SealSecret(ak, lk, file, []byte("by phone"), created, expires)
	if err != nil {
		t.Fatal(err)
	}
	vectors = append(vectors, golden{Comment: "file, cheap cost", ServerKey: string(testServerKey), AccessKey: ak, LookupKey: lk,
		Content: base64.StdEncoding.EncodeToString(file.Content), Passphrase: "by phone", File: true, Filename: file.Filename,
		MediaType: file.MediaType, CreatedAt: created, ExpiresAt: expires, Envelope: base64.StdEncoding.EncodeToString(blob)})
	data, err := json.MarshalIndent(vectors, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
