package clean

import "os"

func read() ([]byte, error) { return os.ReadFile("x") }
