package service

import (
	"fmt"
	"io/ioutil"
	"net/http"
)

func load(r *http.Request) ([]byte, error) {
	body, err := ioutil.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	cfg, err := ioutil.ReadFile("config.json")
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return append(body, cfg...), nil
}

func discard() {
	fmt.Fprintln(ioutil.Discard, "x")
}
