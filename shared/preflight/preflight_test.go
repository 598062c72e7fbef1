package preflight

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/nhsmail-sunset/sunset/shared/signing"
)

// The services answer as AWS would for a deployment in one state; each field is one answer.
type ses struct {
	account  sesv2.GetAccountOutput
	identity *sesv2.GetEmailIdentityOutput // nil: NotFoundException
	dests    []sestypes.EventDestination
	sendErr  error
}

func (s *ses) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	return &s.account, nil
}
func (s *ses) GetEmailIdentity(context.Context, *sesv2.GetEmailIdentityInput, ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error) {
	if s.identity == nil {
		return nil, &sestypes.NotFoundException{Message: aws.String("not found")}
	}
	return s.identity, nil
}
func (s *ses) GetConfigurationSetEventDestinations(context.Context, *sesv2.GetConfigurationSetEventDestinationsInput, ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetEventDestinationsOutput, error) {
	return &sesv2.GetConfigurationSetEventDestinationsOutput{EventDestinations: s.dests}, nil
}
func (s *ses) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	if s.sendErr != nil {
		return nil, s.sendErr
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String("m-1")}, nil
}

type params map[string]string

func (p params) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	v, ok := p[aws.ToString(in.Name)]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{Message: aws.String("no such parameter")}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String(v)}}, nil
}

type subscriptions [][]snstypes.Subscription // pages

func (s subscriptions) ListSubscriptionsByTopic(_ context.Context, in *sns.ListSubscriptionsByTopicInput, _ ...func(*sns.Options)) (*sns.ListSubscriptionsByTopicOutput, error) {
	i := 0
	if in.NextToken != nil {
		i = int(aws.ToString(in.NextToken)[0] - '0')
	}
	out := &sns.ListSubscriptionsByTopicOutput{Subscriptions: s[i]}
	if i+1 < len(s) {
		out.NextToken = aws.String(string(rune('0' + i + 1)))
	}
	return out, nil
}

type account int32

func (a account) GetAccountSettings(context.Context, *lambda.GetAccountSettingsInput, ...func(*lambda.Options)) (*lambda.GetAccountSettingsOutput, error) {
	return &lambda.GetAccountSettingsOutput{AccountLimit: &lambdatypes.AccountLimit{ConcurrentExecutions: int32(a), UnreservedConcurrentExecutions: aws.Int32(int32(a) - Reserved)}}, nil
}

// probes says the probe's Bounce arrived after polls reads (never, when polls < 0).
type probes struct{ polls, reads int }

func (p *probes) Seen(context.Context, string, string) (time.Time, bool, error) {
	p.reads++
	return time.Now(), p.polls >= 0 && p.reads > p.polls, nil
}

type tables struct{}

func (tables) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return &dynamodb.DescribeTableOutput{Table: &dbtypes.TableDescription{TableStatus: dbtypes.TableStatusActive}}, nil
}

type schedule schedtypes.ScheduleState

func (s schedule) GetSchedule(context.Context, *scheduler.GetScheduleInput, ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error) {
	return &scheduler.GetScheduleOutput{State: schedtypes.ScheduleState(s), ScheduleExpression: aws.String("cron(0 8 * * ? *)")}, nil
}

var allEvents = []sestypes.EventType{sestypes.EventTypeSend, sestypes.EventTypeReject, sestypes.EventTypeBounce, sestypes.EventTypeComplaint, sestypes.EventTypeDelivery}

// ready is a deployment with everything in place, and its services' answers.
func ready(t *testing.T) (Clients, Deployment, *ses) {
	issuer := httptest.NewServer(nil)
	t.Cleanup(issuer.Close)
	issuer.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": issuer.URL + "/tenant/v2.0"})
	})
	s := &ses{
		account: sesv2.GetAccountOutput{ProductionAccessEnabled: true, SendingEnabled: true, SendQuota: &sestypes.SendQuota{Max24HourSend: 50000, MaxSendRate: 14}},
		identity: &sesv2.GetEmailIdentityOutput{IdentityType: sestypes.IdentityTypeDomain, VerifiedForSendingStatus: true,
			DkimAttributes:     &sestypes.DkimAttributes{Status: sestypes.DkimStatusSuccess, SigningEnabled: true},
			MailFromAttributes: &sestypes.MailFromAttributes{MailFromDomain: aws.String("bounce.example.nhs.net"), MailFromDomainStatus: sestypes.MailFromDomainStatusSuccess}},
		dests: []sestypes.EventDestination{{Enabled: true, MatchingEventTypes: allEvents, SnsDestination: &sestypes.SnsDestination{TopicArn: aws.String("arn:topic:events")}}},
	}
	c := Clients{DynamoDB: tables{}, SES: s, SSM: params{"/sunset/signing-keys": signing.NewKey(), "/sunset/console-client-secret": "s3cret"},
		SNS:    subscriptions{{{SubscriptionArn: aws.String("arn:sub:1"), Protocol: aws.String("email"), Endpoint: aws.String("ops@example.nhs.net")}}},
		Lambda: account(1000), Scheduler: schedule(schedtypes.ScheduleStateEnabled), HTTP: issuer.Client(), Probes: &probes{polls: 2}}
	d := Deployment{Stack: "sunset-prod",
		Parameters: map[string]string{"SenderIdentity": "example.nhs.net", "SigningKeysParameter": "/sunset/signing-keys",
			"ClientSecretParameter": "/sunset/console-client-secret", "AuthIssuer": issuer.URL + "/tenant/v2.0", "AuthAudience": "app-id", "AlarmEmail": "ops@example.nhs.net"},
		Outputs:   map[string]string{"AlarmTopicArn": "arn:topic:alarms", "TableName": "sunset-prod"},
		Resources: map[string]string{"SesConfigurationSet": "sunset-prod", "SesEventsTopic": "arn:topic:events", "PlannerSchedule": "sunset-prod-daily"}}
	return c, d, s
}

