package directory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// DB is the part of the DynamoDB client the directory uses.
type DB interface {
	store.Getter
	store.BatchGetter
	store.BatchWriter
	store.Updater
	store.Querier
}

// Directory reads and writes the organisation directory in the Sunset table.
type Directory struct {
	db    DB
	table string
	clock func() time.Time
	// Workers is how many batch writers an import runs at once (default 4).
	Workers int
}

// New returns the directory kept in table.
func New(db DB, table string, clock func() time.Time) *Directory {
	return &Directory{db: db, table: table, clock: clock, Workers: 4}
}

// Org is an organisation as the directory holds it.
type Org struct {
	ODS       string   `dynamodbav:"ods"`
	Name      string   `dynamodbav:"name"`
	LAEmails  []string `dynamodbav:"la_emails"`
	PLAEmail  string   `dynamodbav:"pla_email"`
	Subdomain string   `dynamodbav:"subdomain"`
	// Gone is set by a pruning import that no longer listed the organisation.
	Gone bool `dynamodbav:"gone"`
}

// account is an account item as stored.
type account struct {
	Email string `dynamodbav:"GSI1SK"`
	ODS   string `dynamodbav:"ods"`
	Type  string `dynamodbav:"account_type"`
	Gone  bool   `dynamodbav:"gone"`
}

// Key builders: docs/data-model.md, "Organisation and account".
func orgKey(ods string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(store.Key("ORG", ods)), "SK": store.S("META")}
}

func acctKey(email string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(store.Key("ACCT", email)), "SK": store.S("META")}
}

func subdomainKey(domain string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(store.Key("SUBDOMAIN", domain)), "SK": store.S("META")}
}

// Orgs returns the organisations with these ODS codes (upper-cased, as map keys), gone ones
// included with Gone set; codes the directory does not hold are absent.
func (d *Directory) Orgs(ctx context.Context, ods []string) (map[string]Org, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(ods))
	seen := map[string]bool{}
	for _, o := range ods {
		o = normODS(o)
		if o == "" || seen[o] {
			continue
		}
		seen[o] = true
		keys = append(keys, orgKey(o))
	}
	out := make(map[string]Org, len(keys))
	err := d.batchGet(ctx, keys, func(item map[string]types.AttributeValue) error {
		var o Org
		if err := attributevalue.UnmarshalMap(item, &o); err != nil {
			return fmt.Errorf("decode organisation %v: %w", item["PK"], err)
		}
		out[o.ODS] = o
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read organisations: %w", err)
	}
	return out, nil
}

// batchGet reads keys, handing each item found to fn.
func (d *Directory) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, fn func(map[string]types.AttributeValue) error) error {
	return store.BatchGet(ctx, d.db, d.table, keys, "", fn)
}

// Resolve maps accounts (as the scanner normalises them: lower-case) to the ODS code of the
// organisation that owns them:
//  1. the account's own directory entry;
//  2. else the organisation whose subdomain is the account's domain;
//  3. an alias-only account (no '@', e.g. chris.wood) by its local part, when exactly one
//     directory account has that local part.
//
// Accounts that resolve to nothing are absent from the map (unassigned). Gone accounts count as
// absent from the directory; gone organisations resolve nothing.
func (d *Directory) Resolve(ctx context.Context, accounts []string) (map[string]string, error) {
	norm := map[string]string{} // input -> normalised
	for _, a := range accounts {
		if n := strings.ToLower(strings.TrimSpace(a)); n != "" {
			norm[a] = n
		}
	}
	candidate, err := d.accountOwners(ctx, norm)
	if err != nil {
		return nil, err
	}
	bySub, err := d.subdomainOwners(ctx, norm, candidate)
	if err != nil {
		return nil, err
	}
	odsSet := make([]string, 0, len(candidate)+len(bySub))
	for _, o := range candidate {
		odsSet = append(odsSet, o)
	}
	for _, o := range bySub {
		odsSet = append(odsSet, o)
	}
	orgs, err := d.Orgs(ctx, odsSet)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(norm))
	for in, n := range norm {
		if o, ok := candidate[n]; ok {
			if org, ok := orgs[o]; ok && !org.Gone {
				out[in] = o
			}
			continue
		}
		dom := domainOf(n)
		if o, ok := bySub[dom]; ok {
			// The sub-domain item may outlive a change of the organisation's sub-domain: the
			// organisation itself is the authority.
			if org, ok := orgs[o]; ok && !org.Gone && org.Subdomain == dom {
				out[in] = o
			}
		}
	}
	return out, nil
}

