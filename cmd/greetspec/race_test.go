package main

import (
	"os"
	"strings"
)

// raceNoExitSleep keeps the processes the tests start (greetspec runs,
// their lanes and plugins) from sleeping a second at exit when they are
// race-built: the race runtime's atexit_sleep_ms defaults to 1000. Race
// reports are still printed; only the idle second goes.
func raceNoExitSleep() {
	g := os.Getenv("GORACE")
	if strings.Contains(g, "atexit_sleep_ms") {
		return
	}
	_ = os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
}
