package settings

import (
	"slices"
	"strings"
	"testing"
)

func TestAllIsSortedAndUnique(t *testing.T) {
	all := All()
	if !slices.IsSortedFunc(all, func(a, b Setting) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("All is not sorted by name: Lookup's binary search would miss settings")
	}
	for i, s := range all {
		if !strings.HasPrefix(s.Name, "LAYERWISE_") {
			t.Errorf("%s: every setting starts with LAYERWISE_", s.Name)
		}
		if i > 0 && all[i-1].Name == s.Name {
			t.Errorf("%s is listed twice", s.Name)
		}
		if got, ok := Lookup(s.Name); !ok || got != s {
			t.Errorf("Lookup(%s) = %+v, %v", s.Name, got, ok)
		}
	}
}

func TestSecretsHaveAFileSetting(t *testing.T) {
	for _, s := range All() {
		if !s.Secret {
			continue
		}
		if _, ok := Lookup(s.Name + "_FILE"); !ok {
			t.Errorf("%s is secret but there is no %s_FILE to give it from a mounted Secret", s.Name, s.Name)
		}
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, name := range []string{"", "LAYERWISE_", "LAYERWISE_DATABASE", "layerwise_db", "LAYERWISE_TEST_POSTGRES"} {
		if _, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) found a setting", name)
		}
	}
}
