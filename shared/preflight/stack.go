package preflight

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Stacks is the part of the CloudFormation client Load uses.
type Stacks interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	ListStackResources(ctx context.Context, in *cloudformation.ListStackResourcesInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
}

// Tables is the part of the DynamoDB client the table's check uses.
type Tables interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Load reads what stack says of itself: parameters, outputs, and every resource's physical id.
func Load(ctx context.Context, c Stacks, stack string) (Deployment, error) {
	out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return Deployment{}, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	if len(out.Stacks) != 1 {
		return Deployment{}, fmt.Errorf("describe stack %s: %d stacks", stack, len(out.Stacks))
	}
	d := Deployment{Stack: stack, Parameters: map[string]string{}, Outputs: map[string]string{}, Resources: map[string]string{}}
	for _, p := range out.Stacks[0].Parameters {
		d.Parameters[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	for _, o := range out.Stacks[0].Outputs {
		d.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	in := &cloudformation.ListStackResourcesInput{StackName: aws.String(stack)}
	for {
		page, err := c.ListStackResources(ctx, in)
		if err != nil {
			return Deployment{}, fmt.Errorf("list the resources of stack %s: %w", stack, err)
		}
		for _, r := range page.StackResourceSummaries {
			d.Resources[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
		}
		if page.NextToken == nil {
			return d, nil
		}
		in.NextToken = page.NextToken
	}
}

func checkTable(ctx context.Context, c Clients, d Deployment, o Options) []Check {
	table := d.Outputs["TableName"]
	if table == "" || c.DynamoDB == nil {
		return unknown("table", stackHas(o, "no TableName output"))
	}
	name := "table " + table
	out, err := c.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return []Check{{Name: name, Status: Missing, Detail: err.Error(), Fix: "deploy the stack (or make local-up)"}}
	}
	return []Check{{Name: name, Status: OK, Detail: fmt.Sprintf("%s, %d indexes", out.Table.TableStatus, len(out.Table.GlobalSecondaryIndexes))}}
}
