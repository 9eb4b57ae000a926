// Command deadlock takes the same lock twice and lets the runtime notice.
package main

import (
	"fmt"
	"sync"
)

type account struct {
	mu      sync.Mutex
	balance int
}

func (a *account) Balance() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.balance
}

func (a *account) Deposit(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.balance = a.Balance() + n
}

func main() {
	a := &account{}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Deposit(1)
		}()
	}
	wg.Wait()
	fmt.Println(a.Balance())
}
