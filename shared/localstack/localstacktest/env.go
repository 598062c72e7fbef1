package localstacktest

import "os"

var getenv = os.Getenv
