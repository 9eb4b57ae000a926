package service

import (
	"os"
)

// os.ReadDir returns []fs.DirEntry: the code may not compile after the
// swap, so the fix is unsafe.
func count(dir string) int {
	entries, _ := os.ReadDir(dir)
	return len(entries)
}
