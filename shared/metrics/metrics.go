package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every Sunset metric.
const Namespace = "Sunset"

// Name is one metric. The names are a contract: alarms and the dashboard in template.yaml and
// docs/operations.md use them as they are.
type Name string

// Every metric Sunset emits, by the function that emits it.
const (
	// ingest
	FilesIngested Name = "FilesIngested" // log files (S3 object versions) read to the end
	FilesFailed   Name = "FilesFailed"   // log files that failed and go back to the queue
	// FilesWithoutCampaign: log files that came while no campaign was live, left in the bucket
	// for `sunset backfill` (they expire after RawLogRetentionDays).
	FilesWithoutCampaign Name = "FilesWithoutCampaign"
	Lines                Name = "Lines"            // lines read, per campaign
	LegacyEvents         Name = "LegacyEvents"     // sign-ins through a legacy hostname, per campaign
	MalformedLines       Name = "MalformedLines"   // lines counted as malformed and skipped, per campaign
	IngestWriteUnits     Name = "IngestWriteUnits" // DynamoDB write units a file's ingest cost (commit and ledger), per campaign
	FindingsMerged       Name = "FindingsMerged"   // finding items an hourly merge wrote, per campaign
	MergeWriteUnits      Name = "MergeWriteUnits"  // DynamoDB write units the merges cost, per campaign

	// directory
	DirectoryRowsImported Name = "DirectoryRowsImported" // organisation and account rows stored
	DirectoryRowsRejected Name = "DirectoryRowsRejected" // rows skipped as bad, with the reason in the log

	// planner
	PlannerRuns            Name = "PlannerRuns"            // scheduled runs that planned every live campaign
	NoticesPlanned         Name = "NoticesPlanned"         // notices due today, per campaign
	NoticesClaimed         Name = "NoticesClaimed"         // of those, claimed by this run (a run whose hand-off fails counts them on its retry, as pending)
	NoticesSuperseded      Name = "NoticesSuperseded"      // earlier stages marked superseded
	AffectedOrganisations  Name = "AffectedOrganisations"  // organisations still affected today (funnel)
	AffectedAccounts       Name = "AffectedAccounts"       // accounts still affected today (funnel)
	NotifiedOrganisations  Name = "NotifiedOrganisations"  // organisations sent at least one notice (funnel)
	FixedOrganisations     Name = "FixedOrganisations"     // notified organisations no longer affected (funnel)
	NoticesPendingDispatch Name = "NoticesPendingDispatch" // claimed today and handed to the sender (again)

	// sender
	NoticesSent       Name = "NoticesSent"       // SES accepted the notice
	NoticesFailed     Name = "NoticesFailed"     // SES rejected it for good, or it would not render
	NoticesSuppressed Name = "NoticesSuppressed" // every recipient is on the suppression list
	NoticesInDoubt    Name = "NoticesInDoubt"    // sent or not, the sender cannot tell (SES's events settle it)
	SendThrottles     Name = "SendThrottles"     // SendEmail calls SES throttled (retried with backoff)
	SendQuota         Name = "SendQuota"         // the account's SES send quota, recipients a second (GetAccount)
	NoticesWaiting    Name = "NoticesWaiting"    // notices left claimed because SES will not send now (sandbox, paused, unverified identity, daily quota)

	// feedback
	FeedbackSend        Name = "FeedbackSend"        // SES Send events
	FeedbackDelivery    Name = "FeedbackDelivery"    // SES Delivery events
	FeedbackBounce      Name = "FeedbackBounce"      // SES Bounce events (permanent and transient)
	FeedbackComplaint   Name = "FeedbackComplaint"   // SES Complaint events
	FeedbackReject      Name = "FeedbackReject"      // SES Reject events
	NoticesSettled      Name = "NoticesSettled"      // in-doubt notices settled by an SES event
	CampaignsAutoPaused Name = "CampaignsAutoPaused" // campaigns paused because their bounce rate passed the limit
	AddressesSuppressed Name = "AddressesSuppressed" // addresses put on the suppression list
)

