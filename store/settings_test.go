package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestSettingsInputParse(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	i64 := func(n int64) *int64 { return &n }
	intp := func(n int) *int { return &n }
	dur := func(d time.Duration) *time.Duration { return &d }
	tests := []struct {
		name  string
		in    SettingsInput
		want  NamespaceSettings
		field string // refused: the field named
	}{
		{"nothing given changes nothing", SettingsInput{}, NamespaceSettings{}, ""},
		{"lists split on commas, semicolons, spaces and arrows",
			SettingsInput{Contacts: str("a@x.io, b@x.io;c@x.io"), Ladder: str("latest → test → prod")},
			NamespaceSettings{Contacts: []string{"a@x.io", "b@x.io", "c@x.io"}, Ladder: []string{"latest", "test", "prod"}}, ""},
		{"default clears every override",
			SettingsInput{Threshold: str("default"), Ladder: str(""), KeepTagRevisions: str("default"), KeepYoungerThan: str(" ")},
			NamespaceSettings{ThresholdBytes: i64(-1), Ladder: []string{}, PruneKeepTagRevisions: intp(-1), PruneKeepYoungerThan: dur(-1)}, ""},
		{"IEC threshold and policy", SettingsInput{Threshold: str("50GiB"), KeepTagRevisions: str("1000"), KeepYoungerThan: str("14d")},
			NamespaceSettings{ThresholdBytes: i64(50 << 30), PruneKeepTagRevisions: intp(1000), PruneKeepYoungerThan: dur(14 * 24 * time.Hour)}, ""},
		{"threshold not a size", SettingsInput{Threshold: str("lots")}, NamespaceSettings{}, "threshold"},
		{"threshold zero", SettingsInput{Threshold: str("0")}, NamespaceSettings{}, "threshold"},
		{"keep above 1000, as in the form", SettingsInput{KeepTagRevisions: str("1001")}, NamespaceSettings{}, "keep"},
		{"keep negative", SettingsInput{KeepTagRevisions: str("-1")}, NamespaceSettings{}, "keep"},
		{"younger negative", SettingsInput{KeepYoungerThan: str("-1h")}, NamespaceSettings{}, "younger"},
		{"younger beyond ten years", SettingsInput{KeepYoungerThan: str("100000h")}, NamespaceSettings{}, "younger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, field, err := tt.in.Parse()
			if tt.field != "" {
				if err == nil || field != tt.field || !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %+v, field %q, err %v; want a refusal about %s", got, field, err, tt.field)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParsePolicyDefaultsToTheSeedsRule(t *testing.T) {
	t.Parallel()
	p, err := ParsePolicy("", "")
	if err != nil || p != DefaultPolicy || p.KeepTagRevisions != 3 || p.KeepYoungerThan != 96*time.Hour {
		t.Fatalf("ParsePolicy(\"\", \"\") = %+v, %v; want keep 3, younger than 96h", p, err)
	}
	if p, err := ParsePolicy("5", "2h"); err != nil || p.KeepTagRevisions != 5 || p.KeepYoungerThan != 2*time.Hour {
		t.Errorf("ParsePolicy(5, 2h) = %+v, %v", p, err)
	}
}

func TestNextRung(t *testing.T) {
	t.Parallel()
	ladder := []string{"latest", "test", "prod"}
	for from, want := range map[string]string{"latest": "test", "test": "prod", "prod": "", "dev": ""} {
		if got, ok := NextRung(ladder, from); got != want || ok != (want != "") {
			t.Errorf("NextRung(%s) = %q, %v; want %q", from, got, ok, want)
		}
	}
}