func token(claims map[string]string) string {
	b, _ := json.Marshal(claims)
	return "e30." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
}

// Each way a first deployment falls short is reported missing, named, with its fix; a
// deployment with everything in place is all ok (the probe and token checked when asked).
func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Clients, d *Deployment, s *ses, o *Options)
		check  string // the check that must be missing ("" : none)
		says   string
	}{
		{"ready", func(*Clients, *Deployment, *ses, *Options) {}, "", ""},
		{"sandbox", func(_ *Clients, _ *Deployment, s *ses, _ *Options) { s.account.ProductionAccessEnabled = false }, "SES account", "sandbox"},
		{"sending disabled", func(_ *Clients, _ *Deployment, s *ses, _ *Options) { s.account.SendingEnabled = false }, "SES account", "disabled"},
		{"quota spent", func(_ *Clients, _ *Deployment, s *ses, _ *Options) { s.account.SendQuota.SentLast24Hours = 50000 }, "SES account", "quota is spent"},
		{"no identity", func(_ *Clients, _ *Deployment, s *ses, _ *Options) { s.identity = nil }, "SES identity example.nhs.net", "create-email-identity"},
		{"unverified", func(_ *Clients, _ *Deployment, s *ses, _ *Options) { s.identity.VerifiedForSendingStatus = false }, "SES identity example.nhs.net", "not verified"},
		{"DKIM pending", func(_ *Clients, _ *Deployment, s *ses, _ *Options) {
			s.identity.DkimAttributes.Status = sestypes.DkimStatusPending
		}, "DKIM for example.nhs.net", "CNAME"},
		{"no MAIL FROM", func(_ *Clients, _ *Deployment, s *ses, _ *Options) { s.identity.MailFromAttributes = nil }, "custom MAIL FROM for example.nhs.net", "SPF"},
		{"MAIL FROM failed", func(_ *Clients, _ *Deployment, s *ses, _ *Options) {
			s.identity.MailFromAttributes.MailFromDomainStatus = sestypes.MailFromDomainStatusFailed
		}, "custom MAIL FROM for example.nhs.net", "MX"},
		{"no bounce events", func(_ *Clients, _ *Deployment, s *ses, _ *Options) {
			s.dests[0].MatchingEventTypes = allEvents[:2]
		}, "configuration set sunset-prod", "no enabled destination"},
		{"probe refused", func(_ *Clients, _ *Deployment, s *ses, o *Options) {
			o.SendProbe, s.sendErr = true, errors.New("MessageRejected: Email address is not verified")
		}, "probe email", "not verified"},
		{"probe's bounce never arrives", func(c *Clients, _ *Deployment, _ *ses, o *Options) {
			o.SendProbe, o.ProbeWait, o.ProbePoll, c.Probes = true, 50*time.Millisecond, 5*time.Millisecond, &probes{polls: -1}
		}, "probe email", "no Bounce reached the feedback function"},
		{"bad signing keys", func(c *Clients, _ *Deployment, _ *ses, _ *Options) {
			c.SSM = params{"/sunset/signing-keys": "not base64!", "/sunset/console-client-secret": "s"}
		}, "signing keys /sunset/signing-keys", "put-parameter"},
		{"no client secret", func(c *Clients, _ *Deployment, _ *ses, _ *Options) {
			c.SSM = params{"/sunset/signing-keys": signing.NewKey()}
		}, "console client secret /sunset/console-client-secret", "put-parameter"},
		{"new account's concurrency", func(c *Clients, _ *Deployment, _ *ses, _ *Options) { c.Lambda = account(10) }, "Lambda concurrency", "at least 120"},
		{"schedule disabled", func(c *Clients, _ *Deployment, _ *ses, _ *Options) {
			c.Scheduler = schedule(schedtypes.ScheduleStateDisabled)
		}, "daily schedule sunset-prod-daily", "DISABLED"},
		{"alarm email not confirmed", func(c *Clients, _ *Deployment, _ *ses, _ *Options) {
			c.SNS = subscriptions{{{SubscriptionArn: aws.String("PendingConfirmation")}}, {{SubscriptionArn: aws.String("Deleted")}}}
		}, "alarm subscription", "1 waiting for confirmation"},
		{"wrong issuer", func(_ *Clients, d *Deployment, _ *ses, _ *Options) { d.Parameters["AuthIssuer"] += "/x" }, "OpenID issuer", "names issuer"},
		{"v1 access token", func(_ *Clients, d *Deployment, _ *ses, o *Options) {
			o.AccessToken = token(map[string]string{"ver": "1.0", "iss": "https://sts.windows.net/tenant/", "aud": "api://sunset"})
		}, "access token version", "requestedAccessTokenVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, d, s := ready(t)
			var o Options
			tc.change(&c, &d, s, &o)
			checks := Run(context.Background(), c, d, o)
			var missing []Check
			for _, ch := range checks {
				if ch.Status == Missing {
					missing = append(missing, ch)
				}
			}
			if tc.check == "" {
				if len(missing) > 0 {
					t.Fatalf("missing: %+v", missing)
				}
				return
			}
			if len(missing) != 1 || !strings.HasPrefix(missing[0].Name, tc.check) || !strings.Contains(missing[0].Detail+" "+missing[0].Fix, tc.says) || missing[0].Fix == "" {
				t.Fatalf("missing %+v, want only %q saying %q, with a fix", missing, tc.check, tc.says)
			}
		})
	}
}

