package service

import (
	"io"
	"net/http"
)

// In a loop, a deferred Close runs only when the function returns.
func getAll(urls []string) (int, error) {
	total := 0
	for _, u := range urls {
		resp, err := http.Get(u)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		n, _ := io.Copy(io.Discard, resp.Body)
		total += int(n)
	}
	return total, nil
}
