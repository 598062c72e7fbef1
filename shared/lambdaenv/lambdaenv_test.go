package lambdaenv

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEnv(t *testing.T) {
	type got struct {
		Table     string
		Rate      float64
		Instances int
		Prune     bool
		Name      string
	}
	read := func(env map[string]string) (got, error) {
		e := New(func(k string) string { return env[k] })
		g := got{
			Table:     e.Required("T"),
			Rate:      e.Float("RATE", 0, 0),
			Instances: e.Int("N", 1, 1),
			Prune:     e.Bool("PRUNE", false),
			Name:      e.String("NAME", "dflt"),
		}
		return g, e.Err()
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    got
		badVars []string
	}{
		{"all set", map[string]string{"T": "tbl", "RATE": "2.5", "N": "3", "PRUNE": "true", "NAME": " x "},
			got{"tbl", 2.5, 3, true, "x"}, nil},
		{"defaults", map[string]string{"T": "tbl"}, got{"tbl", 0, 1, false, "dflt"}, nil},
		{"required missing", map[string]string{}, got{"", 0, 1, false, "dflt"}, []string{"T"}},
		{"required blank", map[string]string{"T": "  "}, got{"", 0, 1, false, "dflt"}, []string{"T"}},
		{"every malformed variable at once", map[string]string{"RATE": "fast", "N": "two", "PRUNE": "yes"},
			got{"", 0, 1, false, "dflt"}, []string{"T", "RATE", "N", "PRUNE"}},
		{"below the minimum", map[string]string{"T": "t", "RATE": "-1", "N": "0"}, got{"t", 0, 1, false, "dflt"}, []string{"RATE", "N"}},
		{"zero is a number", map[string]string{"T": "t", "RATE": "0", "PRUNE": "false"}, got{"t", 0, 1, false, "dflt"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := read(tc.env)
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if tc.badVars == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if diff := cmp.Diff(tc.badVars, ce.Variables); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
			if len(ce.Problems) != len(tc.badVars) {
				t.Errorf("problems %q, want one per variable", ce.Problems)
			}
		})
	}
}
