package localrun

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
)

// Markers fc-runtime-go-sdk prints to stdout around every invocation.
const (
	invokeStartMarker = "FC Invoke Start RequestId: "
	invokeEndMarker   = "FC Invoke End RequestId: "
)

// Output collects a function's output as lines. It is an io.Writer safe for
// concurrent use.
type Output struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	lines   []string
	grew    chan struct{} // closed and replaced when a line is added
}

// NewOutput returns an empty Output.
func NewOutput() *Output {
	return &Output{grew: make(chan struct{})}
}

// Write records p, splitting it into lines.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all.Write(p)
	o.partial = append(o.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.lines = append(o.lines, strings.TrimSuffix(string(o.partial[:i]), "\r"))
		o.partial = o.partial[i+1:]
		added = true
	}
	if added {
		close(o.grew)
		o.grew = make(chan struct{})
	}
	return len(p), nil
}

// String returns everything written so far, including an unfinished line.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.all.String()
}

// Lines returns the complete lines written so far.
func (o *Output) Lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.lines...)
}

// Invocation returns the lines of the latest invocation with requestID: from
// the runtime SDK's start marker to its end marker, both included. It waits
// for the end marker, which the SDK prints before it posts the outcome, so
// once Invoke has returned the wait is only for the pipe to drain. Lines of
// invocations that ran at the same time would interleave; a function instance
// of pwreset serves one at a time.
func (o *Output) Invocation(ctx context.Context, requestID string) ([]string, error) {
	start, end := invokeStartMarker+requestID, invokeEndMarker+requestID
	for {
		o.mu.Lock()
		from := -1
		for i := len(o.lines) - 1; i >= 0; i-- {
			if o.lines[i] == start {
				from = i
				break
			}
		}
		if from >= 0 {
			for i := from + 1; i < len(o.lines); i++ {
				// The SDK appends ", Error: ..." to the end marker of a
				// failed invocation.
				if l := o.lines[i]; l == end || strings.HasPrefix(l, end+",") {
					lines := append([]string(nil), o.lines[from:i+1]...)
					o.mu.Unlock()
					return lines, nil
				}
			}
		}
		grew := o.grew
		o.mu.Unlock()
		select {
		case <-grew:
		case <-ctx.Done():
			return nil, fmt.Errorf("logs of invocation %s: %w", requestID, ctx.Err())
		}
	}
}
