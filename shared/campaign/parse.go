package campaign

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ValidationError is a mistake in a campaign file (or its roster), named by the key at fault and,
// where the file has one, its line. The CLI maps it to exit status 2.
type ValidationError struct {
	File    string // the file's name as given to Parse, e.g. "campaign.yaml"
	Line    int    // 1-based; 0 when unknown
	Key     string // the key's path, e.g. "stages[2].days_before"; "" for the whole file
	Message string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// Limits on the files a campaign is read from, checked before parsing: far above any real
// campaign (a few KiB) or roster (30,000 organisations are about 1.5 MiB), so a huge file is
// refused at once instead of costing memory in the parser. A campaign is also stored whole in
// one DynamoDB item (its version, and its current state), so what it stores is bounded too:
// MaxStoredCampaign leaves each of those items room under DynamoDB's 400 KB for the rest (the
// changes of a version, at most MaxRecordedChanges; a pause's reason).
const (
	MaxCampaignFile   = 256 << 10
	MaxStoredCampaign = 160 << 10
	MaxRosterFile     = 16 << 20
	MaxRosterRow      = 4 << 10
)

// Options change how a campaign file is read.
type Options struct {
	// TemplatesAnywhere allows a `templates` folder outside the campaign file's own folder
	// (an absolute path, or one that climbs out with ..); without it such a folder is refused.
	TemplatesAnywhere bool
	// Uploaded: the file came on its own, without its folder (the API and the console), so a
	// templates folder or a roster file beside it cannot be read: only the built-in template
	// sets are accepted, and a roster campaign is refused (apply it with the CLI).
	Uploaded bool
	// Identity is the stack's SES sending identity (a domain, or one address; the template's
	// SenderIdentity, SUNSET_SENDER_IDENTITY). When set, a sender.from outside it is an error
	// (CheckIdentity): IAM would refuse every send. Empty: not checked.
	Identity string
}

// Load reads and validates the campaign file at path and, for a roster campaign, the roster CSV
// it names (relative to the campaign file).
func Load(path string) (*Campaign, error) { return LoadWith(path, Options{}) }

// LoadWith is Load with options.
func LoadWith(path string, o Options) (*Campaign, error) {
	data, err := readCapped(path, MaxCampaignFile)
	if err != nil {
		var tb *tooBig
		if errors.As(err, &tb) {
			return nil, &ValidationError{File: filepath.Base(path), Message: tb.Error()}
		}
		return nil, fmt.Errorf("read campaign %s: %w", path, err)
	}
	c, err := ParseWith(data, filepath.Base(path), o)
	if err != nil {
		return nil, err
	}
	if c.Roster != "" {
		rp := c.Roster
		if !filepath.IsAbs(rp) {
			rp = filepath.Join(filepath.Dir(path), rp)
		}
		data, err := readCapped(rp, MaxRosterFile)
		if err != nil {
			return nil, &ValidationError{File: filepath.Base(path), Line: c.lines["roster"], Key: "roster", Message: fmt.Sprintf("cannot read roster: %v", err)}
		}
		entries, err := ParseRoster(bytes.NewReader(data), filepath.Base(rp))
		if err != nil {
			return nil, err
		}
		if err := c.SetRoster(entries); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Parse reads a campaign file from data; name is used in error messages. Unknown keys, values of
// the wrong type and every rule of Validate are errors naming the key and line; all of them are
// reported at once (errors.Join of *ValidationError). Defaults are filled in. A roster campaign's
// roster file is not read here (see Load and SetRoster).
func Parse(data []byte, name string) (*Campaign, error) { return ParseWith(data, name, Options{}) }

// ParseWith is Parse with options.
func ParseWith(data []byte, name string, o Options) (*Campaign, error) {
	if len(data) > MaxCampaignFile {
		return nil, &ValidationError{File: name, Message: (&tooBig{size: int64(len(data)), max: MaxCampaignFile}).Error()}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ValidationError{File: name, Line: yamlErrorLine(err), Message: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &ValidationError{File: name, Message: "empty campaign file"}
	}
	if line, ok := findAnchor(&doc); ok {
		return nil, &ValidationError{File: name, Line: line, Message: "YAML anchors and aliases (& and *) are not accepted in a campaign file: write each value out"}
	}
	p := &parser{file: name, lines: map[string]int{}, templatesAnywhere: o.TemplatesAnywhere && !o.Uploaded, uploaded: o.Uploaded, identity: o.Identity}
	root := doc.Content[0]
	p.walk(root, reflect.TypeFor[Campaign](), "")
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	c := &Campaign{}
	if err := root.Decode(c); err != nil {
		// walk checked every value's type, so this is unexpected; still an input mistake.
		return nil, &ValidationError{File: name, Message: err.Error()}
	}
	c.file, c.lines = name, p.lines
	c.applyDefaults()
	c.normalise()
	p.validate(c)
	if spec, err := json.Marshal(c); err == nil && len(spec) > MaxStoredCampaign {
		p.errAt(0, "", "the campaign is %d KiB as stored, over the %d KiB a campaign may be (it is kept in one DynamoDB item): fewer endpoints or shorter text", (len(spec)+1023)>>10, MaxStoredCampaign>>10)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

// tooBig is a file over its limit.
type tooBig struct{ size, max int64 }

func (e *tooBig) Error() string {
	return fmt.Sprintf("the file is over %d KiB (%d bytes): the limit for this file", e.max>>10, e.size)
}

// readCapped reads a file of at most max bytes, refusing a larger one before reading it.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		return nil, &tooBig{size: st.Size(), max: max}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max { // grew while read, or not a regular file
		return nil, &tooBig{size: int64(len(data)), max: max}
	}
	return data, nil
}

// findAnchor reports the line of the first anchor or alias in the tree, without following any
// alias: the parser keeps an alias as a pointer to its anchor, so the tree is as small as the
// file, but anything that follows aliases (a walk, a Decode) can expand it exponentially (a
// "billion laughs" file of a few KiB).
func findAnchor(n *yaml.Node) (int, bool) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return n.Line, true
	}
	for _, c := range n.Content {
		if line, ok := findAnchor(c); ok {
			return line, true
		}
	}
	return 0, false
}

func yamlErrorLine(err error) int {
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		rest := s[i+5:]
		j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if j > 0 {
			n, _ := strconv.Atoi(rest[:j])
			return n
		}
	}
	return 0
}

// parser walks the YAML tree against the Campaign type, so that unknown keys and wrongly typed
// values are reported with their key path and line, and remembers every key's line for the
// validation messages that follow.
type parser struct {
	file              string
	lines             map[string]int
	errs              []error
	templatesAnywhere bool
	uploaded          bool
	identity          string
}

func (p *parser) errAt(line int, key, format string, args ...any) {
	p.errs = append(p.errs, &ValidationError{File: p.file, Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
}

// errf reports a mistake at key, on the line of the key or of its nearest parent that has one.
func (p *parser) errf(key, format string, args ...any) {
	p.errAt(lineOf(p.lines, key), key, format, args...)
}

func lineOf(lines map[string]int, key string) int {
	for k := key; k != ""; {
		if l, ok := lines[k]; ok {
			return l
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// walk checks node n against type t at key path (recording the line of every key it meets),
// and recurses into lists, mappings and structs.
func (p *parser) walk(n *yaml.Node, t reflect.Type, path string) {
	if path != "" {
		if _, seen := p.lines[path]; !seen {
			p.lines[path] = n.Line
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value is the zero value (defaults apply)
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		p.walkText(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Bool:
		p.walkScalar(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.errAt(n.Line, path, "must be a list, got %s", describe(n))
			return
		}
		for i, e := range n.Content {
			p.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		p.walkMap(n, t, path)
	case reflect.Struct:
		p.walkStruct(n, t, path)
	default:
		p.errAt(n.Line, path, "unsupported value")
	}
}

// walkText checks a value whose type reads itself from text (a date).
func (p *parser) walkText(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		p.errAt(n.Line, path, "must be a single value")
		return
	}
	v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
	if err := v.UnmarshalText([]byte(n.Value)); err != nil {
		p.errAt(n.Line, path, "invalid value %q: %v", n.Value, err)
	}
}

// walkScalar checks a string, whole number or true/false.
func (p *parser) walkScalar(n *yaml.Node, t reflect.Type, path string) {
	switch t.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			p.errAt(n.Line, path, "must be a string")
		}
	case reflect.Int:
		var v int
		if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
			p.errAt(n.Line, path, "must be a whole number, got %s", describe(n))
		}
	case reflect.Bool:
		var v bool
		if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
			p.errAt(n.Line, path, "must be true or false, got %s", describe(n))
		}
	}
}

// walkMap checks a mapping of free keys (endpoints, mapping): string keys, each once.
func (p *parser) walkMap(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		p.errAt(n.Line, path, "must be a mapping of key: value, got %s", describe(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := fmt.Sprintf("%s[%q]", path, k.Value)
		if k.Kind != yaml.ScalarNode {
			p.errAt(k.Line, path, "keys must be strings")
			continue
		}
		if seen[k.Value] {
			p.errAt(k.Line, kp, "duplicate key")
			continue
		}
		seen[k.Value] = true
		p.lines[kp] = k.Line
		p.walk(v, t.Elem(), kp)
	}
}

// walkStruct checks a mapping of the struct's yaml keys: unknown and repeated keys are errors.
func (p *parser) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		p.errAt(n.Line, path, "must be a mapping of key: value, got %s", describe(n))
		return
	}
	fields := map[string]reflect.StructField{}
	var known []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		fields[tag] = f
		known = append(known, tag)
	}
	sort.Strings(known)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := join(path, k.Value)
		f, ok := fields[k.Value]
		if !ok {
			p.errAt(k.Line, kp, "unknown key (known keys: %s)", strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			p.errAt(k.Line, kp, "duplicate key")
			continue
		}
		seen[k.Value] = true
		p.lines[kp] = k.Line
		p.walk(v, f.Type, kp)
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}
