package service

import "os"

// Save writes the report: the only use, so the import is swapped in place.
func Save(path string, data []byte) error {
	return os.WriteFile(path, data, 0o600)
}
