package api

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIdentityFromClaims(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims map[string]string
		want   Identity
		ok     bool
	}{
		{"API Gateway's flattened array", map[string]string{"sub": "s1", "name": "Ada Lovelace", "roles": "[viewer operator]"},
			Identity{Subject: "s1", Name: "Ada Lovelace", Roles: []Role{Viewer, Operator}}, true},
		{"JSON array, Entra app role names", map[string]string{"sub": "s2", "preferred_username": "ada@nhs.net", "roles": `["Sunset.Operator"]`},
			Identity{Subject: "s2", Name: "ada@nhs.net", Roles: []Role{Operator}}, true},
		{"one role, other values ignored", map[string]string{"sub": "s3", "roles": "Viewer, Admin, sunset.superuser"},
			Identity{Subject: "s3", Roles: []Role{Viewer}}, true},
		{"no roles claim", map[string]string{"sub": "s4", "email": "x@nhs.net"}, Identity{Subject: "s4", Name: "x@nhs.net"}, true},
		{"no subject", map[string]string{"name": "Nobody", "roles": "[operator]"}, Identity{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := IdentityFromClaims(tc.claims, "roles")
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("identity (-want +got):\n%s", d)
			}
		})
	}
}

func TestCanAndBy(t *testing.T) {
	op := Identity{Subject: "s1", Name: "Ada", Roles: []Role{Operator}}
	viewer := Identity{Subject: "s2", Roles: []Role{Viewer}}
	none := Identity{Subject: "s3"}
	for _, tc := range []struct {
		id   Identity
		role Role
		want bool
	}{{op, Viewer, true}, {op, Operator, true}, {viewer, Viewer, true}, {viewer, Operator, false}, {none, Viewer, false}} {
		if got := tc.id.Can(tc.role); got != tc.want {
			t.Errorf("%v.Can(%s) = %v", tc.id, tc.role, got)
		}
	}
	if op.By() != "Ada [s1]" || viewer.By() != "s2" {
		t.Errorf("By: %q, %q", op.By(), viewer.By())
	}
}
