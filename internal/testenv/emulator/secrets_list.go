package emulator

// KMS ListSecrets. Sources: docs/wire-facts.md ("KMS").

import (
	"encoding/json"
	"strconv"
)

// listFilter is one entry of ListSecrets' Filters, a JSON array such as
// [{"Key":"SecretName","Values":["a","b"]}] (kms-20160120 v3.2.3
// ListSecretsRequest.Filters).
type listFilter struct {
	Key    string
	Values []string
}

// listSecrets pages the secrets sorted by name, pending deletion included.
// A SecretName or Description filter matches its values exactly, ORed: the
// reference's example reads "SecretName=sec1 OR SecretName=sec2"; that it is
// not a prefix match is assumed. Tag filters are not emulated (refused, not
// guessed).
func (c *Cloud) listSecrets(p map[string]string) (map[string]any, *apiError) {
	page, size := 1, 10
	if v := p["PageNumber"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errInvalid("PageNumber")
		}
		page = n
	}
	if v := p["PageSize"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, errInvalid("PageSize")
		}
		size = n
	}
	var filters []listFilter
	if raw := p["Filters"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &filters); err != nil || len(filters) > 1 {
			// "You can specify one key-value pair or leave this parameter empty."
			return nil, errInvalid("Filters")
		}
		for _, f := range filters {
			if (f.Key != "SecretName" && f.Key != "Description") || len(f.Values) == 0 || len(f.Values) > 10 {
				return nil, errInvalid("Filters")
			}
		}
	}
	var names []string
	for _, name := range sortedKeys(c.secrets) {
		if matchesFilters(c.secrets[name], filters) {
			names = append(names, name)
		}
	}
	total := len(names)
	start := min((page-1)*size, total)
	end := min(start+size, total)
	list := []any{}
	for _, name := range names[start:end] {
		s := c.secrets[name]
		item := map[string]any{
			"SecretName": name, "SecretType": "Generic", "CreateTime": kmsTime(s.Created), "UpdateTime": kmsTime(s.Updated),
		}
		if !s.PlannedDeleteTime.IsZero() {
			item["PlannedDeleteTime"] = kmsTime(s.PlannedDeleteTime)
		}
		list = append(list, item)
	}
	return map[string]any{
		"PageNumber": page, "PageSize": size, "TotalCount": total,
		"SecretList": map[string]any{"Secret": list},
	}, nil
}

func matchesFilters(s *secret, filters []listFilter) bool {
	for _, f := range filters {
		v := s.Name
		if f.Key == "Description" {
			v = s.Description
		}
		hit := false
		for _, want := range f.Values {
			if v == want {
				hit = true
			}
		}
		if !hit {
			return false
		}
	}
	return true
}
