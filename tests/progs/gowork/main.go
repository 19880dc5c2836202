// SPDX-License-Identifier: MIT
//
// Go test program of tests/e2e/test_go.sh: two goroutines with known call
// chains (main.main.func1 -> chainA1 -> chainA2 -> mixA, inlined -> leafA;
// main.main.func2 -> chainB1 -> chainB2 -> leafB), and SIGPROF handled by
// the Go runtime's own handler (runtime.sigtramp -> sigtrampgo -> sigprof),
// as under `go test -cpuprofile`. Usage: gowork SECONDS.
package main

import (
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

var sink uint64

//go:noinline
func leafA(n int) uint64 {
	var x uint64 = uint64(n)
	for i := 0; i < 20000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func mixA(n int) uint64 { return leafA(n) ^ uint64(n) }

//go:noinline
func chainA2(n int) uint64 { return mixA(n) + 1 }

//go:noinline
func chainA1(n int) uint64 { return chainA2(n) + 2 }

//go:noinline
func leafB(n int) uint64 {
	var x uint64 = uint64(n)
	for i := 0; i < 20000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

//go:noinline
func chainB2(n int) uint64 { return leafB(n) + 3 }

//go:noinline
func chainB1(n int) uint64 { return chainB2(n) + 4 }

func main() {
	secs, _ := strconv.ParseFloat(os.Args[1], 64)
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		panic(err)
	}
	defer pprof.StopCPUProfile()
	startTimer(50 * time.Microsecond)
	deadline := time.Now().Add(time.Duration(secs * float64(time.Second)))
	// The deadline is read every 16 calls: time.Now makes its vDSO call on
	// the g0 stack, where a sample's copy cannot reach the goroutine's
	// frames (README, Limits), and this program is about the chains.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i%16 != 0 || time.Now().Before(deadline); i++ {
			sink += chainA1(i)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i%16 != 0 || time.Now().Before(deadline); i++ {
			sink += chainB1(i)
		}
	}()
	wg.Wait()
}

// startTimer arms a process-wide POSIX timer on CLOCK_MONOTONIC that sends
// SIGPROF every period: far more often than the runtime's own CPU-time
// timers (one per kernel tick at most), so the runtime's handler
// (runtime.sigtramp -> sigprof) runs often enough to be sampled. With the
// profile on, the runtime takes a timer_create SIGPROF for a real one.
func startTimer(period time.Duration) {
	var sev [64]byte
	*(*int32)(unsafe.Pointer(&sev[8])) = int32(syscall.SIGPROF) // sigev_signo
	*(*int32)(unsafe.Pointer(&sev[12])) = 0                     // SIGEV_SIGNAL
	var id int32
	if _, _, e := syscall.RawSyscall(syscall.SYS_TIMER_CREATE, 1, /* CLOCK_MONOTONIC */
		uintptr(unsafe.Pointer(&sev)), uintptr(unsafe.Pointer(&id))); e != 0 {
		panic(e)
	}
	ts := [4]int64{0, int64(period), 0, int64(period)}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_TIMER_SETTIME, uintptr(id), 0,
		uintptr(unsafe.Pointer(&ts)), 0, 0, 0); e != 0 {
		panic(e)
	}
}
