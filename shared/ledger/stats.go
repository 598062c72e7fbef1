package ledger

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Stats are a campaign's delivery counts as SES reports them, per recipient: the basis of its
// bounce rate. The feedback function adds to them once per notice and recipient (Observe's
// First and MarkBounced's count say when), so a repeated SNS delivery adds nothing; a crash
// between the notice's update and the count's loses that one count rather than doubling it.
// The baseline is where the rate's window starts: set when the campaign is auto-paused, so a
// resumed campaign is judged on what it sends after the resume.
type Stats struct {
	Sends           int64 `dynamodbav:"sends"`
	Bounces         int64 `dynamodbav:"bounces"`
	Complaints      int64 `dynamodbav:"complaints"`
	BaselineSends   int64 `dynamodbav:"baseline_sends"`
	BaselineBounces int64 `dynamodbav:"baseline_bounces"`
}

// Window is the sends and bounces since the baseline.
func (s Stats) Window() (sends, bounces int64) {
	return s.Sends - s.BaselineSends, s.Bounces - s.BaselineBounces
}

func statsKey(campaign string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(store.Key("NOTICE", campaign)), "SK": store.S("STATS")}
}

// Count adds to a campaign's delivery counts and returns them as they now are.
func (l *Ledger) Count(ctx context.Context, campaign string, sends, bounces, complaints int64) (Stats, error) {
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      statsKey(campaign),
		UpdateExpression:         aws.String("SET #t = :t ADD sends :s, bounces :b, complaints :c"),
		ExpressionAttributeNames: map[string]string{"#t": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":t": store.S("delivery-stats"), ":s": store.N(sends), ":b": store.N(bounces), ":c": store.N(complaints),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return Stats{}, fmt.Errorf("count deliveries of %s: %w", campaign, err)
	}
	var st Stats
	if err := attributevalue.UnmarshalMap(out.Attributes, &st); err != nil {
		return Stats{}, fmt.Errorf("count deliveries of %s: %w", campaign, err)
	}
	return st, nil
}

// Stats returns a campaign's delivery counts (zero before its first SES event).
func (l *Ledger) Stats(ctx context.Context, campaign string) (Stats, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.table), Key: statsKey(campaign)})
	if err != nil {
		return Stats{}, fmt.Errorf("delivery counts of %s: %w", campaign, err)
	}
	var st Stats
	if err := attributevalue.UnmarshalMap(out.Item, &st); err != nil {
		return Stats{}, fmt.Errorf("delivery counts of %s: %w", campaign, err)
	}
	return st, nil
}

// Rebase starts the bounce-rate window again at the counts in st.
func (l *Ledger) Rebase(ctx context.Context, campaign string, st Stats) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(l.table),
		Key:              statsKey(campaign),
		UpdateExpression: aws.String("SET baseline_sends = :s, baseline_bounces = :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s": store.N(st.Sends), ":b": store.N(st.Bounces),
		},
	})
	if err != nil {
		return fmt.Errorf("rebase delivery counts of %s: %w", campaign, err)
	}
	return nil
}
