package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
)

// Config is the directory Lambda's environment.
type Config struct {
	// Table is the Sunset table (SUNSET_TABLE, required).
	Table string
	// Prefix is the S3 prefix the directory files land under (SUNSET_DIRECTORY_PREFIX, required;
	// the template sets "directory/").
	Prefix string
	// Prune marks organisations and accounts missing from the files as gone
	// (SUNSET_DIRECTORY_PRUNE, true or false; default false).
	Prune bool
	// PruneMaxPercent is the most of the organisations, or of the accounts, one import may
	// mark gone (SUNSET_DIRECTORY_PRUNE_MAX_PERCENT, 1-100; default 10): ImportInput's
	// MaxPruneShare.
	PruneMaxPercent int
}

// LoadConfig reads Config, naming every missing or malformed variable in one error.
func LoadConfig(getenv func(string) string) (Config, error) {
	e := lambdaenv.New(getenv)
	c := Config{
		Table:           e.Required("SUNSET_TABLE"),
		Prefix:          e.Required("SUNSET_DIRECTORY_PREFIX"),
		Prune:           e.Bool("SUNSET_DIRECTORY_PRUNE", false),
		PruneMaxPercent: e.Int("SUNSET_DIRECTORY_PRUNE_MAX_PERCENT", 10, 1),
	}
	return c, e.Err()
}

// NewHandler is the directory Lambda over the real table and bucket.
func NewHandler(cfg Config, c *awsclient.Clients, log *slog.Logger) *Handler {
	return &Handler{
		Dir:           New(c.DynamoDB(), cfg.Table, time.Now),
		S3:            s3.NewFromConfig(c.Config()),
		Prefix:        cfg.Prefix,
		Prune:         cfg.Prune,
		PruneMaxShare: float64(cfg.PruneMaxPercent) / 100,
		Log:           log,
		Metrics:       metrics.New(os.Stdout, "directory", time.Now),
	}
}

// File names the directory Lambda imports, under its prefix.
const (
	OrgsFile     = "organisations.csv"
	AccountsFile = "accounts.csv"
)

// S3Getter is the part of the S3 client the directory Lambda uses.
type S3Getter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Handler is the directory Lambda: SQS messages carrying S3 notifications for
// <prefix>organisations.csv or <prefix>accounts.csv. Whichever file landed, it imports the
// current version of both (so accounts are checked against the organisations file that goes
// with them); a file that is missing is left out.
type Handler struct {
	Dir    *Directory
	S3     S3Getter
	Prefix string // e.g. "directory/"
	Prune  bool
	// PruneMaxShare is ImportInput's MaxPruneShare (0: DefaultMaxPruneShare).
	PruneMaxShare float64
	Log           *slog.Logger
	// Metrics counts rows imported and rejected (nil: none).
	Metrics *metrics.Recorder
}

// Handle imports once per batch and fails the whole batch if the import fails (it is
// idempotent, so the retry of every message is safe).
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	defer func() {
		if err := h.Metrics.Flush(); err != nil {
			h.Log.ErrorContext(ctx, "metrics not written", "error", err.Error())
		}
	}()
	var resp events.SQSEventResponse
	buckets := map[string]bool{}
	for _, msg := range ev.Records {
		var s3ev events.S3Event
		if err := json.Unmarshal([]byte(msg.Body), &s3ev); err != nil {
			h.Log.ErrorContext(ctx, "decode S3 event", "message_id", msg.MessageId, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			continue
		}
		for _, r := range s3ev.Records {
			key, err := url.QueryUnescape(r.S3.Object.Key)
			if err != nil || !strings.HasPrefix(r.EventName, "ObjectCreated:") {
				continue
			}
			if base := path.Base(key); strings.HasPrefix(key, h.Prefix) && (base == OrgsFile || base == AccountsFile) {
				buckets[r.S3.Bucket.Name] = true
			} else {
				h.Log.WarnContext(ctx, "not a directory file: ignored", "key", key)
			}
		}
	}
	for b := range buckets {
		if err := h.importBucket(ctx, b); err != nil {
			h.Log.ErrorContext(ctx, "directory import failed", "bucket", b, "error", err.Error())
			resp.BatchItemFailures = resp.BatchItemFailures[:0]
			for _, msg := range ev.Records {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
			}
			return resp, nil
		}
	}
	return resp, nil
}

func (h *Handler) importBucket(ctx context.Context, bucket string) error {
	in := ImportInput{Prune: h.Prune, MaxPruneShare: h.PruneMaxShare}
	for _, f := range []struct {
		name string
		dst  *io.Reader
		n    *string
	}{{OrgsFile, &in.Orgs, &in.OrgsName}, {AccountsFile, &in.Accounts, &in.AccountsName}} {
		key := h.Prefix + f.name
		out, err := h.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
		}
		defer out.Body.Close()
		*f.dst, *f.n = out.Body, "s3://"+bucket+"/"+key
	}
	if in.Orgs == nil && in.Accounts == nil {
		return nil
	}
	res, err := h.Dir.Import(ctx, in)
	if res != nil {
		h.Metrics.Add("", metrics.DirectoryRowsImported, float64(res.Orgs+res.Accounts))
		h.Metrics.Add("", metrics.DirectoryRowsRejected, float64(res.BadRows))
		h.Log.InfoContext(ctx, "directory imported", "import_id", res.ImportID, "orgs", res.Orgs, "subdomains", res.Subdomains,
			"accounts", res.Accounts, "bad_rows", res.BadRows, "pruned_orgs", res.PrunedOrgs, "pruned_accounts", res.PrunedAccounts)
		if res.BadRows > 0 {
			// One line: counts by reason and the first rows of each, as file:line (never a value).
			h.Log.WarnContext(ctx, "bad directory rows skipped", "by_reason", res.Codes, "rows", badRowsByCode(res.Bad, 20))
		}
	}
	if errors.Is(err, ErrBadHeader) || errors.Is(err, ErrBadFile) || errors.Is(err, ErrPruneRefused) {
		// Retrying can not fix the file; the log says why. A corrected upload imports (a prune
		// refused for a file that is right is confirmed with the CLI's --prune-anyway).
		h.Log.ErrorContext(ctx, "directory file rejected", "error", err.Error())
		return nil
	}
	return err
}

// badRowsByCode lists, for each reason, up to n of its rows as file:line.
func badRowsByCode(bad []BadRow, n int) map[Code][]string {
	out := map[Code][]string{}
	for _, b := range bad {
		if len(out[b.Code]) < n {
			out[b.Code] = append(out[b.Code], fmt.Sprintf("%s:%d", b.File, b.Line))
		}
	}
	return out
}
