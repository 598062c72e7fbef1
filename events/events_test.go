package events

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// types maps each sample file to the aws-lambda-go type a handler receives it as. A file in
// this folder that is not listed fails the test: every sample must be read by a test.
var types = map[string]any{
	"s3-put.json":        events.S3Event{},
	"sqs-message.json":   events.SQSEvent{},
	"sqs-s3-put.json":    events.SQSEvent{},
	"scheduled.json":     events.EventBridgeEvent{},
	"ses-bounce.json":    events.SNSEvent{},
	"ses-complaint.json": events.SNSEvent{},
	"ses-send.json":      events.SNSEvent{},
	"ses-delivery.json":  events.SNSEvent{},
	// the bounce of `sunset preflight --send-probe`'s email to the mailbox simulator
	"ses-probe-bounce.json": events.SNSEvent{},
	// API Gateway HTTP API (payload 2.0): an /api request with the JWT authorizer's claims, and
	// a console request with none.
	"apigw-v2-campaigns.json": events.APIGatewayV2HTTPRequest{},
	"apigw-v2-console.json":   events.APIGatewayV2HTTPRequest{},
	// the hourly schedule's input to the ingest function (not an aws-lambda-go type: the
	// schedule's own JSON, which ingest.Handler.Invoke reads; shared/ingest's handler test
	// sends this file)
	"ingest-merge.json": mergeEvent{},
}

type mergeEvent struct {
	Merge bool `json:"merge"`
}

func TestEveryEventRoundTrips(t *testing.T) {
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no sample events found")
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			typ, ok := types[f]
			if !ok {
				t.Fatalf("events/%s has no aws-lambda-go type in the table of this test", f)
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v := reflect.New(reflect.TypeOf(typ)).Interface()
			if err := json.Unmarshal(raw, v); err != nil {
				t.Fatalf("unmarshal as %T: %v", typ, err)
			}
			if reflect.ValueOf(v).Elem().IsZero() {
				t.Fatalf("unmarshal as %T gave the zero value", typ)
			}
			back, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			assertJSONEq(t, raw, stripDerived(t, back))
		})
	}
}

// derived are fields aws-lambda-go computes on unmarshal, or writes even when empty (the
// client certificate of mutual TLS, which Sunset's API does not use); real events do not carry
// them.
var derived = map[string]bool{"urlDecodedKey": true, "authentication": true}

func stripDerived(t *testing.T, doc []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if derived[k] {
					delete(x, k)
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertJSONEq compares two JSON documents as values.
func assertJSONEq(t *testing.T, want, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(w, g) {
		wj, _ := json.MarshalIndent(w, "", " ")
		gj, _ := json.MarshalIndent(g, "", " ")
		t.Errorf("round trip changed the event:\nwant %s\ngot  %s", wj, gj)
	}
}