// With the probe and a v2 token asked for, everything in place is ok; the output is a table
// with no control characters from what the services said.
func TestReadyDeploymentAndOutput(t *testing.T) {
	c, d, s := ready(t)
	s.identity.MailFromAttributes.MailFromDomain = aws.String("bounce.example.nhs.net\x1b]0;owned\x07")
	o := Options{SendProbe: true, ProbePoll: time.Millisecond, AccessToken: token(map[string]string{"ver": "2.0", "iss": d.Parameters["AuthIssuer"], "aud": "app-id"})}
	checks := Run(context.Background(), c, d, o)
	for _, ch := range checks {
		if ch.Status != OK {
			t.Errorf("%s: %s %s", ch.Name, ch.Status, ch.Detail)
		}
	}
	var b bytes.Buffer
	Write(&b, checks)
	if strings.ContainsAny(b.String(), "\x1b\x07") || !strings.Contains(b.String(), "ok  ") {
		t.Errorf("output:\n%q", b.String())
	}
}

type stacks struct {
	pages [][]cfntypes.StackResourceSummary
}

func (s stacks) DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{{
		Parameters: []cfntypes.Parameter{{ParameterKey: aws.String("SenderIdentity"), ParameterValue: aws.String("example.nhs.net")}},
		Outputs:    []cfntypes.Output{{OutputKey: aws.String("AlarmTopicArn"), OutputValue: aws.String("arn:topic:alarms")}}}}}, nil
}

func (s stacks) ListStackResources(_ context.Context, in *cloudformation.ListStackResourcesInput, _ ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error) {
	i := 0
	if in.NextToken != nil {
		i = 1
	}
	out := &cloudformation.ListStackResourcesOutput{StackResourceSummaries: s.pages[i]}
	if i == 0 {
		out.NextToken = aws.String("next")
	}
	return out, nil
}

// Load reads the stack's parameters, outputs and every page of its resources.
func TestLoad(t *testing.T) {
	d, err := Load(context.Background(), stacks{[][]cfntypes.StackResourceSummary{
		{{LogicalResourceId: aws.String("SesConfigurationSet"), PhysicalResourceId: aws.String("sunset-prod")}},
		{{LogicalResourceId: aws.String("PlannerSchedule"), PhysicalResourceId: aws.String("sunset-prod-daily")}},
	}}, "sunset-prod")
	if err != nil || d.Parameters["SenderIdentity"] != "example.nhs.net" || d.Outputs["AlarmTopicArn"] != "arn:topic:alarms" ||
		d.Resources["SesConfigurationSet"] != "sunset-prod" || d.Resources["PlannerSchedule"] != "sunset-prod-daily" {
		t.Fatalf("%+v %v", d, err)
	}
}
