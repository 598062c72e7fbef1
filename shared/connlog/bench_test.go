package connlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"testing"
)

// benchLog builds an IIS log like infra/bench/genw3c's: a share of lines on a legacy hostname
// (ActiveSync HH token), the rest ordinary traffic.
func benchLog(lines int, legacy float64) []byte {
	rng := rand.New(rand.NewSource(1))
	var b bytes.Buffer
	b.WriteString("#Software: Microsoft Internet Information Services 10.0\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n")
	hosts := []string{"eas.nhs.net", "mail.nhs.net", "outlook.nhs.net"}
	for i := 0; i < lines; i++ {
		a := rng.Intn(20000) // each account: one device, one home address
		acct := fmt.Sprintf("user%05d@nhs.net", a)
		stem, q := "/owa/service.svc", "action=GetItem&app=Mail"
		switch {
		case rng.Float64() < legacy:
			stem, q = "/Microsoft-Server-ActiveSync/default.eas", fmt.Sprintf("Cmd=Sync&DeviceId=DEV%06d&Log=V160_Ers1_HH:%s_Ty:iPhone_", a, hosts[rng.Intn(3)])
		case rng.Intn(3) == 0:
			stem, q = "/Microsoft-Server-ActiveSync/default.eas", fmt.Sprintf("Cmd=Ping&DeviceId=DEV%06d&Log=V160_Ers1_HH:outlook.office365.com_Ty:iPhone_", a)
		}
		fmt.Fprintf(&b, "2021-08-02 10:%02d:%02d 10.30.0.1 POST %s %s 443 %s 203.0.%d.%d Apple-iPhone13C2/1905.245 - 200 0 0 15\n",
			i/6000%60, i/100%60, stem, q, acct, a/256%256, a%256)
	}
	return b.Bytes()
}

func benchmarkScan(b *testing.B, legacy float64, gz bool) {
	data := benchLog(100000, legacy)
	in := data
	if gz {
		in = gzipBytes(b, data)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := NewScanner(testRules(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Scan(context.Background(), "bench", bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanIIS2pct(b *testing.B)     { benchmarkScan(b, 0.02, false) }
func BenchmarkScanIIS30pct(b *testing.B)    { benchmarkScan(b, 0.30, false) }
func BenchmarkScanIIS2pctGzip(b *testing.B) { benchmarkScan(b, 0.02, true) }

// BenchmarkWriteJSONLines: sorting and writing out the findings of a large table (60k).
func BenchmarkWriteJSONLines(b *testing.B) {
	s, err := NewScanner(testRules(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Scan(context.Background(), "bench", bytes.NewReader(benchLog(600000, 0.5))); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(s.Findings())), "findings")
	for b.Loop() {
		if err := s.WriteJSONLines(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
