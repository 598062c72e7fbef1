// Command s3 is the local stack's S3 API: gofakes3 (the library the tests already use) in
// memory, on 127.0.0.1:8006 unless -addr says otherwise. `make local-up` starts it beside
// dynalite and the SES emulator; the findings staged by ingest live in it until merged, as
// they live in the logs bucket in AWS.
//
//	go run ./infra/local/s3 [-addr 127.0.0.1:8006]
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8006", "address to listen on (loopback only)")
	flag.Parse()
	srv := &http.Server{
		Addr:              *addr,
		Handler:           gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true)).Server(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Printf("local S3 on http://%s\n", *addr)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "s3:", err)
		os.Exit(1)
	}
}
