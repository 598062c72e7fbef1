// Command inflate decompresses a gzip file as `sunset scan` reads one
// (github.com/klauspost/compress/gzip over a 64 KB buffered reader), throws the result away and
// prints how many bytes it inflated. scan.sh times it against zcat: a scan of a gzip log must
// inflate it all on one core (a deflate stream is one chain: each block needs the one before),
// so inflate's wall time is the least a gzip scan can take, whatever the parsing costs and
// however many cores there are.
//
// Usage: inflate FILE.gz
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: inflate FILE.gz")
		os.Exit(2)
	}
	n, err := inflate(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "inflate:", err)
		os.Exit(1)
	}
	fmt.Println(n)
}

func inflate(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := zr.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", path, err)
		}
	}
}
