package seal

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestEnvelopeLayout holds doc.go's table against the code's constants.
func TestEnvelopeLayout(t *testing.T) {
	t.Parallel()
	for name, c := range map[string][2]int{
		"version":    {offVersion, 0},
		"key id":     {offKeyID, 1},
		"created_at": {offCreated, 5},
		"expires_at": {offExpires, 13},
		"nonce":      {offNonce, 21},
		"ciphertext": {offCiphertext, 33},
		"overhead":   {overhead, 33 + 16},
	} {
		if c[0] != c[1] {
			t.Errorf("%s at %d, doc.go says %d", name, c[0], c[1])
		}
	}
}

// negative is an envelope that must not open with the keys it names, or
// (previous key) must open only because of SECRET_KEY_PREVIOUS.
type negative struct {
	Comment      string   `json:"comment"`
	ServerKey    string   `json:"server_key"`
	PreviousKeys []string `json:"previous_keys,omitempty"`
	AccessKey    string   `json:"access_key"`
	LookupKey    string   `json:"lookup_key"`
	Envelope     string   `json:"envelope"`
	Passphrase   string   `json:"passphrase,omitempty"`
	Opens        bool     `json:"opens"`
	// WrongPassphrase: the envelope is sound, the passphrase is not its own.
	WrongPassphrase bool `json:"wrong_passphrase,omitempty"`
}

// TestGoldenNegative: the written-down failures (truncated, wrong or
// unknown version, unknown key id) fail as one opaque error, and an
// envelope of a rotated-out key opens through the previous keys alone.
func TestGoldenNegative(t *testing.T) {
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		path := filepath.Join("testdata", v+"-negative.json")
		if *update {
			writeNegative(t, v)
		}
		for _, g := range loadJSON[negative](t, path) {
			t.Run(v+"/"+g.Comment, func(t *testing.T) {
				blob, err := base64.StdEncoding.DecodeString(g.Envelope)
				if err != nil {
					t.Fatal(err)
				}
				var previous [][]byte
				for _, k := range g.PreviousKeys {
					previous = append(previous, []byte(k))
				}
				_, _, _, err = newSealer(t, []byte(g.ServerKey), previous...).OpenWithPassphrase(g.AccessKey, g.LookupKey, blob, []byte(g.Passphrase))
				switch {
				case g.Opens && err != nil:
					t.Errorf("did not open: %v", err)
				case g.WrongPassphrase && !errors.Is(err, ErrWrongPassphrase):
					t.Errorf("want ErrWrongPassphrase, got %v", err)
				case !g.Opens && !g.WrongPassphrase && !errors.Is(err, ErrOpen):
					t.Errorf("opened, or failed other than ErrOpen: %v", err)
				}
			})
		}
	}
}

// writeNegative derives the negative vectors of a version from its first
// positive one.
func writeNegative(t *testing.T, version string) {
	g := loadJSON[golden](t, filepath.Join("testdata", version+".json"))[0]
	blob, _ := base64.StdEncoding.DecodeString(g.Envelope)
	edit := func(f func([]byte) []byte) string {
		return base64.StdEncoding.EncodeToString(f(append([]byte(nil), blob...)))
	}
	v := func(comment, server string, previous []string, env string, opens bool) negative {
		return negative{comment, server, previous, g.AccessKey, g.LookupKey, env, g.Passphrase, opens, false}
	}
	other := byte(version1) // the other known version: same layout, other data key
	if blob[offVersion] != version2 {
		other = version2
	}
	vectors := []negative{
		v("truncated by one byte", g.ServerKey, nil, edit(func(b []byte) []byte { return b[:len(b)-1] }), false),
		v("shorter than the overhead", g.ServerKey, nil, edit(func(b []byte) []byte { return b[:overhead-1] }), false),
		v("relabelled as the other known version", g.ServerKey, nil, edit(func(b []byte) []byte { b[offVersion] = other; return b }), false),
		v("unknown version", g.ServerKey, nil, edit(func(b []byte) []byte { b[offVersion] = 0x7f; return b }), false),
		v("unknown key id: SECRET_KEY rotated without the previous key", string(otherKey), nil, g.Envelope, false),
		v("previous key: opens during a rotation", string(otherKey), []string{g.ServerKey}, g.Envelope, true),
	}
	if g.Passphrase != "" {
		wrong := v("wrong passphrase: sound envelope, not counted as a wrong SECRET_KEY", g.ServerKey, nil, g.Envelope, false)
		wrong.Passphrase, wrong.WrongPassphrase = g.Passphrase+"x", true
		vectors = append(vectors, wrong)
	}
	data, err := json.MarshalIndent(vectors, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", version+"-negative.json"), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadJSON[T any](t testing.TB, path string) []T {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	if err := json.Unmarshal(data, &out); err != nil || len(out) == 0 {
		t.Fatalf("%s: %d vectors, %v", path, len(out), err)
	}
	return out
}
