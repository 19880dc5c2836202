module xprof.test/gowork

go 1.19
