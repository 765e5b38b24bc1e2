//go:build !race

package server_test

const raceEnabled = false

const raceAllocBudget = 0 // unused without -race
