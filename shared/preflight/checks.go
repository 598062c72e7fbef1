package preflight

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

// SES is the part of the SES v2 client the checks use.
type SES interface {
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
	GetEmailIdentity(ctx context.Context, in *sesv2.GetEmailIdentityInput, optFns ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error)
	GetConfigurationSetEventDestinations(ctx context.Context, in *sesv2.GetConfigurationSetEventDestinationsInput, optFns ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetEventDestinationsOutput, error)
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// SSM is the part of the SSM client the checks use.
type SSM interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SNS is the part of the SNS client the checks use.
type SNS interface {
	ListSubscriptionsByTopic(ctx context.Context, in *sns.ListSubscriptionsByTopicInput, optFns ...func(*sns.Options)) (*sns.ListSubscriptionsByTopicOutput, error)
}

// Lambda is the part of the Lambda client the checks use.
type Lambda interface {
	GetAccountSettings(ctx context.Context, in *lambda.GetAccountSettingsInput, optFns ...func(*lambda.Options)) (*lambda.GetAccountSettingsOutput, error)
}

// Scheduler is the part of the EventBridge Scheduler client the checks use.
type Scheduler interface {
	GetSchedule(ctx context.Context, in *scheduler.GetScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
}

// Reserved is the concurrency the stack's functions reserve (template.yaml; infra's tests hold
// it to the template), and Lambda keeps 100 of an account's concurrency unreserved.
const (
	Reserved          = 20
	LambdaUnreserved  = 100
	simulatorBounce   = "bounce@simulator.amazonses.com"
	deployDoc         = "docs/deploy.md"
	feedbackEventKind = "send, reject, bounce, complaint, delivery"
)

func checkAccount(ctx context.Context, c Clients, _ Deployment, o Options) []Check {
	const name = "SES account"
	if c.SES == nil {
		return unknown(name, none(o, "SES"))
	}
	a, err := c.SES.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return unknown(name, "GetAccount: "+err.Error())
	}
	q := a.SendQuota
	if q == nil {
		q = &sestypes.SendQuota{}
	}
	quota := fmt.Sprintf("%.0f recipients a day, %.0f a second; %.0f in the last 24 hours", q.Max24HourSend, q.MaxSendRate, q.SentLast24Hours)
	switch {
	case !a.ProductionAccessEnabled:
		return []Check{{Name: name, Status: Missing, Detail: "in the SES sandbox: only verified addresses receive email (" + quota + ")",
			Fix: "request production access (SES console, Account dashboard; " + deployDoc + ", step 2) with the campaign's volume and its bounce handling"}}
	case !a.SendingEnabled:
		return []Check{{Name: name, Status: Missing, Detail: "sending is disabled for the account (" + quota + ")",
			Fix: "find why (SES console, Reputation metrics; a pause for bounces or complaints) and re-enable it: aws sesv2 put-account-sending-attributes --sending-enabled"}}
	case q.Max24HourSend > 0 && q.SentLast24Hours >= q.Max24HourSend:
		return []Check{{Name: name, Status: Missing, Detail: "today's quota is spent (" + quota + ")",
			Fix: "notices wait and go when the 24-hour window moves on; for a larger campaign ask SES for a higher quota"}}
	}
	return []Check{{Name: name, Status: OK, Detail: "production access, sending enabled; " + quota}}
}

func checkIdentity(ctx context.Context, c Clients, d Deployment, o Options) []Check {
	identity := d.Parameters["SenderIdentity"]
	if identity == "" {
		return unknown("SES identity", "the stack has no SenderIdentity parameter")
	}
	if c.SES == nil {
		return unknown("SES identity "+identity, none(o, "SES"))
	}
	id, err := c.SES.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(identity)})
	var nf *sestypes.NotFoundException
	if errors.As(err, &nf) {
		return []Check{{Name: "SES identity " + identity, Status: Missing, Detail: "not an identity of this account and region",
			Fix: "create and verify it (" + deployDoc + ", step 1): aws sesv2 create-email-identity --email-identity " + identity}}
	}
	if err != nil && o.Local {
		return unknown("SES identity "+identity, "the local SES emulator does not serve GetEmailIdentity: checked in AWS only")
	}
	if err != nil {
		return unknown("SES identity "+identity, "GetEmailIdentity: "+err.Error())
	}
	out := []Check{{Name: "SES identity " + identity, Status: OK, Detail: "verified for sending"}}
	if !id.VerifiedForSendingStatus {
		out[0] = Check{Name: out[0].Name, Status: Missing, Detail: "not verified (" + string(id.VerificationStatus) + ")",
			Fix: "publish the DKIM CNAME records SES gave (or click the address's verification link) and wait for SES (" + deployDoc + ", step 1)"}
	}
	if id.IdentityType != sestypes.IdentityTypeDomain {
		return append(out, Check{Name: "DKIM and MAIL FROM", Status: OK,
			Detail: "an address identity: DMARC alignment is its domain's (verify the domain instead for Easy DKIM and a custom MAIL FROM)"})
	}
	return append(out, dkimCheck(identity, id.DkimAttributes), mailFromCheck(identity, id.MailFromAttributes))
}

