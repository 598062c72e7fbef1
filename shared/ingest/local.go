package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// FileSource is a local file. Its identity is its content (SHA-256), so the same bytes
// ingested again from any path or laptop count once.
func FileSource(path string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return Source{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Source{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return Source{
		ID:   "sha256:" + hex.EncodeToString(h.Sum(nil)),
		Name: path,
		Open: func(context.Context) (io.ReadCloser, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", path, err)
			}
			return f, nil
		},
	}, nil
}
