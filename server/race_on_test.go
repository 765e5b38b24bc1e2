//go:build race

package server_test

const raceEnabled = true

// raceAllocBudget: measured 32–33 under -race (Go 1.26), where 16 without.
const raceAllocBudget = 40
