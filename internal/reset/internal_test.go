package reset

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntnRejectsBiasedBytes(t *testing.T) {
	cases := []struct {
		name  string
		n     int
		bytes []byte
		want  int
	}{
		{"AcceptsBelowLimit", 10, []byte{249}, 9},
		{"RejectsTopOfRange", 10, []byte{250, 251, 255, 7}, 7},
		{"WholeByteRange", 256, []byte{255}, 255},
		{"One", 1, []byte{200}, 0},
		{"SpecialClass", len(PasswordSpecial), []byte{byte(256 - 256%len(PasswordSpecial)), 14}, 14 % len(PasswordSpecial)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, 64)
			copy(buf, tc.bytes)
			src := byteSource{r: bytes.NewReader(buf)}
			got, err := src.intn(tc.n)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, 64-len(tc.bytes), src.n, "bytes consumed")
		})
	}
}

func TestByteSourceFailsCleanly(t *testing.T) {
	src := byteSource{r: bytes.NewReader(make([]byte, 10))} // short read
	_, err := src.intn(10)
	assert.Equal(t, EInternal, ErrorCodeOf(err))
}

func TestUniform(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 10, 1000, 1 << 32, 3_000_000_001, 1 << 63, math.MaxUint64} {
		limit := uniformLimit(n)
		// limit+1 (mod 2^64) is a multiple of n: every result is equally likely.
		assert.Zero(t, (limit+1)%n, "n=%d", n)
		assert.Greater(t, limit, uint64(math.MaxUint64/2), "n=%d", n)
	}

	var in bytes.Buffer
	for _, v := range []uint64{math.MaxUint64, 5} { // MaxUint64 is above limit for n=3
		_ = binary.Write(&in, binary.BigEndian, v)
	}
	got, err := uniform(&in, 3)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), got)
	assert.Zero(t, in.Len())
}

func TestRedact(t *testing.T) {
	const pw = "Ab3!x:y@z^_"
	for _, text := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
		err := redact(&Error{Code: EThrottled, Message: "slow", Err: errors.New("body " + text)}, pw)
		assert.Equal(t, EThrottled, ErrorCodeOf(err))
		assert.NotContains(t, err.Error(), text)
	}
	clean := &Error{Code: EUpstream, Message: "refused"}
	assert.Same(t, clean, redact(clean, pw))
	assert.Nil(t, redact(nil, pw))
}

// TestSlotsAcquire: a done context takes no slot, even a free one, and never
// takes back the slot of a goroutine still running (whose release would then
// block for ever).
func TestSlotsAcquire(t *testing.T) {
	cases := []struct {
		name    string
		held    int // slots taken before the call
		cancel  bool
		wantErr error
		wantLen int // slots taken after the call
	}{
		{"OKFree", 0, false, nil, 1},
		{"ErrCancelledWithFreeSlot", 0, true, context.Canceled, 0},
		{"ErrCancelledWhileFull", 1, true, context.Canceled, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSlots(1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for range tc.held {
				require.NoError(t, s.acquire(ctx))
			}
			if tc.cancel {
				cancel()
			}
			err := s.acquire(ctx)
			assert.ErrorIs(t, err, tc.wantErr)
			if tc.wantErr == nil {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.wantLen, len(s.free), "slots held")
		})
	}
}
