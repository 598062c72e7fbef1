package campaign

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
)

// Every field of Campaign is either compared by Diff or listed in notDiffed with a reason, and
// each diffField really reads its field: changing the field alone gives a change line under its
// key. A new campaign key left out of both lists fails here, so it cannot change campaigns
// without a line in their version history.
func TestEveryCampaignFieldIsDiffed(t *testing.T) {
	base, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	byField := map[string]diffField{}
	for _, f := range diffFields {
		byField[f.field] = f
	}
	typ := reflect.TypeFor[Campaign]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		f, diffed := byField[name]
		_, excused := notDiffed[name]
		switch {
		case diffed && excused:
			t.Errorf("Campaign.%s is both diffed and in notDiffed", name)
		case !diffed && !excused:
			t.Errorf("Campaign.%s is neither in diffFields nor in notDiffed: its changes would not be recorded", name)
		case diffed:
			t.Run(name, func(t *testing.T) {
				changed := *base
				v := reflect.ValueOf(&changed).Elem().Field(i)
				change(t, v)
				lines := Diff(base, &changed)
				if len(lines) == 0 {
					t.Fatalf("changing %s gives no change line", name)
				}
				for _, l := range lines {
					if k := strings.TrimPrefix(strings.TrimPrefix(l, "+ "), "- "); !strings.HasPrefix(k, f.key) {
						t.Errorf("changing %s gives %q, not a line about %s", name, l, f.key)
					}
				}
			})
		}
	}
	for name := range notDiffed {
		if _, ok := typ.FieldByName(name); !ok {
			t.Errorf("notDiffed names %s, which Campaign does not have", name)
		}
	}
}

// change gives v a different value of its type.
func change(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "-changed")
	case reflect.Int:
		v.SetInt(v.Int() + 7)
	case reflect.Slice:
		v.Set(reflect.Append(reflect.AppendSlice(reflect.MakeSlice(v.Type(), 0, v.Len()+1), v), reflect.New(v.Type().Elem()).Elem()))
		if v.Type().Elem().Kind() == reflect.String {
			v.Index(v.Len() - 1).SetString("added")
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range v.MapKeys() {
			m.SetMapIndex(k, v.MapIndex(k))
		}
		val := reflect.New(v.Type().Elem()).Elem()
		switch val.Kind() {
		case reflect.String:
			val.SetString("added")
		case reflect.Struct:
			val.Field(0).SetString("added")
		}
		m.SetMapIndex(reflect.ValueOf("added-key"), val)
		v.Set(m)
	case reflect.Pointer:
		if x, ok := v.Interface().(*SendWindow); ok {
			w := SendWindow{Days: []string{"mon"}, From: "09:00", To: "16:00"}
			if x != nil {
				w = *x
				w.From = "08:00"
			}
			v.Set(reflect.ValueOf(&w))
			return
		}
		t.Fatalf("no way to change a %s", v.Type())
	case reflect.Struct:
		switch x := v.Addr().Interface().(type) {
		case *Sender:
			x.From += "x"
		case *Helpdesk:
			x.Phone += "1"
		case *calendar.Date:
			*x, _ = calendar.Parse("2030-01-02")
		default:
			t.Fatalf("no way to change a %s", v.Type())
		}
	default:
		t.Fatalf("no way to change a %s", v.Type())
	}
}

func TestDiffLines(t *testing.T) {
	a, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := *a
	b.Title = "New title"
	b.Endpoints = nil
	b.Templates = ""
	got := Diff(a, &b)
	var want []string
	for k, v := range a.Endpoints {
		want = append(want, "- endpoints."+k+": \""+v+"\"")
	}
	want = append(want, "- templates: \""+a.Templates+"\"", "title: \""+a.Title+"\" → \"New title\"")
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), got); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
	if d := Diff(a, a); d != nil {
		t.Errorf("Diff of a campaign with itself = %q, want none", d)
	}
}
