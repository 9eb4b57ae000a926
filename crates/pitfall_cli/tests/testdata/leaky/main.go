// Command leaky leaks goroutines in four known ways, then serves its
// goroutine profile on a loopback port that it prints on stdout.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	_ "net/http/pprof"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// timeoutLeak gives up waiting, and the worker's send blocks forever.
func timeoutLeak() {
	ch := make(chan int)
	ready := make(chan struct{})
	go func() {
		<-ready // the work takes longer than the caller waits
		ch <- 42
	}()
	select {
	case <-ch:
	case <-time.After(time.Microsecond):
	}
	close(ready)
}

// prematureReturn returns on the first error; the other senders block.
func prematureReturn() error {
	errc := make(chan error)
	for i := 0; i < 3; i++ {
		go func() {
			errc <- errors.New("failed")
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

// forgottenTicker starts a poller that nothing ever stops.
func forgottenTicker(stop chan struct{}) {
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
}

type store struct {
	mu   sync.Mutex
	data map[string]int
}

func (s *store) get(k string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[k]
}

// update locks, then calls get, which locks again: the first caller
// deadlocks itself and every later caller queues behind it.
func (s *store) update(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[k] = s.get(k) + 1
}

// fetch calls a slow upstream with the default client (no timeout).
func fetch(w http.ResponseWriter, r *http.Request) {
	resp, err := http.Get(upstream)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	resp.Body.Close()
}

var upstream string

func main() {
	// An upstream that accepts connections and never answers.
	slow, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := slow.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	upstream = "http://" + slow.Addr().String() + "/"

	for i := 0; i < 150; i++ {
		timeoutLeak()
	}
	for i := 0; i < 60; i++ {
		_ = prematureReturn()
	}
	stop := make(chan struct{})
	for i := 0; i < 120; i++ {
		forgottenTicker(stop)
	}
	s := &store{data: map[string]int{}}
	for i := 0; i < 30; i++ {
		go s.update("k")
	}
	// Labelled goroutines: two label sets at one site add up to one verdict.
	for i := 0; i < 120; i++ {
		tenant := "a"
		if i%2 == 1 {
			tenant = "b"
		}
		pprof.Do(context.Background(), pprof.Labels("tenant", tenant), func(context.Context) {
			go func() {
				var wg sync.WaitGroup
				wg.Add(1)
				wg.Wait()
			}()
		})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	http.HandleFunc("/fetch", fetch)
	http.HandleFunc("/leak", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 70; i++ {
			timeoutLeak()
		}
	})
	go http.Serve(ln, nil)
	for i := 0; i < 5; i++ {
		go http.Get("http://" + ln.Addr().String() + "/fetch")
	}
	// A redirect to another scheme, which pitfall must refuse.
	http.HandleFunc("/to-https", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+"/debug/pprof/goroutine", http.StatusFound)
	})
	// The same pages over TLS, with a self-signed certificate.
	tlsSrv := httptest.NewUnstartedServer(http.DefaultServeMux)
	tlsSrv.StartTLS()
	fmt.Println(ln.Addr().String())
	fmt.Println(tlsSrv.URL)
	os.Stdout.Sync()
	select {}
}
