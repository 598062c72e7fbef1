// Package events holds sample Lambda event payloads (the JSON files in this folder) and the test
// that keeps each one honest: it must round-trip through its aws-lambda-go type. Handler tests
// read the same files to drive the handlers.
package events
