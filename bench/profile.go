package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// Profile is one load shape, kept as a JSON file in bench/profiles/.
type Profile struct {
	Name        string `json:"name"`
	Mode        string `json:"mode"` // create, reveal, pair, mixed, spike
	Description string `json:"description"`

	// Closed loop: VUs virtual users, each sending its next request when the
	// previous one is answered (keep-alive connections).
	VUs int `json:"vus,omitempty"`
	// Open loop: arrivals at a constant rate per step, whatever the server
	// does; latency counts from each request's intended start.
	Steps       []Step `json:"steps,omitempty"`
	MaxInFlight int    `json:"max_in_flight,omitempty"`

	Duration Duration `json:"duration,omitempty"` // closed loop: stop after this long
	Requests int      `json:"requests,omitempty"` // …or after this many operations, whichever is first

	// Mix weights the operations: create, reveal (of a key made earlier),
	// pair (create then reveal, as one virtual user), unknown (reveal a key
	// that never existed), hostile422 (a create of 78 000 unknown fields,
	// ~390 KB: it must get a small 422, never an answer larger than itself),
	// receipt (create with a receipt, reveal, read the receipt: revealed).
	Mix map[string]float64 `json:"mix"`
	// Pool is how many secrets a reveal-only run creates before measuring.
	Pool int `json:"pool,omitempty"`

	PayloadSizes   []int     `json:"payload_sizes"`
	PayloadWeights []float64 `json:"payload_weights,omitempty"`
	TTLHours       int       `json:"ttl_hours"`
	// Recheck is the fraction of reveals followed by a second reveal of the
	// same key, which must be 404.
	Recheck float64 `json:"recheck"`

	// Flood, when set, runs the profile twice against each target in every
	// round: alone ("idle"), then beside Flood.VUs more users who do
	// nothing but passphrase work — create a protected secret, guess wrong
	// four times, again ("flooded"). The flood's operations are timed apart
	// ("flood …") and are not in the profile's figures, so the ratio
	// flooded / idle is what the flood costs everyone else.
	Flood *Flood `json:"flood,omitempty"`
}

// Flood is a crowd of passphrase guessers beside a profile's own users.
type Flood struct {
	VUs int `json:"vus"`
}

// Step is one stage of an open-loop profile.
type Step struct {
	Rate     int      `json:"rate"` // requests per second
	Duration Duration `json:"duration"`
}

// Duration reads "20s" style durations from JSON.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	d.Duration = v
	return err
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// passphrase: create with a passphrase, one wrong guess (403, 4 left),
// the right one (200): three Argon2id runs.
// file: create a file (content_base64 of a payload size), download it
// (Accept: application/octet-stream), compare the bytes.
// e2e: a pair as the page and the CLI make it — the harness encrypts
// (client.EncryptEndToEnd), posts the ciphertext, reveals it and decrypts.
var operations = []string{"create", "reveal", "pair", "unknown", "hostile422", "receipt", "passphrase", "file", "e2e"}

func loadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

func (p *Profile) openLoop() bool { return len(p.Steps) > 0 }

// totalDuration is how long the measured part runs at most.
func (p *Profile) totalDuration() time.Duration {
	if !p.openLoop() {
		return p.Duration.Duration
	}
	var d time.Duration
	for _, s := range p.Steps {
		d += s.Duration.Duration
	}
	return d
}

func (p *Profile) validate() error {
	var errs []error
	switch p.Mode {
	case "create", "reveal", "pair", "mixed", "spike", "hostile", "receipts", "passphrase", "files", "e2e":
	default:
		errs = append(errs, fmt.Errorf("mode %q: want create, reveal, pair, mixed, spike, hostile, receipts, passphrase, files or e2e", p.Mode))
	}
	if p.Flood != nil && (p.Flood.VUs < 1 || p.openLoop()) {
		errs = append(errs, errors.New("flood: a closed-loop profile and at least one flooding user"))
	}
	if p.openLoop() == (p.VUs > 0) {
		errs = append(errs, errors.New("set either vus (closed loop) or steps (open loop)"))
	}
	if p.Mode == "spike" && !p.openLoop() {
		errs = append(errs, errors.New("spike is an open-loop profile: give steps"))
	}
	for _, s := range p.Steps {
		if s.Rate <= 0 || s.Duration.Duration <= 0 {
			errs = append(errs, errors.New("every step needs a positive rate and duration"))
		}
	}
	if !p.openLoop() && p.Duration.Duration <= 0 && p.Requests <= 0 {
		errs = append(errs, errors.New("a closed-loop run needs a duration or a request count to stop"))
	}
	if p.Duration.Duration > 10*time.Minute || p.totalDuration() > 10*time.Minute {
		errs = append(errs, errors.New("runs are bounded: at most 10 minutes"))
	}
	var sum float64
	for op, w := range p.Mix {
		known := false
		for _, o := range operations {
			known = known || o == op
		}
		if !known || w < 0 {
			errs = append(errs, fmt.Errorf("mix: unknown operation or negative weight %q", op))
		}
		sum += w
	}
	if sum <= 0 {
		errs = append(errs, errors.New("mix: give at least one positive weight"))
	}
	if len(p.PayloadSizes) == 0 {
		errs = append(errs, errors.New("payload_sizes: give at least one size"))
	}
	if len(p.PayloadWeights) != 0 && len(p.PayloadWeights) != len(p.PayloadSizes) {
		errs = append(errs, errors.New("payload_weights must match payload_sizes"))
	}
	for _, s := range p.PayloadSizes {
		if s < 1 {
			errs = append(errs, errors.New("payload sizes must be at least 1 byte"))
		}
	}
	if p.TTLHours < 1 {
		p.TTLHours = 1
	}
	if p.MaxInFlight <= 0 {
		p.MaxInFlight = 4096
	}
	if p.Recheck < 0 || p.Recheck > 1 {
		errs = append(errs, errors.New("recheck is a fraction in [0, 1]"))
	}
	return errors.Join(errs...)
}
