// SPDX-License-Identifier: MIT
//
// With -tags xprofcgo (and CGO_ENABLED=1) gowork links runtime/cgo: libc,
// threads made by pthread_create, C code with .eh_frame beside Go code
// without it, and signal handlers that return through glibc's __restore_rt.

//go:build xprofcgo

package main

import _ "runtime/cgo"
