// Command certain parks goroutines where a dump alone is enough to call them
// leaked (nil channels, a select with no cases, response bodies nobody
// closed), where only the code can tell (a send that `pitfall check` reports,
// held by too few goroutines for the dump's thresholds), and where nothing is
// wrong (an idle worker pool, pooled keep-alive connections, main's
// `select {}`). It serves its goroutine profile on a loopback port printed on
// stdout once every goroutine is in place.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	_ "net/http/pprof"
	"os"
	"sync"
	"time"
)

// dispatcher's results channel is never made: every send on it parks forever.
type dispatcher struct {
	results chan int
	done    chan struct{}
}

func (d *dispatcher) report(v int) {
	d.results <- v
}

func (d *dispatcher) awaitDone() {
	<-d.done
}

// forever parks its goroutine on purpose, in a started goroutine.
func forever() {
	select {}
}

// lookup gives up after a microsecond and abandons its worker's send.
func lookup() {
	ch := make(chan int)
	ready := make(chan struct{})
	go func() {
		<-ready
		ch <- 42
	}()
	select {
	case <-ch:
	case <-time.After(time.Microsecond):
	}
	close(ready)
}

// probe has the same bug as lookup, but runs once: one young goroutine is
// no proof of a leak.
func probe() {
	ch := make(chan string)
	ready := make(chan struct{})
	go func() {
		<-ready
		ch <- "pong"
	}()
	select {
	case <-ch:
	case <-time.After(time.Microsecond):
	}
	close(ready)
}

// pool's workers wait for jobs: idle, not leaked; stop ends them.
type pool struct {
	jobs chan func()
}

func (p *pool) stop() {
	close(p.jobs)
}

func (p *pool) work() {
	for job := range p.jobs {
		job()
	}
}

// fetchStatus reads the status and forgets the body: the connection stays
// busy until the body is closed, which never happens.
func fetchStatus(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// fetchAll reads and closes the body: the connection goes back to the pool.
func fetchAll(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

const (
	nilSenders   = 3
	nilReceivers = 2
	lookups      = 40
	workers      = 40
	openBodies   = 120
	closedBodies = 8
)

func main() {
	d := &dispatcher{}
	for i := 0; i < nilSenders; i++ {
		go d.report(i)
	}
	for i := 0; i < nilReceivers; i++ {
		go d.awaitDone()
	}
	go forever()
	for i := 0; i < lookups; i++ {
		lookup()
	}
	probe()
	p := &pool{jobs: make(chan func())}
	defer p.stop()
	for i := 0; i < workers; i++ {
		go p.work()
	}

	// A body big enough not to be read with the headers.
	payload := make([]byte, 64<<10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(payload)
	}))
	leaky := &http.Client{Transport: &http.Transport{}}
	for i := 0; i < openBodies; i++ {
		if _, err := fetchStatus(leaky, upstream.URL); err != nil {
			panic(err)
		}
	}
	tidy := &http.Client{Transport: &http.Transport{}}
	var wg sync.WaitGroup
	for i := 0; i < closedBodies; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := fetchAll(tidy, upstream.URL); err != nil {
				panic(err)
			}
		}()
	}
	wg.Wait()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, nil)
	fmt.Println(ln.Addr().String())
	os.Stdout.Sync()
	select {}
}
