package store

import (
	"cmp"
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Units counts the capacity units DynamoDB reported for the requests made under one context
// (WithUnits): what a file's ingest or a merge cost, in the units DynamoDB bills. AWS reports
// the table's share and each index's; the local stand-in reports the table's only.
type Units struct {
	mu       sync.Mutex
	write    float64
	read     float64
	requests int
	indexes  map[string]float64
}

type unitsKey struct{}

// WithUnits returns a context whose DynamoDB requests add what they cost to the returned Units
// (a client made with CountCapacity). Contexts nest: the innermost Units counts.
func WithUnits(ctx context.Context) (context.Context, *Units) {
	u := &Units{}
	return context.WithValue(ctx, unitsKey{}, u), u
}

// Write is the write units counted so far, table and indexes together.
func (u *Units) Write() float64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.write
}

// Read is the read units counted so far.
func (u *Units) Read() float64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.read
}

// Requests is how many requests reported capacity.
func (u *Units) Requests() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests
}

// Index is the units counted on one index (writes and reads together).
func (u *Units) Index(name string) float64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.indexes[name]
}

func (u *Units) add(cc []types.ConsumedCapacity, write bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.requests++
	for _, c := range cc {
		total := deref(c.CapacityUnits)
		if write {
			u.write += total
		} else {
			u.read += total
		}
		for name, ic := range c.GlobalSecondaryIndexes {
			if u.indexes == nil {
				u.indexes = map[string]float64{}
			}
			u.indexes[name] += deref(ic.CapacityUnits)
		}
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// CountCapacity makes every request of a DynamoDB client ask for its consumed capacity
// (ReturnConsumedCapacity INDEXES, unless the request asks for something itself) and adds it
// to the Units of the request's context, if any. Every client Sunset makes has it
// (awsclient).
func CountCapacity(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("SunsetConsumedCapacity", countCapacity), middleware.Before)
	})
}

func countCapacity(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	const idx = types.ReturnConsumedCapacityIndexes
	switch p := in.Parameters.(type) {
	case *dynamodb.PutItemInput:
		p.ReturnConsumedCapacity = cmp.Or(p.ReturnConsumedCapacity, idx)
	case *dynamodb.UpdateItemInput:
		p.ReturnConsumedCapacity = cmp.Or(p.ReturnConsumedCapacity, idx)
	case *dynamodb.DeleteItemInput:
		p.ReturnConsumedCapacity = cmp.Or(p.ReturnConsumedCapacity, idx)
	case *dynamodb.BatchWriteItemInput:
		p.ReturnConsumedCapacity = cmp.Or(p.ReturnConsumedCapacity, idx)
	case *dynamodb.GetItemInput:
		p.ReturnConsumedCapacity = cmp.Or(p.ReturnConsumedCapacity, idx)
	case *dynamodb.QueryInput:
		p.ReturnConsumedCapacity = cmp.Or(p.ReturnConsumedCapacity, idx)
	case *dynamodb.BatchGetItemInput:
		p.ReturnConsumedCapacity = cmp.Or(p.ReturnConsumedCapacity, idx)
	}
	out, md, err := next.HandleInitialize(ctx, in)
	u, _ := ctx.Value(unitsKey{}).(*Units)
	if err != nil || u == nil {
		return out, md, err
	}
	switch r := out.Result.(type) {
	case *dynamodb.PutItemOutput:
		u.add(one(r.ConsumedCapacity), true)
	case *dynamodb.UpdateItemOutput:
		u.add(one(r.ConsumedCapacity), true)
	case *dynamodb.DeleteItemOutput:
		u.add(one(r.ConsumedCapacity), true)
	case *dynamodb.BatchWriteItemOutput:
		u.add(r.ConsumedCapacity, true)
	case *dynamodb.GetItemOutput:
		u.add(one(r.ConsumedCapacity), false)
	case *dynamodb.QueryOutput:
		u.add(one(r.ConsumedCapacity), false)
	case *dynamodb.BatchGetItemOutput:
		u.add(r.ConsumedCapacity, false)
	}
	return out, md, err
}

func one(c *types.ConsumedCapacity) []types.ConsumedCapacity {
	if c == nil {
		return nil
	}
	return []types.ConsumedCapacity{*c}
}
