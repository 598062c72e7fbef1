package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

// Config is the API Lambda's environment.
type Config struct {
	// Table is the Sunset table (SUNSET_TABLE, required).
	Table string
	// Issuer is the OpenID Connect issuer people sign in with (SUNSET_AUTH_ISSUER, required;
	// for Entra ID https://login.microsoftonline.com/<tenant id>/v2.0): the same issuer the JWT
	// authorizer trusts.
	Issuer string
	// Audience is the application (client) id: the audience of the tokens the JWT authorizer
	// accepts and the console's OpenID Connect client (SUNSET_AUTH_AUDIENCE, required).
	Audience string
	// RolesClaim names the claim with the roles (SUNSET_ROLES_CLAIM; default "roles", where
	// Entra ID puts app roles).
	RolesClaim string
	// SigningKeysParameter names the SSM SecureString parameter with the signing keys, base64,
	// the signing key first (SUNSET_SIGNING_KEYS_PARAMETER, required).
	SigningKeysParameter string
	// ClientSecretParameter names the SSM SecureString parameter with the console's client
	// secret (SUNSET_CLIENT_SECRET_PARAMETER, required).
	ClientSecretParameter string
	// ConfigurationSet is the SES configuration set of test sends (SUNSET_CONFIGURATION_SET).
	ConfigurationSet string
	// PublicURL is the API's public address, which the answer links in notices lead to
	// (SUNSET_PUBLIC_URL; default: the address each request came to, which is the sender's
	// https://<api id>.execute-api.<region>.amazonaws.com unless a custom domain is put in
	// front, when this must name it).
	PublicURL string
	// SenderIdentity is the SES identity the stack sends as, a domain or one address
	// (SUNSET_SENDER_IDENTITY, required): campaign files outside it are refused.
	SenderIdentity string
	// SendQueueURL is the send queue (SUNSET_SEND_QUEUE_URL, required): the console's "Send it
	// again" hands a failed notice to the sender there, with its release.
	SendQueueURL string
	// StagingBucket holds the findings committed but not merged yet (SUNSET_STAGING_BUCKET,
	// required): pages read them too.
	StagingBucket string
	// TestRecipients are where the console's test sends may go besides each campaign's own
	// addresses (SUNSET_TEST_RECIPIENTS: addresses and @domains, comma-separated; optional).
	TestRecipients []string
	// EdgeSecret is the value CloudFront adds to every request (SUNSET_EDGE_SECRET; set only
	// with the template's EdgeWebAclArn): requests without it are refused.
	EdgeSecret string
}

// LoadConfig reads Config, naming every missing or malformed variable in one error.
func LoadConfig(getenv func(string) string) (Config, error) {
	e := lambdaenv.New(getenv)
	c := Config{
		Table:                 e.Required("SUNSET_TABLE"),
		Issuer:                e.Required("SUNSET_AUTH_ISSUER"),
		Audience:              e.Required("SUNSET_AUTH_AUDIENCE"),
		RolesClaim:            e.String("SUNSET_ROLES_CLAIM", "roles"),
		SigningKeysParameter:  e.Required("SUNSET_SIGNING_KEYS_PARAMETER"),
		ClientSecretParameter: e.Required("SUNSET_CLIENT_SECRET_PARAMETER"),
		ConfigurationSet:      e.String("SUNSET_CONFIGURATION_SET", ""),
		PublicURL:             e.String("SUNSET_PUBLIC_URL", ""),
		SenderIdentity:        e.Required("SUNSET_SENDER_IDENTITY"),
		SendQueueURL:          e.Required("SUNSET_SEND_QUEUE_URL"),
		StagingBucket:         e.Required(findings.StagingBucketEnv),
		TestRecipients:        sender.ParseTestRecipients(e.String("SUNSET_TEST_RECIPIENTS", "")),
		EdgeSecret:            e.String("SUNSET_EDGE_SECRET", ""),
	}
	return c, e.Err()
}

// Handler is the API Lambda: API Gateway's events in, the Server's answers out.
type Handler struct {
	srv http.Handler
	log *slog.Logger
}

