package service

import "io/ioutil"

// Save writes the report: the only use, so the import is swapped in place.
func Save(path string, data []byte) error {
	return ioutil.WriteFile(path, data, 0o600)
}