// accountOwners looks up the owner the directory gives each (normalised) account: addresses by
// their own entry, alias-only accounts by their local part. Gone accounts own nothing.
func (d *Directory) accountOwners(ctx context.Context, norm map[string]string) (map[string]string, error) {
	var emails []map[string]types.AttributeValue
	aliases := map[string]bool{}
	for _, n := range norm {
		if strings.Contains(n, "@") {
			emails = append(emails, acctKey(n))
		} else {
			aliases[n] = true
		}
	}
	owners := map[string]string{} // normalised account -> ODS, before org checks
	err := d.batchGet(ctx, dedupeKeys(emails), func(item map[string]types.AttributeValue) error {
		var a account
		if err := attributevalue.UnmarshalMap(item, &a); err != nil {
			return fmt.Errorf("decode account %v: %w", item["PK"], err)
		}
		if !a.Gone {
			owners[a.Email] = a.ODS
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve accounts: %w", err)
	}
	for alias := range aliases {
		ods, err := d.byLocalPart(ctx, alias)
		if err != nil {
			return nil, err
		}
		if ods != "" {
			owners[alias] = ods
		}
	}
	return owners, nil
}

// subdomainOwners maps the domains of the addresses the directory does not hold to the
// organisation whose sub-domain each is.
func (d *Directory) subdomainOwners(ctx context.Context, norm, known map[string]string) (map[string]string, error) {
	domains := map[string]bool{}
	for _, n := range norm {
		if _, ok := known[n]; !ok && strings.Contains(n, "@") {
			domains[domainOf(n)] = true
		}
	}
	subKeys := make([]map[string]types.AttributeValue, 0, len(domains))
	for dom := range domains {
		if dom != "" {
			subKeys = append(subKeys, subdomainKey(dom))
		}
	}
	bySub := map[string]string{}
	err := d.batchGet(ctx, subKeys, func(item map[string]types.AttributeValue) error {
		var s struct {
			Domain string `dynamodbav:"domain"`
			ODS    string `dynamodbav:"ods"`
		}
		if err := attributevalue.UnmarshalMap(item, &s); err != nil {
			return fmt.Errorf("decode subdomain %v: %w", item["PK"], err)
		}
		bySub[s.Domain] = s.ODS
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve sub-domains: %w", err)
	}
	return bySub, nil
}

// byLocalPart returns the ODS of the only live directory account whose local part is local, or
// "" when none or several have it.
func (d *Directory) byLocalPart(ctx context.Context, local string) (string, error) {
	var found []account
	err := store.QueryAll(ctx, d.db, &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		IndexName:                 aws.String(store.GSI2),
		KeyConditionExpression:    aws.String("GSI2PK = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": store.S(store.Key("LOCAL", local))},
	}, func(items []map[string]types.AttributeValue) error {
		for _, it := range items {
			var a account
			if err := attributevalue.UnmarshalMap(it, &a); err != nil {
				return fmt.Errorf("decode account %v: %w", it["PK"], err)
			}
			if !a.Gone {
				found = append(found, a)
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("resolve alias %s: %w", local, err)
	}
	if len(found) != 1 {
		return "", nil
	}
	return found[0].ODS, nil
}

func dedupeKeys(keys []map[string]types.AttributeValue) []map[string]types.AttributeValue {
	seen := map[string]bool{}
	out := keys[:0]
	for _, k := range keys {
		pk := k["PK"].(*types.AttributeValueMemberS).Value
		if !seen[pk] {
			seen[pk] = true
			out = append(out, k)
		}
	}
	return out
}

func domainOf(email string) string {
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		return email[i+1:]
	}
	return ""
}

func normODS(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
