package ingest_test

import (
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/localstack"
)

func localstackEndpoint(t *testing.T) string {
	t.Helper()
	return localstack.Endpoint("dynamodb")
}
