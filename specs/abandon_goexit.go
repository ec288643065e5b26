package specs

import "runtime"

// runtimeGoexit ends the calling goroutine after running its deferred
// calls (a variable so that a test can see it called).
var runtimeGoexit = runtime.Goexit
