package reset

import (
	"errors"
	"fmt"
)

// plan is a checked request: the distinct targets, and for each target of
// the request the index of its distinct target.
type plan struct {
	targets []Target
	index   []int
}

// ValidateRequest checks req as Rotate does before any cloud call, and
// calls nothing: the idempotency key (IdempotencyKeyRule, at most
// MaxScopedKeyLength), the number of
// targets (1 to MaxTargets), each target (Target.Validate, a resetter for
// its kind, the allow-lists) and duplicates. Its error is an *Error: EInvalid
// or, for a target off an allow-list, EForbidden. When the request holds more
// than one target or req.Batch is set, a target's field is named
// "targets[i].field".
//
// Two targets with the same Key are one account. Exact duplicates are
// handled once, and each gets the same Result; duplicates that differ in
// another field (e.g. requirePasswordResetForNextLogin) are ambiguous, and an
// EInvalid error.
func (r *Rotator) ValidateRequest(req Request) error {
	_, err := r.plan(req)
	return err
}

func (r *Rotator) plan(req Request) (plan, error) {
	if err := checkIdempotencyKey(req.IdempotencyKey); err != nil {
		return plan{}, err
	}
	switch {
	case req.Sweep:
		if len(req.Targets) > 0 || req.Select != nil {
			return plan{}, FieldError("sweep", "must not be given with a target or a selector")
		}
		if r.secrets == nil {
			return plan{}, FieldError("sweep", "is not enabled in this deployment")
		}
		return plan{}, nil
	case req.Select != nil:
		if len(req.Targets) != 1 || req.Batch {
			return plan{}, FieldError("select", "must be given with one target's kind and scope, not in a batch")
		}
		return plan{}, r.checkSelector(req)
	case req.MaxTargets != 0:
		return plan{}, FieldError("maxTargets", "applies only with select")
	}
	switch {
	case len(req.Targets) == 0:
		return plan{}, FieldError("targets", "at least one target is required")
	case len(req.Targets) > MaxTargets:
		return plan{}, FieldError("targets", "at most %d targets are allowed, got %d", MaxTargets, len(req.Targets))
	}
	batch := req.Batch || len(req.Targets) > 1
	p := plan{index: make([]int, len(req.Targets))}
	seen := make(map[string]int, len(req.Targets)) // Key → index in req.Targets
	for i, t := range req.Targets {
		prefix := ""
		if batch {
			prefix = fmt.Sprintf("targets[%d].", i)
		}
		if err := r.checkTarget(t); err != nil {
			var e *Error
			if errors.As(err, &e) {
				c := *e
				c.Field = prefix + c.Field
				return plan{}, &c
			}
			return plan{}, err
		}
		if j, ok := seen[t.Key()]; ok {
			if req.Targets[j] != t {
				return plan{}, FieldError(prefix+"target", "names the same account as targets[%d] with different options", j)
			}
			p.index[i] = p.index[j]
			continue
		}
		seen[t.Key()] = i
		p.index[i] = len(p.targets)
		p.targets = append(p.targets, t)
	}
	return p, nil
}

func checkIdempotencyKey(key string) error {
	if rule := IdempotencyKeyRule(key, MaxScopedKeyLength); rule != "" {
		return FieldError("idempotencyKey", "%s", rule)
	}
	return nil
}

func (r *Rotator) checkTarget(t Target) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if _, ok := r.resetters[t.Kind]; !ok {
		return FieldError("target", "%q is not enabled in this deployment", t.Kind)
	}
	if allow := r.allowed[t.Kind]; allow != nil {
		if field, v := t.allowListValue(); !allow[v] {
			return &Error{Code: EForbidden, Field: field, Message: "is not on the allow-list"}
		}
	}
	return nil
}
