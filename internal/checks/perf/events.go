package perf

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pwreset/pwreset/internal/app"
	"github.com/pwreset/pwreset/internal/config"
	"github.com/pwreset/pwreset/internal/testenv/emulator"
)

// EventsBus is the bus of the outcome-event figures.
const EventsBus = "pwreset-outcomes"

// EventCost is what the outcome events cost: events and PutEvents calls
// per rotation of one target, and per batch.
type EventCost struct {
	// SingleCalls are the cloud calls of one rotation of an existing
	// secret, in order; SingleEvents the events it published.
	SingleCalls  []string
	SingleEvents int
	// BatchTargets, BatchEvents, BatchPutEvents and BatchCalls describe
	// the second rotation of a batch of BatchTargets targets of one
	// directory: events published, PutEvents calls, all calls.
	// BatchPolicyReads counts the GetPasswordPolicy calls of its first
	// rotation (the directory's rules, read once for the whole batch).
	BatchTargets, BatchEvents, BatchPutEvents, BatchCalls, BatchPolicyReads int
	// PutEventsLast reports whether every PutEvents came after the batch's
	// last protocol call: the events are off the protocol's path.
	PutEventsLast bool
}

// OutcomeEvents measures EventCost in process against a cloud seeded with
// BatchFixture(targets): the handler main builds, with EVENT_BUS_NAME set.
func OutcomeEvents(ctx context.Context, targets int) (EventCost, error) {
	res := EventCost{BatchTargets: targets}
	cloud := emulator.New(BatchFixture(targets))
	defer cloud.Close()
	eps, err := cloud.Start()
	if err != nil {
		return res, err
	}
	busURL, err := cloud.StartEventBus()
	if err != nil {
		return res, err
	}
	cloud.AddEventBus(EventsBus)
	env := map[string]string{
		config.EnvKMSEndpoint: eps.KMS, config.EnvCloudSSOEndpoint: eps.CloudSSO, config.EnvBaaSEndpoint: eps.BaaS,
		config.EnvRegionID: emulator.DefaultRegion, config.EnvKMSEncryptionKeyID: emulator.FixtureKMSKeyID,
		config.EnvEventBusName: EventsBus, config.EnvEventBridgeEndpoint: busURL,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return res, err
	}
	h, err := app.New(cfg, app.Deps{})
	if err != nil {
		return res, err
	}
	creds := roleCredentials()
	invoke := func(payload []byte) error {
		out, err := h.Invoke(invocationContext("events", creds), payload)
		if err != nil {
			return fmt.Errorf("perf: outcome events: %w", err)
		}
		_, err = json.Marshal(out)
		return err
	}
	// A first rotation creates the secret and reads the directory's rules.
	if err := invoke(SingleRequest); err != nil {
		return res, err
	}
	cloud.ResetCalls()
	events0 := len(cloud.PublishedEvents())
	if err := invoke(SingleRequest); err != nil {
		return res, err
	}
	for _, c := range cloud.Calls() {
		res.SingleCalls = append(res.SingleCalls, c.Action)
	}
	res.SingleEvents = len(cloud.PublishedEvents()) - events0

	// The batch's first rotation creates its secrets and reads its
	// directory's rules; the second is measured.
	cloud.ResetCalls()
	if err := invoke(BatchRequest(targets)); err != nil {
		return res, err
	}
	for _, c := range cloud.Calls() {
		if c.Action == "GetPasswordPolicy" {
			res.BatchPolicyReads++
		}
	}
	cloud.ResetCalls()
	events0 = len(cloud.PublishedEvents())
	if err := invoke(BatchRequest(targets)); err != nil {
		return res, err
	}
	calls := cloud.Calls()
	res.BatchCalls = len(calls)
	res.BatchEvents = len(cloud.PublishedEvents()) - events0
	lastProtocol, firstPut := -1, len(calls)
	for i, c := range calls {
		switch c.Action {
		case "PutEvents":
			res.BatchPutEvents++
			firstPut = min(firstPut, i)
		default:
			lastProtocol = i
		}
	}
	res.PutEventsLast = res.BatchPutEvents > 0 && firstPut > lastProtocol
	return res, nil
}