// NewHandler is the API Lambda over the real table, SES and SSM. It reads the signing keys at
// start (a missing or malformed parameter stops the function at init, named); the client secret
// is read at each sign-in, so rotating it needs no restart.
func NewHandler(ctx context.Context, cfg Config, c *awsclient.Clients, log *slog.Logger) (*Handler, error) {
	params := ssm.NewFromConfig(c.Config())
	keys, err := signing.KeyringFromSSM(ctx, params, cfg.SigningKeysParameter)
	if err != nil {
		return nil, err
	}
	srv, err := New(Options{DB: c.DynamoDB(), Table: cfg.Table, Stage: findings.S3Stage{Client: c.S3(), Bucket: cfg.StagingBucket, Prefix: findings.StagingPrefix}, SES: c.SESv2(), ConfigurationSet: cfg.ConfigurationSet,
		Clock: time.Now, Keys: keys, RolesClaim: cfg.RolesClaim, Logger: log, PublicURL: cfg.PublicURL, SenderIdentity: cfg.SenderIdentity,
		TestRecipients: cfg.TestRecipients, EdgeSecret: cfg.EdgeSecret, Resend: QueueResend(sqs.NewFromConfig(c.Config()), cfg.SendQueueURL),
		OIDC: &OIDC{Issuer: cfg.Issuer, ClientID: cfg.Audience, RolesClaim: cfg.RolesClaim,
			ClientSecret: func(ctx context.Context) (string, error) {
				return signing.Secret(ctx, params, cfg.ClientSecretParameter)
			}},
	})
	if err != nil {
		return nil, err
	}
	return &Handler{srv: srv, log: log}, nil
}

// NewLambdaHandler wraps any http.Handler (a Server) for API Gateway: for tests and NewHandler.
func NewLambdaHandler(srv http.Handler, log *slog.Logger) *Handler {
	return &Handler{srv: srv, log: log}
}

// Handle answers one API Gateway HTTP API request (payload format 2.0). The JWT authorizer's
// claims, when the route has it, go into the request's context; everything else about the
// request is passed on as it came.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	req, err := toRequest(ctx, ev)
	if err != nil {
		h.log.Warn("unreadable request", "request_id", ev.RequestContext.RequestID, "error", err)
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"},
			Body: `{"error":"the request could not be read"}`}, nil
	}
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, req)
	return fromRecorder(rec), nil
}

// toRequest is the http.Request of an API Gateway event.
func toRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body := ev.Body
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, err
		}
		body = string(b)
	}
	path := ev.RawPath
	if path == "" {
		path = "/"
	}
	u := &url.URL{Path: path, RawQuery: ev.RawQueryString}
	if p, err := url.PathUnescape(path); err == nil {
		u.Path, u.RawPath = p, path
	}
	if claims := jwtClaims(ev); claims != nil {
		ctx = WithClaims(ctx, claims)
	}
	req, err := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, u.String(), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = ev.RequestContext.DomainName
	if h := ev.Headers["host"]; h != "" {
		req.Host = h
	}
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Request-Id", ev.RequestContext.RequestID)
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	return req, nil
}

func jwtClaims(ev events.APIGatewayV2HTTPRequest) map[string]string {
	if a := ev.RequestContext.Authorizer; a != nil && a.JWT != nil && len(a.JWT.Claims) > 0 {
		return a.JWT.Claims
	}
	return nil
}

// fromRecorder is the API Gateway response of a recorded one: cookies in their own field, a
// body that is not text in base64.
func fromRecorder(rec *httptest.ResponseRecorder) events.APIGatewayV2HTTPResponse {
	res := rec.Result()
	out := events.APIGatewayV2HTTPResponse{StatusCode: res.StatusCode, Headers: map[string]string{}}
	for k, vs := range res.Header {
		if k == "Set-Cookie" {
			out.Cookies = append(out.Cookies, vs...)
			continue
		}
		out.Headers[k] = strings.Join(vs, ", ")
	}
	ct := res.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "xml") || ct == "" {
		out.Body = rec.Body.String()
	} else {
		out.Body, out.IsBase64Encoded = base64.StdEncoding.EncodeToString(rec.Body.Bytes()), true
	}
	return out
}

// Enqueuer is the part of the SQS client the console hands a notice to the sender with.
type Enqueuer interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// QueueResend is Options.Resend in AWS: the failed notice goes to the send queue with its
// release (sender.HandOff); the sender releases it, on record, and sends it once.
func QueueResend(q Enqueuer, url string) func(ctx context.Context, n ledger.Notice, by, reason string) error {
	return func(ctx context.Context, n ledger.Notice, by, reason string) error {
		body, err := json.Marshal(sender.HandOff{Key: n.Key(),
			Release: &sender.Release{By: by, Reason: reason, Failed: n.Error}})
		if err != nil {
			return err
		}
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(body))}); err != nil {
			return fmt.Errorf("hand notice %s/%s/%s to the sender: %w", n.Campaign, n.Org, n.Stage, err)
		}
		return nil
	}
}
