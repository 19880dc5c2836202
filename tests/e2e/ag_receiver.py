#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# A stand-in for Pyroscope's POST /ingest, for the agent's end-to-end tests.
#   ag_receiver.py DIR PORTFILE [--outage-after N --outage-s S] [--life-s S]
# Binds 127.0.0.1 on a free port and writes it to PORTFILE. Each request it
# accepts (200) is saved as DIR/NNN.body with DIR/NNN.meta (path, query,
# headers as JSON). After N accepted requests it stops answering for S
# seconds: the first request of the outage gets a 503, the later ones are
# held without an answer until the outage ends (the client times out), and
# nothing of the outage is saved. It exits by itself after --life-s seconds
# (default 120), so a failed test never leaves it behind.
import http.server, json, os, sys, threading, time

out, portfile = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
opt = {"--outage-after": -1, "--outage-s": 5.0, "--life-s": 120.0}
for i in range(0, len(args), 2):
    opt[args[i]] = float(args[i + 1])
state = {"accepted": 0, "outage_until": None, "outage_seen": 0}
lock = threading.Lock()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    def log_message(self, fmt, *a):
        sys.stderr.write("ag_receiver: " + (fmt % a) + "\n")
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        if n < 0 or n > 16 << 20:
            self.send_error(413); return
        body = self.rfile.read(n)
        with lock:
            now = time.monotonic()
            if state["outage_until"] is None and state["accepted"] == int(opt["--outage-after"]):
                state["outage_until"] = now + opt["--outage-s"]
                sys.stderr.write("ag_receiver: outage starts\n")
            until = state["outage_until"]
            in_outage = until is not None and now < until
            if in_outage:
                state["outage_seen"] += 1
                first = state["outage_seen"] == 1
        if in_outage:
            if first:
                self.send_response(503); self.send_header("Content-Length", "4"); self.end_headers()
                self.wfile.write(b"busy"); return
            time.sleep(max(0.0, min(until - time.monotonic(), opt["--outage-s"])))
            self.close_connection = True
            return  # no answer at all
        with lock:
            k = state["accepted"]; state["accepted"] += 1
        with open(os.path.join(out, "%03d.body" % k), "wb") as f:
            f.write(body)
        path, _, query = self.path.partition("?")
        with open(os.path.join(out, "%03d.meta" % k), "w") as f:
            json.dump({"path": path, "query": query, "headers": dict(self.headers.items())}, f)
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
threading.Timer(opt["--life-s"], srv.shutdown).start()
srv.serve_forever()
