package main

import "io/ioutil"

func half() {
	x := (
}

func still() {
	_, _ = ioutil.ReadFile("still checked")
}
