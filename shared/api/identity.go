package api

import (
	"encoding/json"
	"strings"
)

// Role is what a person may do in the console and the API.
type Role string

// Roles. An operator may do everything a viewer may.
const (
	Viewer   Role = "viewer"
	Operator Role = "operator"
)

// Identity is a signed-in person: the token's subject, a name to show and record, the roles.
type Identity struct {
	Subject string `json:"sub"`
	Name    string `json:"name,omitempty"`
	Roles   []Role `json:"roles"`
}

// Can reports whether the identity holds role (an operator holds viewer too).
func (id Identity) Can(role Role) bool {
	for _, r := range id.Roles {
		if r == role || r == Operator {
			return true
		}
	}
	return false
}

// By is how a change is recorded in a campaign's history: the name and, in brackets, the
// token's subject, which stays the same when a name changes.
func (id Identity) By() string {
	if id.Name == "" || id.Name == id.Subject {
		return id.Subject
	}
	return id.Name + " [" + id.Subject + "]"
}

// IdentityFromClaims reads a validated token's claims (as API Gateway's JWT authorizer passes
// them: every value a string, arrays written as "[a b]"). The roles come from the claim named
// rolesClaim; a token without a subject is no identity.
func IdentityFromClaims(claims map[string]string, rolesClaim string) (Identity, bool) {
	sub := strings.TrimSpace(claims["sub"])
	if sub == "" {
		return Identity{}, false
	}
	name := ""
	for _, k := range []string{"name", "preferred_username", "email", "upn"} {
		if v := strings.TrimSpace(claims[k]); v != "" {
			name = v
			break
		}
	}
	return Identity{Subject: sub, Name: name, Roles: ParseRoles(claims[rolesClaim])}, true
}

// ParseRoles reads a roles claim in any of the forms it arrives in: a JSON array
// (["operator"]), API Gateway's flattened array ([viewer operator]), or words separated by
// commas or spaces. A value counts as a role when it is "viewer" or "operator", or ends with
// ".viewer" or ".operator" (Entra ID app roles are often named "Sunset.Operator"), in any case;
// other values are ignored.
func ParseRoles(v string) []Role {
	v = strings.TrimSpace(v)
	var words []string
	if strings.HasPrefix(v, `["`) && json.Unmarshal([]byte(v), &words) == nil {
		// a JSON array
	} else {
		words = strings.FieldsFunc(strings.Trim(v, "[]"), func(r rune) bool { return r == ',' || r == ' ' || r == '"' })
	}
	var out []Role
	seen := map[Role]bool{}
	for _, w := range words {
		w = strings.ToLower(strings.TrimSpace(w))
		if i := strings.LastIndexByte(w, '.'); i >= 0 {
			w = w[i+1:]
		}
		if r := Role(w); (r == Viewer || r == Operator) && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
