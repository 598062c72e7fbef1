package connlog

import (
	"context"
	"os"
	"testing"
)

func BenchmarkZZFile(b *testing.B) {
	path := os.Getenv("ZZ_FILE")
	if path == "" {
		b.Skip()
	}
	c, _ := os.ReadFile("/work/main/infra/bench/campaign-bench.yaml")
	_ = c
	rules := Rules{Hostnames: []string{"imap.nhs.net", "pop.nhs.net", "smtp.nhs.net", "eas.nhs.net", "mail.nhs.net", "outlook.nhs.net"},
		Endpoints: map[string]string{"10.20.0.11:993": "imap.nhs.net", "10.20.0.13": "smtp.nhs.net"}, IgnoreAccounts: []string{"healthmailbox*"}}
	for b.Loop() {
		f, _ := os.Open(path)
		s, _ := NewScanner(rules, Options{Workers: 1})
		if _, err := s.Scan(context.Background(), "x", f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
