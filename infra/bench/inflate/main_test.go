package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// inflate counts every byte of every member, and names the file when the stream is cut short.
func TestInflate(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	for _, member := range []string{strings.Repeat("a line of log\n", 50000), "and a second member\n"} {
		w := gzip.NewWriter(&gz)
		w.Write([]byte(member))
		w.Close()
	}
	whole := filepath.Join(dir, "whole.gz")
	cut := filepath.Join(dir, "cut.gz")
	if err := os.WriteFile(whole, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut, gz.Bytes()[:gz.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := inflate(whole); err != nil || n != 50000*14+20 {
		t.Errorf("inflate(whole) = %d, %v; want %d bytes", n, err, 50000*14+20)
	}
	if _, err := inflate(cut); err == nil || !strings.Contains(err.Error(), "cut.gz") {
		t.Errorf("inflate(cut) = %v; want an error naming the file", err)
	}
}
