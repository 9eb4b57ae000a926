package skip

import "io/ioutil"

func f() { _, _ = ioutil.ReadFile("skipped") }
