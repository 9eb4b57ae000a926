package service

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func load(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile("config.json")
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return append(body, cfg...), nil
}

func discard() {
	fmt.Fprintln(io.Discard, "x")
}
