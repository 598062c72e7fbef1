package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/deadletter"
	"github.com/nhsmail-sunset/sunset/shared/deadletter/deadlettertest"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

func TestDLQListAndRedrive(t *testing.T) {
	t.Parallel()
	cli := newTestCLI(t, map[string]string{"SUNSET_TABLE": "sunset-dev"})
	db, table := cli.useLocalStack()
	q := deadlettertest.New("sunset-dev-send", "sunset-dev-send-dlq", "sunset-dev-feedback-dlq", "sunset-dev-planner-dlq")
	cli.sqs = q
	q.Put("sunset-dev-send-dlq", `{"campaign":"legacy-hostnames-2021","org":"RX1","stage":"advance"}`)
	bounce, err := os.ReadFile("../../events/ses-bounce.json")
	if err != nil {
		t.Fatal(err)
	}
	q.Put("sunset-dev-feedback-dlq", string(bounce))

	out, errOut, code := cli.run("dlq", "list", "--queue", "send")
	if code != 0 || !strings.Contains(out, "sunset-dev-send-dlq: about 1 messages") || !strings.Contains(out, "notice legacy-hostnames-2021/RX1/advance") {
		t.Errorf("list: %d\n%s%s", code, out, errOut)
	}
	out, _, code = cli.run("dlq", "list", "--queue", "feedback", "--json")
	var msgs []deadletter.Message
	if err := json.Unmarshal([]byte(out), &msgs); code != 0 || err != nil || len(msgs) != 1 || strings.Contains(out, "@") {
		t.Errorf("list --json: %d %v\n%s", code, err, out)
	}
	out, errOut, code = cli.run("dlq", "redrive", "--queue", "send")
	if code != 0 || !strings.Contains(out, "1 messages back to sunset-dev-send") || len(q.Bodies("sunset-dev-send")) != 1 {
		t.Errorf("redrive send: %d\n%s%s", code, out, errOut)
	}
	// The feedback DLQ is replayed through the handler: the bounced address is suppressed.
	out, errOut, code = cli.run("dlq", "redrive", "--queue", "feedback")
	if code != 0 || !strings.Contains(out, "1 messages replayed") || len(q.Bodies("sunset-dev-feedback-dlq")) != 0 {
		t.Errorf("redrive feedback: %d\n%s%s", code, out, errOut)
	}
	all, err := suppression.New(db, table, cli.clock).All(context.Background())
	if err != nil || len(all) != 1 || all[0].Address != "la.one@nhs.net" {
		t.Errorf("suppression list after the replay: %+v %v", all, err)
	}
	// A failed scheduled run is replayed as today's run: here no campaign is live, so it plans
	// nothing, and the message is done with.
	sched, err := os.ReadFile("../../events/scheduled.json")
	if err != nil {
		t.Fatal(err)
	}
	q.Put("sunset-dev-planner-dlq", string(sched))
	out, errOut, code = cli.run("dlq", "redrive", "--queue", "planner")
	if code != 0 || !strings.Contains(out, "1 messages replayed as today's run") || len(q.Bodies("sunset-dev-planner-dlq")) != 0 {
		t.Errorf("redrive planner: %d\n%s%s", code, out, errOut)
	}
	for _, args := range [][]string{{"dlq"}, {"dlq", "peek"}, {"dlq", "list"}, {"dlq", "list", "--queue", "nope"}, {"dlq", "redrive", "--queue", "send", "--json"}, {"dlq", "list", "--queue", "send", "--local"}} {
		if _, _, code := cli.run(args...); code != 2 {
			t.Errorf("sunset %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}
