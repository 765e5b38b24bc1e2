// Package receipt is the record a receipt token reads: what happened to one
// secret, and when. It holds no key and no content. The store keeps it, the
// server shows it; this package is the vocabulary both speak.
package receipt

import "time"

// States a receipt moves through: pending, then exactly one of the others.
// Expired is never stored: a pending receipt past its secret's expiry
// reads as expired.
const (
	Pending  = "pending"
	Revealed = "revealed"
	Burned   = "burned"
	Expired  = "expired"
)

// Record is one receipt. RevealedAt and BurnedAt are zero until they
// happen; CreatedBy is empty unless the creator was authenticated (the API
// token's name, or the JWT's or OIDC token's sub).
type Record struct {
	State      string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevealedAt time.Time
	BurnedAt   time.Time
	CreatedBy  string
}

// As returns r as it reads at now: a pending receipt whose secret has
// expired is expired.
func (r Record) As(now time.Time) Record {
	if r.State == Pending && !now.Before(r.ExpiresAt) {
		r.State = Expired
	}
	return r
}
