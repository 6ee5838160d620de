package localrun_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/testenv/emulator"
	"github.com/pwreset/pwreset/internal/testenv/localrun"
)

func TestDecode(t *testing.T) {
	const httpEvent = `{"version":"v1","requestContext":{"http":{"method":"POST"}},"body":"{}"}`
	const result = `{"target":"cloudsso","directoryId":"d-1","userId":"u-1","status":"rotated","secretName":"pwreset/cloudsso/d-1/u-1","versionId":"v1"}`
	tests := []struct {
		name        string
		event       string
		out         emulator.Outcome
		wantOK      bool
		wantHTTP    int
		wantResults int
	}{
		{"OK_HTTP", httpEvent, emulator.Outcome{Payload: []byte(`{"statusCode":200,"body":"{\"requestId\":\"r\",\"results\":[` + escape(result) + `]}"}`)}, true, 200, 1},
		{"OK_HTTPBase64", httpEvent, emulator.Outcome{Payload: []byte(`{"statusCode":200,"isBase64Encoded":true,"body":"eyJyZXF1ZXN0SWQiOiJyIiwicmVzdWx0cyI6W3sidGFyZ2V0IjoiZmFicmljIiwic3RhdHVzIjoicm90YXRlZCJ9XX0="}`)}, true, 200, 1},
		{"OK_Event", `{"triggerName":"t"}`, emulator.Outcome{Payload: []byte(`{"requestId":"r","results":[` + result + `]}`)}, true, 0, 1},
		{"OK_EventStream", `[{}]`, emulator.Outcome{Payload: []byte(`[{"results":[` + result + `]},{"results":[` + result + `]}]`)}, true, 0, 2},
		{"ErrHTTPStatus", httpEvent, emulator.Outcome{Payload: []byte(`{"statusCode":400,"body":"{\"error\":{\"code\":\"InvalidParameter\",\"message\":\"m\"}}"}`)}, false, 400, 0},
		{"ErrFunctionError", `{}`, emulator.Outcome{Err: &emulator.FunctionError{Type: "PermanentError", Message: "m"}}, false, 0, 0},
		{"ErrResponseError", `{}`, emulator.Outcome{Payload: []byte(`{"results":[` + result + `],"error":{"code":"Throttling","message":"m"}}`)}, false, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := localrun.Decode([]byte(tt.event), tt.out)
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, a.OK(), "OK: got %v, want %v", a.OK(), tt.wantOK)
			if tt.wantHTTP != 0 {
				require.NotNil(t, a.HTTP)
				assert.Equal(t, tt.wantHTTP, a.HTTP.StatusCode)
			} else {
				assert.Nil(t, a.HTTP)
			}
			assert.Len(t, a.Results(), tt.wantResults)
		})
	}

	t.Run("ErrNotJSON", func(t *testing.T) {
		_, err := localrun.Decode([]byte(`{}`), emulator.Outcome{Payload: []byte(`nope`)})
		require.Error(t, err)
	})
}

func escape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func TestSecretPassword(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    string
		wantErr bool
	}{
		{"OK", `{"target":"fabric","password":"x"}`, "x", false},
		{"OK_Placeholder", `{"target":"fabric"}`, "", false},
		{"ErrNotJSON", `x`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := localrun.SecretPassword(emulator.SecretVersion{VersionID: "v", Data: tt.data})
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