// Names is every metric, in the order docs/operations.md lists them.
var Names = []Name{
	FilesIngested, FilesFailed, FilesWithoutCampaign, Lines, LegacyEvents, MalformedLines, IngestWriteUnits,
	FindingsMerged, MergeWriteUnits,
	DirectoryRowsImported, DirectoryRowsRejected,
	PlannerRuns, NoticesPlanned, NoticesClaimed, NoticesSuperseded, AffectedOrganisations, AffectedAccounts,
	NotifiedOrganisations, FixedOrganisations, NoticesPendingDispatch,
	NoticesSent, NoticesFailed, NoticesSuppressed, NoticesInDoubt, SendThrottles, SendQuota, NoticesWaiting,
	FeedbackSend, FeedbackDelivery, FeedbackBounce, FeedbackComplaint, FeedbackReject, NoticesSettled,
	CampaignsAutoPaused, AddressesSuppressed,
}

// gauges are reported with Set (a level, not a count); their units.
var gauges = map[Name]string{
	AffectedOrganisations: "Count", AffectedAccounts: "Count", NotifiedOrganisations: "Count",
	FixedOrganisations: "Count", SendQuota: "Count/Second",
}

// Unit is the CloudWatch unit of n.
func Unit(n Name) string {
	if u, ok := gauges[n]; ok {
		return u
	}
	return "Count"
}

// Dimension names.
const (
	DimFunction = "function"
	DimCampaign = "campaign"
)

// campaignPattern is what a campaign dimension may hold: campaign ids as validation allows
// them. Anything else is reported under "other" rather than risk a value nobody vetted.
var campaignPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Recorder collects one invocation's metrics. A nil *Recorder records nothing, so code that
// is handed none (tests, the CLI) needs no checks. It is safe for concurrent use.
type Recorder struct {
	w        io.Writer
	function string
	clock    func() time.Time

	mu     sync.Mutex
	values map[string]map[Name]float64 // by campaign; "" holds the function-level ones
}

// New returns a recorder writing EMF lines to w (os.Stdout in a Lambda) for function.
func New(w io.Writer, function string, clock func() time.Time) *Recorder {
	if clock == nil {
		clock = time.Now
	}
	return &Recorder{w: w, function: function, clock: clock, values: map[string]map[Name]float64{}}
}

// Add adds v to n for campaign ("" for a count of the function as a whole).
func (r *Recorder) Add(campaign string, n Name, v float64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slot(campaign)[n] += v
}

// Set records a gauge's value for campaign: the latest one before Flush is reported.
func (r *Recorder) Set(campaign string, n Name, v float64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slot(campaign)[n] = v
}

func (r *Recorder) slot(campaign string) map[Name]float64 {
	if campaign != "" && !campaignPattern.MatchString(campaign) {
		campaign = "other"
	}
	m := r.values[campaign]
	if m == nil {
		m = map[Name]float64{}
		r.values[campaign] = m
	}
	return m
}

// Flush writes what was recorded since the last Flush, one line per campaign, and starts
// again. Nothing recorded writes nothing.
func (r *Recorder) Flush() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	values := r.values
	r.values = map[string]map[Name]float64{}
	r.mu.Unlock()
	ts := r.clock().UnixMilli()
	for _, campaign := range slices.Sorted(maps.Keys(values)) {
		line, err := r.line(ts, campaign, values[campaign])
		if err != nil {
			return err
		}
		if _, err := r.w.Write(line); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
	}
	return nil
}

type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []metric   `json:"Metrics"`
}

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// line is one EMF object: the _aws metadata, the dimension values, and each metric's value
// under its name (the specification's layout).
func (r *Recorder) line(ts int64, campaign string, values map[Name]float64) ([]byte, error) {
	d := directive{Namespace: Namespace, Dimensions: [][]string{{DimFunction}}}
	obj := map[string]any{DimFunction: r.function}
	if campaign != "" {
		d.Dimensions = append(d.Dimensions, []string{DimFunction, DimCampaign})
		obj[DimCampaign] = campaign
	}
	for _, n := range slices.Sorted(maps.Keys(values)) {
		d.Metrics = append(d.Metrics, metric{Name: string(n), Unit: Unit(n)})
		obj[string(n)] = values[n]
	}
	obj["_aws"] = map[string]any{"Timestamp": ts, "CloudWatchMetrics": []directive{d}}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode metrics: %w", err)
	}
	return append(b, '\n'), nil
}
