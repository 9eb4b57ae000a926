#!/usr/bin/env python3
"""Latency of `pitfall lsp` diagnostics after an edit (not part of the tests).

Generates two inputs in a temporary directory, starts `pitfall lsp`, opens the
file, then sends N full-text `didChange` edits (a line appended to a function
body, alternating with the original) and times each from the write of the
change to the `publishDiagnostics` of that version:

  1. one 2,000-line Go file (its package is only that file);
  2. one file of a 500-file package (each file about 60 lines: the whole
     package, 30,000 lines, is re-read and re-checked on each edit).

    bench/lsp_latency.py [PITFALL_BINARY] [N]      # default target/release/pitfall, 30
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/pitfall"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 30

FUNC = """
func handler{i}(w http.ResponseWriter, r *http.Request) {{
\tctx, cancel := context.WithTimeout(r.Context(), time.Second)
\tdefer cancel()
\tresp, err := http.Get("http://backend/{i}")
\tif err != nil {{
\t\thttp.Error(w, err.Error(), http.StatusBadGateway)
\t\treturn
\t}}
\tdefer resp.Body.Close()
\tbody, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
\tif err != nil {{
\t\treturn
\t}}
\tselect {{
\tcase <-ctx.Done():
\tdefault:
\t}}
\tvar sb strings.Builder
\tfor _, b := range body {{
\t\tsb.WriteByte(b)
\t}}
\tw.Write([]byte(sb.String()))
}}
"""
HEADER = 'package {pkg}\n\nimport (\n\t"context"\n\t"io"\n\t"net/http"\n\t"strings"\n\t"time"\n)\n'


def go_file(pkg, first, funcs):
    return HEADER.format(pkg=pkg) + "".join(FUNC.format(i=i) for i in range(first, first + funcs))


def frame(obj):
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_msg(out):
    length = None
    while True:
        line = out.readline()
        if not line:
            raise EOFError
        line = line.strip()
        if not line:
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(out.read(length))


def measure(path, text):
    p = subprocess.Popen([BIN, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    send = lambda o: (p.stdin.write(frame(o)), p.stdin.flush())
    uri = "file://" + path
    send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}})
    while "id" not in read_msg(p.stdout):
        pass
    send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def wait(version):
        while True:
            m = read_msg(p.stdout)
            if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri \
                    and m["params"].get("version") == version:
                return m

    send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
          "params": {"textDocument": {"uri": uri, "languageId": "go", "version": 1, "text": text}}})
    wait(1)
    edited = text.replace("\tdefer cancel()\n", "\tdefer cancel()\n\t_ = ctx\n", 1)
    times = []
    for v in range(2, N + 2):
        new = edited if v % 2 == 0 else text
        t0 = time.perf_counter()
        send({"jsonrpc": "2.0", "method": "textDocument/didChange",
              "params": {"textDocument": {"uri": uri, "version": v}, "contentChanges": [{"text": new}]}})
        wait(v)
        times.append((time.perf_counter() - t0) * 1000)
    send({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None})
    send({"jsonrpc": "2.0", "method": "exit", "params": None})
    p.wait(timeout=30)
    return times


def report(name, lines, times):
    print(f"{name}: {lines} lines in the package, {len(times)} edits: median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f} ms, max {max(times):.1f} ms")


def main():
    with tempfile.TemporaryDirectory() as d:
        one = os.path.join(d, "one")
        os.makedirs(one)
        open(os.path.join(one, "go.mod"), "w").write("module example.com/one\n\ngo 1.22\n")
        text = go_file("one", 0, 87)  # 87 functions of 23 lines + header: ~2,010 lines
        path = os.path.join(one, "big.go")
        open(path, "w").write(text)
        report("2,000-line file", text.count("\n"), measure(path, text))

        many = os.path.join(d, "many")
        os.makedirs(many)
        open(os.path.join(many, "go.mod"), "w").write("module example.com/many\n\ngo 1.22\n")
        total = 0
        for k in range(500):
            t = go_file("many", k * 2, 2)
            total += t.count("\n")
            open(os.path.join(many, f"f{k:03}.go"), "w").write(t)
        path = os.path.join(many, "f250.go")
        report("file of a 500-file package", total, measure(path, open(path).read()))


if __name__ == "__main__":
    main()
