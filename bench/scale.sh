#!/usr/bin/env bash
# Growth of `pitfall check` with the size of one package, one file and one
# function: a rule that does package-wide work per file, or per-function work
# per statement, shows up as time that grows faster than the input.
#
#   bench/scale.sh                  # sizes 500 1000 2000 4000
#   SIZES="1000 4000" bench/scale.sh
#   PITFALL=target/release/pitfall bench/scale.sh
#
# Three shapes, each at every size N (generated under a temp dir, --no-cache):
#   files   one package of N files, each with a mutex-guarded type, an HTTP
#           handler reading a body, a buffered channel, a goroutine and a send
#           and a receive on a channel field (what the package facts of
#           lock-order-inversion, unbounded-body-read, blocking-send,
#           fatal-in-goroutine and server-without-timeouts read, and the
#           package-wide channel-field model of channel-without-partner),
#           a WaitGroup field waited on and a range over a channel field
#           (waitgroup-missing-done, range-over-unclosed-channel), and a call
#           under a lock into one dispatcher that calls a helper of every
#           file (the lock summaries shared by the package's files), a
#           sync.Cond locked through `.L` and a callback field of the same
#           name in every type, called under a lock;
#   funcs   one file with N such functions;
#   stmts   one function with N statements.
# Prints N, seconds and seconds per 1000 units; linear growth keeps the last
# column flat.
set -euo pipefail
cd "$(dirname "$0")/.."
PITFALL=${PITFALL:-target/release/pitfall}
SIZES=${SIZES:-500 1000 2000 4000}
[ -x "$PITFALL" ] || cargo build --release -p pitfall_cli
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

unit() { # unit I — one file's worth of code, names suffixed with I
  local i=$1
  cat <<GO
type store$i struct {
	mu sync.Mutex
	other sync.Mutex
	items map[string]int
	ch chan int
	wg sync.WaitGroup
	jobs chan int
	cond *sync.Cond
	onEvent func()
}

func newStore$i() *store$i {
	s := &store$i{items: map[string]int{}}
	s.cond = sync.NewCond(&s.mu)
	s.onEvent = func() {
		s.mu.Lock()
		s.items["e"]++
		s.mu.Unlock()
	}
	return s
}

func (s *store$i) await$i() {
	s.cond.L.Lock()
	for len(s.items) == 0 {
		s.cond.Wait()
	}
	s.cond.L.Unlock()
}

func (s *store$i) fire$i() {
	s.other.Lock()
	s.onEvent()
	s.other.Unlock()
}

func (s *store$i) drain$i() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for j := range s.jobs {
			s.mu.Lock()
			s.items["j"] += j
			s.mu.Unlock()
		}
	}()
	s.wg.Wait()
}

func helper$i() {
	regMu.Lock()
	defer regMu.Unlock()
}

func (s *store$i) register$i() {
	s.mu.Lock()
	dispatch()
	s.mu.Unlock()
}

func (s *store$i) put$i(k string) {
	s.mu.Lock()
	s.other.Lock()
	s.items[k]++
	s.other.Unlock()
	s.mu.Unlock()
}

func handle$i(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_, _ = w.Write(body)
}

func (s *store$i) notify$i() { s.ch <- 1 }

func (s *store$i) wait$i() int { return <-s.ch }

func start$i() {
	ch := make(chan int, 1)
	go func() { ch <- 1 }()
	<-ch
}
GO
}

header() {
  printf 'package big\n\nimport (\n\t"io"\n\t"net/http"\n\t"sync"\n)\n\nvar _ = io.EOF\nvar _ = http.StatusOK\nvar _ sync.Mutex\n\n'
}

dispatch() { # dispatch N — one function that calls every unit's helper
  printf 'package big\n\nimport "sync"\n\nvar regMu sync.Mutex\n\nfunc dispatch() {\n'
  for i in $(seq 1 "$1"); do printf '\thelper%d()\n' "$i"; done
  printf '}\n'
}

time_run() { # time_run DIR -> seconds
  local start end
  start=$(date +%s.%N)
  "$PITFALL" check --no-config --no-cache --format json "$1" >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

printf '%-6s %7s %9s %12s\n' shape N seconds "s per 1000"
for n in $SIZES; do
  d=$TMP/files-$n; mkdir -p "$d"
  printf 'module example.com/big\n\ngo 1.22\n' >"$d/go.mod"
  for i in $(seq 1 "$n"); do { header; unit "$i"; } >"$d/f$i.go"; done
  dispatch "$n" >"$d/dispatch.go"
  s=$(time_run "$d"); printf '%-6s %7d %9.2f %12.3f\n' files "$n" "$s" "$(echo "$s * 1000 / $n" | bc -l)"
  rm -rf "$d"

  d=$TMP/funcs-$n; mkdir -p "$d"
  printf 'module example.com/big\n\ngo 1.22\n' >"$d/go.mod"
  { header; for i in $(seq 1 "$n"); do unit "$i"; done; } >"$d/one.go"
  dispatch "$n" >"$d/dispatch.go"
  s=$(time_run "$d"); printf '%-6s %7d %9.2f %12.3f\n' funcs "$n" "$s" "$(echo "$s * 1000 / $n" | bc -l)"
  rm -rf "$d"

  d=$TMP/stmts-$n; mkdir -p "$d"
  printf 'module example.com/big\n\ngo 1.22\n' >"$d/go.mod"
  {
    header
    printf 'func long(w http.ResponseWriter, r *http.Request, s *store1) {\n\tvar mu sync.Mutex\n\tch := make(chan int, 1)\n\tx := 0\n'
    for i in $(seq 1 "$n"); do
      case $((i % 4)) in
        0) printf '\tmu.Lock()\n\tx += %d\n\tmu.Unlock()\n' "$i" ;;
        1) printf '\tif x > %d {\n\t\tx--\n\t}\n' "$i" ;;
        2) printf '\tselect {\n\tcase ch <- x:\n\tdefault:\n\t}\n' ;;
        3) printf '\tfor j := 0; j < x; j++ {\n\t\tx += j\n\t}\n' ;;
      esac
    done
    printf '\t_, _ = io.ReadAll(r.Body)\n}\n\n'
    unit 1
  } >"$d/one.go"
  dispatch 1 >"$d/dispatch.go"
  s=$(time_run "$d"); printf '%-6s %7d %9.2f %12.3f\n' stmts "$n" "$s" "$(echo "$s * 1000 / $n" | bc -l)"
  rm -rf "$d"
done
