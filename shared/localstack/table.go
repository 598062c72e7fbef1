package localstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gopkg.in/yaml.v3"
)

// TableAPI is what creating and checking the table needs of a DynamoDB client.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// cfnTable is the part of an AWS::DynamoDB::Table resource that shapes the table's keys.
type cfnTable struct {
	Type       string `yaml:"Type"`
	Properties struct {
		AttributeDefinitions []struct {
			AttributeName string `yaml:"AttributeName"`
			AttributeType string `yaml:"AttributeType"`
		} `yaml:"AttributeDefinitions"`
		KeySchema              []cfnKey `yaml:"KeySchema"`
		GlobalSecondaryIndexes []struct {
			IndexName  string   `yaml:"IndexName"`
			KeySchema  []cfnKey `yaml:"KeySchema"`
			Projection struct {
				ProjectionType   string   `yaml:"ProjectionType"`
				NonKeyAttributes []string `yaml:"NonKeyAttributes"`
			} `yaml:"Projection"`
		} `yaml:"GlobalSecondaryIndexes"`
		TimeToLiveSpecification struct {
			AttributeName string `yaml:"AttributeName"`
		} `yaml:"TimeToLiveSpecification"`
	} `yaml:"Properties"`
}

type cfnKey struct {
	AttributeName string `yaml:"AttributeName"`
	KeyType       string `yaml:"KeyType"`
}

// TableSpec is the table as template.yaml defines it.
type TableSpec struct {
	Input        *dynamodb.CreateTableInput
	TTLAttribute string
}

// IndexNames lists the table's global secondary indexes.
func (s TableSpec) IndexNames() []string {
	var names []string
	for _, g := range s.Input.GlobalSecondaryIndexes {
		names = append(names, aws.ToString(g.IndexName))
	}
	return names
}

// ReadTemplate reads the single AWS::DynamoDB::Table resource of a SAM/CloudFormation template
// and returns the CreateTable input for a table of that shape named name. CloudFormation tags
// (!Ref, !Sub) are accepted and ignored: only keys, indexes and TTL are read.
func ReadTemplate(path, name string) (TableSpec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return TableSpec{}, fmt.Errorf("read table definition: %w", err)
	}
	var doc struct {
		Resources map[string]yaml.Node `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return TableSpec{}, fmt.Errorf("read table definition %s: %w", path, err)
	}
	var found []cfnTable
	for _, node := range doc.Resources {
		var t cfnTable
		if err := node.Decode(&t); err != nil {
			continue // a resource of another shape: not a table
		}
		if t.Type == "AWS::DynamoDB::Table" {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		return TableSpec{}, fmt.Errorf("read table definition %s: want exactly one AWS::DynamoDB::Table, found %d", path, len(found))
	}
	t := found[0]
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
	}
	for _, a := range t.Properties.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName),
			AttributeType: types.ScalarAttributeType(a.AttributeType),
		})
	}
	in.KeySchema = keySchema(t.Properties.KeySchema)
	for _, g := range t.Properties.GlobalSecondaryIndexes {
		gsi := types.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName),
			KeySchema: keySchema(g.KeySchema),
			Projection: &types.Projection{
				ProjectionType: types.ProjectionType(g.Projection.ProjectionType),
			},
		}
		if len(g.Projection.NonKeyAttributes) > 0 {
			gsi.Projection.NonKeyAttributes = g.Projection.NonKeyAttributes
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	if len(in.KeySchema) == 0 {
		return TableSpec{}, fmt.Errorf("read table definition %s: the table has no KeySchema", path)
	}
	return TableSpec{Input: in, TTLAttribute: t.Properties.TimeToLiveSpecification.AttributeName}, nil
}

func keySchema(keys []cfnKey) []types.KeySchemaElement {
	var out []types.KeySchemaElement
	for _, k := range keys {
		out = append(out, types.KeySchemaElement{
			AttributeName: aws.String(k.AttributeName),
			KeyType:       types.KeyType(k.KeyType),
		})
	}
	return out
}

// EnsureTable creates the table unless it exists, then waits until it is ACTIVE.
// It is idempotent: `make local-up` runs it every time.
func EnsureTable(ctx context.Context, db TableAPI, spec TableSpec) error {
	name := aws.ToString(spec.Input.TableName)
	_, err := db.CreateTable(ctx, spec.Input)
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	for {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("describe table %s: %w", name, err)
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for table %s: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CheckTable compares a live table with the spec: same key schema, every index present and
// ACTIVE. It returns a readable line per problem, none when healthy.
func CheckTable(ctx context.Context, db TableAPI, spec TableSpec) ([]string, error) {
	name := aws.ToString(spec.Input.TableName)
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", name, err)
	}
	var problems []string
	if out.Table.TableStatus != types.TableStatusActive {
		problems = append(problems, fmt.Sprintf("table %s is %s", name, out.Table.TableStatus))
	}
	if got, want := keyString(out.Table.KeySchema), keyString(spec.Input.KeySchema); got != want {
		problems = append(problems, fmt.Sprintf("table %s key schema is %s, want %s", name, got, want))
	}
	live := map[string]types.GlobalSecondaryIndexDescription{}
	for _, g := range out.Table.GlobalSecondaryIndexes {
		live[aws.ToString(g.IndexName)] = g
	}
	for _, g := range spec.Input.GlobalSecondaryIndexes {
		idx := aws.ToString(g.IndexName)
		l, ok := live[idx]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("index %s is missing", idx))
		case keyString(l.KeySchema) != keyString(g.KeySchema):
			problems = append(problems, fmt.Sprintf("index %s key schema is %s, want %s", idx, keyString(l.KeySchema), keyString(g.KeySchema)))
		case l.IndexStatus != "" && l.IndexStatus != types.IndexStatusActive:
			problems = append(problems, fmt.Sprintf("index %s is %s", idx, l.IndexStatus))
		}
	}
	return problems, nil
}

func keyString(keys []types.KeySchemaElement) string {
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf("%s(%s) ", aws.ToString(k.AttributeName), k.KeyType)
	}
	return s
}

// BucketMaker is the part of the S3 client EnsureBucket uses.
type BucketMaker interface {
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, optFns ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
}

// EnsureBucket creates a bucket unless it exists (the local S3 keeps it while it runs).
func EnsureBucket(ctx context.Context, c BucketMaker, name string) error {
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}
