package handler_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/pwreset/pwreset/handler"
	"github.com/pwreset/pwreset/internal/reset"
)

// exampleRotator stands in for *reset.Rotator.
type exampleRotator struct{}

func (exampleRotator) Rotate(_ context.Context, req reset.Request) ([]reset.Result, error) {
	t := req.Targets[0]
	return []reset.Result{{Target: t, Status: reset.StatusRotated, SecretName: t.SecretName("pwreset/"), VersionID: "v-example"}}, nil
}

// An HTTP trigger's event in, an HTTP response out; the body says where the
// new password is, never what it is.
func ExampleHandler_Invoke() {
	h := handler.New(exampleRotator{}, nil)
	ctx := fccontext.NewContext(context.Background(), &fccontext.FcContext{RequestID: "1-6650a1f2-example"})
	event, _ := json.Marshal(handler.HTTPEvent{
		Body:           `{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","location":"cn-hangzhou"}`,
		Headers:        map[string]string{"Content-Type": "application/json", "Idempotency-Key": "ticket-1"},
		RequestContext: handler.HTTPRequestContext{HTTP: handler.HTTPDescription{Method: "POST"}},
	})
	out, _ := h.Invoke(ctx, event)
	resp := out.(*handler.HTTPResponse)
	fmt.Println(resp.StatusCode)
	fmt.Println(resp.Body)
	// Output:
	// 200
	// {"requestId":"1-6650a1f2-example","results":[{"target":"fabric","organizationId":"peers-aaaaaa2-1eqnj5o5wab12","username":"asian01","location":"cn-hangzhou","status":"rotated","secretName":"pwreset/fabric/peers-aaaaaa2-1eqnj5o5wab12/asian01","versionId":"v-example"}]}
}