func dkimCheck(identity string, k *sestypes.DkimAttributes) Check {
	name := "DKIM for " + identity
	if k == nil || k.Status != sestypes.DkimStatusSuccess || !k.SigningEnabled {
		status := "not set up"
		if k != nil {
			status = fmt.Sprintf("%s, signing %v", k.Status, k.SigningEnabled)
		}
		return Check{Name: name, Status: Missing, Detail: status,
			Fix: "publish Easy DKIM's three CNAME records in the domain's DNS and wait for SUCCESS: without DKIM signed by the From domain, DMARC at Exchange Online may quarantine notices"}
	}
	return Check{Name: name, Status: OK, Detail: "Easy DKIM signing, " + string(k.Status)}
}

func mailFromCheck(identity string, m *sestypes.MailFromAttributes) Check {
	name := "custom MAIL FROM for " + identity
	if m == nil || aws.ToString(m.MailFromDomain) == "" {
		return Check{Name: name, Status: Missing, Detail: "not set: bounces come from amazonses.com, so SPF does not align with the From",
			Fix: "set a MAIL FROM subdomain (bounce." + identity + ") with its MX and SPF records (" + deployDoc + ", step 1)"}
	}
	if m.MailFromDomainStatus != sestypes.MailFromDomainStatusSuccess {
		return Check{Name: name, Status: Missing, Detail: aws.ToString(m.MailFromDomain) + " is " + string(m.MailFromDomainStatus),
			Fix: "publish its MX (feedback-smtp.<region>.amazonses.com) and SPF (v=spf1 include:amazonses.com ~all) records; notices wait while SES refuses it"}
	}
	return Check{Name: name, Status: OK, Detail: aws.ToString(m.MailFromDomain)}
}

func checkConfigurationSet(ctx context.Context, c Clients, d Deployment, o Options) []Check {
	set, topic := d.Resources["SesConfigurationSet"], d.Resources["SesEventsTopic"]
	name := "configuration set " + set
	if set == "" || c.SES == nil {
		return unknown("configuration set", stackHas(o, "no SesConfigurationSet"))
	}
	out, err := c.SES.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String(set)})
	if err != nil {
		return []Check{{Name: name, Status: Missing, Detail: err.Error(),
			Fix: "deploy the stack (it creates the set and its SNS destination); notices wait while SES cannot find it"}}
	}
	want := []sestypes.EventType{sestypes.EventTypeSend, sestypes.EventTypeReject, sestypes.EventTypeBounce, sestypes.EventTypeComplaint, sestypes.EventTypeDelivery}
	for _, e := range out.EventDestinations {
		if e.Enabled && e.SnsDestination != nil && (topic == "" || aws.ToString(e.SnsDestination.TopicArn) == topic) &&
			!slices.ContainsFunc(want, func(t sestypes.EventType) bool { return !slices.Contains(e.MatchingEventTypes, t) }) {
			return []Check{{Name: name, Status: OK, Detail: "publishes " + feedbackEventKind + " to " + aws.ToString(e.SnsDestination.TopicArn)}}
		}
	}
	return []Check{{Name: name, Status: Missing, Detail: "no enabled destination publishes " + feedbackEventKind + " to the events topic",
		Fix: "redeploy the stack (SesEventDestination): without it no bounce is suppressed and no notice in doubt is settled"}}
}

