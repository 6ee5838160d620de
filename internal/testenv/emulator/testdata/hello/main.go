// Command hello is the smallest useful Function Compute function: it starts
// the fc-runtime-go-sdk loop and echoes each event with the invocation
// context the runtime handed it. The emulator's tests drive it through the
// emulated runtime API, and the cold-start benchmark compares pwreset's
// start-up with this floor.
package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

// request is the event; a non-empty Fail makes the invocation fail.
type request struct {
	Echo json.RawMessage `json:"echo,omitempty"`
	Fail string          `json:"fail,omitempty"`
}

// reply echoes the event and the fields of the FC context.
type reply struct {
	Echo            json.RawMessage `json:"echo,omitempty"`
	RequestID       string          `json:"requestId"`
	AccessKeyID     string          `json:"accessKeyId"`
	AccessKeySecret string          `json:"accessKeySecret"`
	SecurityToken   string          `json:"securityToken"`
	Region          string          `json:"region"`
	AccountID       string          `json:"accountId"`
	RetryCount      int             `json:"retryCount"`
	FunctionName    string          `json:"functionName"`
	Handler         string          `json:"handler"`
	Memory          string          `json:"memory"`
	Timeout         int             `json:"timeout"`
	ServiceName     string          `json:"serviceName"`
	Qualifier       string          `json:"qualifier"`
	VersionID       string          `json:"versionId"`
	DeadlineMS      int64           `json:"deadlineMs"`
}

// helloError's type name is what the SDK posts as errorType.
type helloError struct{ msg string }

func (e *helloError) Error() string { return e.msg }

func handle(ctx context.Context, req request) (reply, error) {
	if req.Fail != "" {
		return reply{}, &helloError{msg: req.Fail}
	}
	fctx, _ := fccontext.FromContext(ctx)
	var deadline time.Time
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	return reply{
		Echo:            req.Echo,
		RequestID:       fctx.RequestID,
		AccessKeyID:     fctx.Credentials.AccessKeyId,
		AccessKeySecret: fctx.Credentials.AccessKeySecret,
		SecurityToken:   fctx.Credentials.SecurityToken,
		Region:          fctx.Region,
		AccountID:       fctx.AccountId,
		RetryCount:      fctx.RetryCount,
		FunctionName:    fctx.Function.Name,
		Handler:         fctx.Function.Handler,
		Memory:          fctx.Function.Memory,
		Timeout:         fctx.Function.Timeout,
		ServiceName:     fctx.Service.Name,
		Qualifier:       fctx.Service.Qualifier,
		VersionID:       fctx.Service.VersionId,
		DeadlineMS:      deadline.UnixMilli(),
	}, nil
}

func main() {
	fc.Start(handle)
}
