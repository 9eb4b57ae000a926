package main

import (
	"io/ioutil"
	"log"
	"net/http"
)

func summary(names []string) string {
	out := "names:"
	for _, n := range names {
		out += " " + n
	}
	return out
}

func main() {
	cfg, err := ioutil.ReadFile("config.json")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("config: %d bytes, %s", len(cfg), summary(nil))
	log.Fatal(http.ListenAndServe(":8080", nil))
}