func checkProbe(ctx context.Context, c Clients, d Deployment, o Options) []Check {
	const name = "probe email"
	if !o.SendProbe {
		return unknown(name, "not sent (--send-probe sends one to SES's mailbox simulator and waits for its bounce)")
	}
	identity, set := d.Parameters["SenderIdentity"], d.Resources["SesConfigurationSet"]
	if c.SES == nil || identity == "" {
		return unknown(name, none(o, "SES"))
	}
	from := identity
	if !strings.Contains(from, "@") {
		from = "sunset-preflight@" + identity
	}
	token := fmt.Sprintf("%x", time.Now().UnixNano())
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination:      &sestypes.Destination{ToAddresses: []string{simulatorBounce}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("Sunset preflight")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("A probe from sunset preflight: its bounce must reach the feedback function.")}},
			Headers: []sestypes.MessageHeader{{Name: aws.String(feedback.HeaderProbe), Value: aws.String(token)}},
		}},
	}
	if set != "" {
		in.ConfigurationSetName = aws.String(set)
	}
	out, err := c.SES.SendEmail(ctx, in)
	if err != nil {
		return []Check{{Name: name, Status: Missing, Detail: "SES refused " + from + ": " + err.Error(),
			Fix: "the checks above say why (identity, sandbox, sending disabled); the caller also needs ses:SendEmail on the identity and the configuration set"}}
	}
	sent := fmt.Sprintf("SES accepted %s to %s as %s", from, simulatorBounce, aws.ToString(out.MessageId))
	if c.Probes == nil || set == "" {
		return []Check{{Name: name, Status: OK, Detail: sent + "; its events are not followed here (" + stackHas(o, "no SesConfigurationSet") + ")"}}
	}
	start, deadline := time.Now(), time.After(o.ProbeWait)
	for {
		if _, ok, err := c.Probes.Seen(ctx, token, "Bounce"); err != nil {
			return unknown(name, sent+"; reading its arrival: "+err.Error())
		} else if ok {
			return []Check{{Name: name, Status: OK, Detail: fmt.Sprintf("%s; its Bounce reached the feedback function within %s", sent, time.Since(start).Round(time.Second))}}
		}
		select {
		case <-ctx.Done():
			return unknown(name, sent+"; stopped waiting for its Bounce: "+ctx.Err().Error())
		case <-deadline:
			return []Check{{Name: name, Status: Missing, Detail: fmt.Sprintf("%s, but no Bounce reached the feedback function in %s", sent, time.Since(start).Round(time.Second)),
				Fix: "check the configuration set's SNS destination (above), the events topic's key policy (SES must be allowed to use it), the feedback function's subscription, its log and its DLQ"}}
		case <-time.After(o.ProbePoll):
		}
	}
}

func checkSecrets(ctx context.Context, c Clients, d Deployment, o Options) []Check {
	var out []Check
	for _, p := range []struct{ param, what string }{{"SigningKeysParameter", "signing keys"}, {"ClientSecretParameter", "console client secret"}} {
		name := d.Parameters[p.param]
		if name == "" || c.SSM == nil {
			out = append(out, unknown(p.what, stackHas(o, "no "+p.param))...)
			continue
		}
		check := Check{Name: p.what + " " + name, Status: OK, Detail: "a SecureString the functions can read"}
		text, err := signing.Secret(ctx, c.SSM, name)
		if err == nil && p.param == "SigningKeysParameter" {
			_, err = signing.ParseKeyring(text)
		} else if err == nil && strings.TrimSpace(text) == "" {
			err = fmt.Errorf("the parameter is empty")
		}
		if err != nil {
			check.Status, check.Detail = Missing, err.Error()
			check.Fix = "create it before deploying (" + deployDoc + ", step 4): aws ssm put-parameter --type SecureString --name " + name + " --value ..."
		}
		out = append(out, check)
	}
	return out
}

func checkConcurrency(ctx context.Context, c Clients, _ Deployment, o Options) []Check {
	const name = "Lambda concurrency"
	if c.Lambda == nil {
		return unknown(name, none(o, "Lambda"))
	}
	s, err := c.Lambda.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil || s.AccountLimit == nil {
		return unknown(name, fmt.Sprintf("GetAccountSettings: %v", err))
	}
	limit := s.AccountLimit.ConcurrentExecutions
	if limit < Reserved+LambdaUnreserved {
		return []Check{{Name: name, Status: Missing, Detail: fmt.Sprintf("the account allows %d concurrent executions; the stack reserves %d and Lambda keeps %d unreserved", limit, Reserved, LambdaUnreserved),
			Fix: fmt.Sprintf("ask for at least %d (Service Quotas, Lambda, Concurrent executions): the deploy fails until then", Reserved+LambdaUnreserved)}}
	}
	return []Check{{Name: name, Status: OK, Detail: fmt.Sprintf("%d concurrent executions, %d unreserved", limit, aws.ToInt32(s.AccountLimit.UnreservedConcurrentExecutions))}}
}

func checkSchedule(ctx context.Context, c Clients, d Deployment, o Options) []Check {
	sched := d.Resources["PlannerSchedule"]
	if sched == "" || c.Scheduler == nil {
		return unknown("daily schedule", stackHas(o, "no PlannerSchedule"))
	}
	name := "daily schedule " + sched
	s, err := c.Scheduler.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(sched)})
	if err != nil {
		return unknown(name, "GetSchedule: "+err.Error())
	}
	if s.State != schedtypes.ScheduleStateEnabled {
		return []Check{{Name: name, Status: Missing, Detail: "the schedule is " + string(s.State) + ": no daily run",
			Fix: "enable it (EventBridge Scheduler console), or redeploy the stack"}}
	}
	return []Check{{Name: name, Status: OK, Detail: aws.ToString(s.ScheduleExpression) + " " + aws.ToString(s.ScheduleExpressionTimezone)}}
}

