package cli

import (
	"bytes"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

func TestExitOf(t *testing.T) {
	t.Parallel()
	failed := reset.Result{Status: reset.StatusFailed, Err: reset.Errorf(reset.EUpstream, "down")}
	tests := []struct {
		name    string
		resp    handler.Response
		results []reset.Result
		want    int
	}{
		{"AllRotated", handler.Response{}, []reset.Result{{Status: reset.StatusRotated}, {Status: reset.StatusSuperseded}}, ExitOK},
		{"SweepReports", handler.Response{}, []reset.Result{{Status: reset.StatusHealthy}, {Status: reset.StatusDrift}}, ExitOK},
		{"OneFailed", handler.Response{}, []reset.Result{{Status: reset.StatusRotated}, failed}, ExitFailed},
		{"Skipped", handler.Response{}, []reset.Result{{Status: reset.StatusSkipped, Err: reset.Errorf(reset.EUnavailable, "late")}}, ExitFailed},
		{"Accepted", handler.Response{Accepted: true, RunID: "run-1", Targets: 900},
			[]reset.Result{{Status: reset.StatusAccepted, Run: &reset.RunInfo{ID: "run-1", Targets: 900}}}, ExitOK},
		{"ErrInvalid", handler.Response{Error: &handler.ErrorBody{Code: handler.CodeInvalidParameter}}, nil, ExitUsage},
		{"ErrForbidden", handler.Response{Error: &handler.ErrorBody{Code: handler.CodeForbidden}}, nil, ExitUsage},
		{"ErrThrottled", handler.Response{Error: &handler.ErrorBody{Code: handler.CodeThrottling}}, nil, ExitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, exitOf(tt.resp, tt.results))
		})
	}
}

func TestProgressTotal(t *testing.T) {
	t.Parallel()
	one := reset.Target{Kind: reset.KindCloudSSO}
	tests := []struct {
		name      string
		req       reset.Request
		wantTotal int
		wantBatch bool
	}{
		{"OneTarget", reset.Request{Targets: []reset.Target{one}}, 0, false},
		{"Batch", reset.Request{Targets: []reset.Target{one, one, one}}, 3, true},
		{"Sweep", reset.Request{Sweep: true}, 0, true},
		{"Selector", reset.Request{Targets: []reset.Target{one}, Select: &reset.Selector{}, MaxTargets: 50}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total, batch := progressTotal(tt.req)
			assert.Equal(t, tt.wantTotal, total)
			assert.Equal(t, tt.wantBatch, batch)
		})
	}
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		total int
		want  string
	}{
		{"KnownTotal", 3, "pwreset: [1/3] cloudsso/d-1/u-1 rotated\n"},
		{"RunFindsTargets", 0, "pwreset: [1] cloudsso/d-1/u-1 rotated\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w bytes.Buffer
			var done atomic.Int64
			log := slog.New(progressHandler{next: slog.DiscardHandler, w: &w, total: tt.total, done: &done})
			log.Info("run progress", "runId", "r") // not a target's line
			log.Info("password rotation", "target", "cloudsso/d-1/u-1", "status", "rotated")
			assert.Equal(t, tt.want, w.String())
		})
	}
}

func TestPrintAccepted(t *testing.T) {
	t.Parallel()
	var w bytes.Buffer
	printResponse(&w, handler.Response{RequestID: "req-1", Accepted: true, RunID: "run-1", Targets: 900})
	assert.Equal(t, "accepted   run run-1 of 900 targets: it goes on in the function's asynchronous invocations; "+
		"its outcomes are in the function's logs and outcome events\nrequest req-1\n", w.String())
}
