// Package seal turns a secret into something a store can hold without being
// able to read, and back again for the one caller who has the access key.
//
// It does no I/O beyond crypto/rand. Three things come out of it (and a
// fourth, the passphrase-protected envelope, below them):
//
// # Access key
//
// 32 bytes from crypto/rand, sent to clients as unpadded base64url (43
// characters). It is the only thing that can open a secret and it never
// reaches the store, a log or Redis.
//
// # Lookup key
//
//	"readonce:v1:" + base64url(SHA-256("readonce/v1/lookup" ‖ access key bytes))
//
// The store key. It is a one-way function of the access key, so a store dump
// does not yield access keys, and a mangled access key hashes to a key that
// does not exist instead of burning someone else's secret.
//
// # Envelope (versions 1, 2 and 4)
//
// What the store holds under the lookup key. All integers are big-endian.
// Seal writes version 4; Open reads all three. They share this layout and
// differ in how the data key is derived (below) and in what the ciphertext
// holds: the content itself (versions 1 and 2), or a body (version 4,
// below) that frames it, carries a file's name and type, and pads it.
//
//	offset  size  field       (constant in seal.go)
//	0       1     version     (offVersion), 0x04 (0x01, 0x02 for older blobs)
//	1       4     key id      (offKeyID): the first 4 bytes of
//	              HKDF-SHA256(SECRET_KEY, info "readonce/v1/key-id"); says
//	              which SECRET_KEY peppered it
//	5       8     created_at  (offCreated), Unix microseconds, signed
//	13      8     expires_at  (offExpires), Unix microseconds, signed
//	21      12    nonce       (offNonce), AES-GCM, random
//	33      n+16  ciphertext  (offCiphertext), AES-256-GCM of the n-byte
//	              body (version 4) or content (1, 2), with its tag
//
// TestEnvelopeLayout holds these offsets against the constants.
//
// The pepper is HKDF-SHA256(secret = SECRET_KEY, info = "readonce/v1/pepper").
// The data key is
//
//	version 4: HMAC-SHA256(key = pepper, "readonce/v4/data" ‖ access key bytes)
//	version 2: HMAC-SHA256(key = pepper, "readonce/v2/data" ‖ access key bytes)
//	version 1: HKDF-SHA256(secret = access key bytes, salt = pepper,
//	           info = "readonce/v1/data")
//
// Versions 2 and 4 are HKDF-Extract alone (RFC 5869 §3.3: the input, a 256-bit
// random access key, is already uniform, and one 32-byte output needs no
// Expand): one HMAC, whose pepper-keyed state is reused from a pool, instead
// of two built anew — a quarter of the sealing cost and no allocation. A
// store dump alone opens nothing; a store dump plus SECRET_KEY still opens
// nothing without the access key, which only the holder of the URL has. Each
// data key seals exactly one message.
//
// The associated data is the first 21 bytes of the envelope (version, key id,
// both times) followed by the lookup key, so a blob moved to another key, or
// with edited times, fails to open.
//
// Every failure to open — unknown version, unknown key id, short blob, failed
// authentication — is the one opaque [ErrOpen]. Lengths are checked before any
// cryptographic work. [Sealer.Openable] lists the version and key id prefixes
// a Sealer opens, so a store can refuse to claim any other blob.
//
// # Body (inside versions 3 and 4)
//
// A kind byte, then by kind:
//
//	text (0x01):  n (4 bytes) ‖ content (n bytes)
//	file (0x02):  name length (1) ‖ name (0–255 bytes, UTF-8, empty for
//	              none) ‖ type length (1) ‖ media type (0–255 bytes) ‖
//	              n (4) ‖ content (n)
//
// then zero bytes up to the body's size bucket: 256 bytes at least, then
// Padmé (at most 12% more). A dump shows the bucket, never the exact length
// of a password or a file, nor a file's name or type: they are inside the
// ciphertext. Opening checks the framing exactly (kind, lengths in bounds,
// padding zero and of the bucket's size); anything else is ErrOpen.
// Seal costs no extra copy: the body is built in the envelope's buffer and
// encrypted in place.
//
// # Envelope version 3: passphrase-protected
//
// The same 33-byte header and outer AES-256-GCM as version 2 (version byte
// 0x03, associated data likewise), under its own data key,
//
//	HMAC-SHA256(key = pepper, "readonce/v3/data" ‖ access key bytes)
//
// The outer plaintext is the lock:
//
//	offset  size  field       (constant in passphrase.go)
//	0       1     kdf         (offLockKDF), 0x13: Argon2id, version 1.3 (RFC 9106)
//	1       4     time cost   (offLockTime), passes
//	5       4     memory      (offLockMemory), KiB
//	9       1     lanes       (offLockLanes)
//	10      16    salt        (offLockSalt), random per secret
//	26      12    nonce       (offLockNonce), inner AES-GCM, random
//	38      b+16  ciphertext  (offLockSealed), AES-256-GCM of the b-byte body
//
// The inner key is
//
//	HMAC-SHA256(key = the outer data key,
//	            "readonce/v3/passphrase" ‖ Argon2id(passphrase, salt, cost, 32 bytes) ‖ lock[0:26])
//
// with the same associated data as the outer layer; it encrypts a body
// (above): text or file.
//
// What each layer is for: the outer one is opened with SECRET_KEY and the
// access key alone, so a wrong SECRET_KEY or a corrupt blob fails there,
// as ErrOpen, before any Argon2 work — never as a wrong passphrase, which
// the server counts against the secret. Only a sound lock with a passphrase
// that does not open the inner layer is [ErrWrongPassphrase]. A Redis dump
// plus SECRET_KEY plus the URL reaches the lock and no further: the content
// then costs one Argon2id run per passphrase guessed, offline, and nothing
// is faster (the inner key needs the stretched passphrase; the salt defeats
// precomputation). That is what a passphrase adds; a weak one is still
// guessable by whoever holds all three.
//
// The cost is recorded per envelope: [DefaultKDF] (t=2, 40 MiB, one lane)
// is the costliest time × memory that stays under ~50 ms for one attempt
// on one core of the reference machine (t=2 at 40 MiB 46 ms; t=3 at 32 MiB
// 51 ms; t=2 at 46 MiB 52 ms; t=1 at 64 MiB 41 ms, half the work), and
// OWASP's minimums (19 MiB at t=2, 46 MiB at t=1) are below it. A lock
// with a cost outside t 1–16, lanes 1–16, memory 8×lanes KiB–1 GiB, or
// another kdf byte, is ErrOpen unstretched.
//
// Golden envelopes of every version are in testdata/ (v1.json … v4.json, and
// their -negative files); v1 and v2 are frozen, only the versions Seal and
// SealWithPassphrase write (4 and 3) are ever regenerated.
package seal
