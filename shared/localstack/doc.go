// Package localstack knows the local AWS stand-ins that `make local-up` starts (dynalite for
// DynamoDB, aws-ses-v2-local for SES v2): their addresses, the environment that points the AWS
// SDK at them, and how to create the Sunset table there from template.yaml, the one place the
// table is defined. It is the only package that names a local endpoint.
package localstack