func checkAlarms(ctx context.Context, c Clients, d Deployment, o Options) []Check {
	topic := d.Outputs["AlarmTopicArn"]
	if topic == "" || c.SNS == nil {
		return unknown("alarm subscription", stackHas(o, "no AlarmTopicArn"))
	}
	const name = "alarm subscription"
	var pending int
	var in sns.ListSubscriptionsByTopicInput
	in.TopicArn = aws.String(topic)
	for {
		out, err := c.SNS.ListSubscriptionsByTopic(ctx, &in)
		if err != nil {
			return unknown(name, "ListSubscriptionsByTopic: "+err.Error())
		}
		for _, s := range out.Subscriptions {
			switch arn := aws.ToString(s.SubscriptionArn); arn {
			case "PendingConfirmation":
				pending++
			case "Deleted":
			default:
				return []Check{{Name: name, Status: OK, Detail: aws.ToString(s.Protocol) + " " + aws.ToString(s.Endpoint) + " receives the alarms"}}
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	return []Check{{Name: name, Status: Missing, Detail: fmt.Sprintf("no confirmed subscription to %s (%d waiting for confirmation): an alarm nobody receives", topic, pending),
		Fix: "confirm the email SNS sent to " + d.Parameters["AlarmEmail"] + " (\"AWS Notification - Subscription Confirmation\"), or subscribe the team's pager"}}
}

func checkSignIn(ctx context.Context, c Clients, d Deployment, o Options) []Check {
	issuer := d.Parameters["AuthIssuer"]
	if issuer == "" {
		return unknown("sign-in", stackHas(o, "no AuthIssuer"))
	}
	out := []Check{discoveryCheck(ctx, c.HTTP, issuer)}
	if o.AccessToken == "" {
		return append(out, Check{Name: "access token version", Status: Unknown,
			Detail: "not checked (--access-token TOKEN checks one): the application's manifest must ask for v2 tokens (requestedAccessTokenVersion 2, " + deployDoc + ", step 3)"})
	}
	return append(out, tokenCheck(o.AccessToken, issuer, d.Parameters["AuthAudience"]))
}

func discoveryCheck(ctx context.Context, h *http.Client, issuer string) Check {
	name := "OpenID issuer " + issuer
	if h == nil {
		return Check{Name: name, Status: Unknown, Detail: "no HTTP client"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return Check{Name: name, Status: Missing, Detail: err.Error(), Fix: "AuthIssuer is https://login.microsoftonline.com/<tenant id>/v2.0"}
	}
	resp, err := h.Do(req)
	if err != nil {
		return Check{Name: name, Status: Unknown, Detail: "discovery not reached: " + err.Error()}
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc) != nil || doc.Issuer != issuer {
		return Check{Name: name, Status: Missing, Detail: fmt.Sprintf("its discovery document (HTTP %d) names issuer %q", resp.StatusCode, doc.Issuer),
			Fix: "AuthIssuer must be exactly the issuer of the v2 endpoint: https://login.microsoftonline.com/<tenant id>/v2.0"}
	}
	return Check{Name: name, Status: OK, Detail: "its discovery document names it"}
}

// tokenCheck decodes (does not verify) an access token's claims: API Gateway's authorizer
// accepts it only if it is a v2 token of the issuer for the audience.
func tokenCheck(token, issuer, audience string) Check {
	const name = "access token version"
	parts := strings.Split(token, ".")
	var claims struct {
		Ver string `json:"ver"`
		Iss string `json:"iss"`
		Aud string `json:"aud"`
	}
	if len(parts) != 3 {
		return Check{Name: name, Status: Missing, Detail: "not a JWT", Fix: "give the access token of a console sign-in (three dot-separated parts)"}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &claims) != nil {
		return Check{Name: name, Status: Missing, Detail: "its claims do not decode", Fix: "give the access token of a console sign-in"}
	}
	if claims.Ver != "2.0" || claims.Iss != issuer || claims.Aud != audience {
		return Check{Name: name, Status: Missing, Detail: fmt.Sprintf("version %q, issuer %q, audience %q: API Gateway would refuse it", claims.Ver, claims.Iss, claims.Aud),
			Fix: "set requestedAccessTokenVersion to 2 in the application's manifest, and AuthAudience to its application (client) id (" + deployDoc + ", step 3)"}
	}
	return Check{Name: name, Status: OK, Detail: "a v2 token of the issuer, for the audience"}
}
