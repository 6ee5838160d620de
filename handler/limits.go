package handler

// Limits of the platform, and what pwreset makes of them. Sources:
//
//   - Function Compute "Can I modify the limit on the body size of an HTTP
//     request?" (https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/http-body-be-modified)
//     and "EntityTooLarge: payload size exceeds maximum allowed size"
//     (https://www.alibabacloud.com/help/doc-detail/2527064.html): a
//     synchronous invocation carries at most 32 MB, an asynchronous one
//     128 KB (256 KB by ticket); the platform blocks a larger request before
//     it reaches the function.
//   - Function Compute "Advanced features of triggers"
//     (https://www.alibabacloud.com/help/en/functioncompute/fc/advanced-features-of-triggers):
//     an event stream pushes 1 to 10,000 messages per invocation, and the
//     body limit above decides how many fit.
//   - EventBridge: its "Limits" page (https://help.aliyun.com/document_detail/163289.html)
//     gives an event message at most 256 KB and a batch at most 16 events
//     and 1 MB, while the PutEvents API reference
//     (https://www.alibabacloud.com/help/en/eventbridge/latest/putevents-3)
//     gives 64 KB per event, 16 events and 262,144 bytes per request. The
//     two pages disagree; a producer should keep each event under 64 KB.
//     EventBridge invokes its Function Compute targets asynchronously, so
//     the 128 KB of an asynchronous invocation bounds the whole invocation
//     whichever page holds.

// MaxEventBytes bounds the event of every trigger but HTTP: the 128 KB an
// asynchronous invocation carries without a ticket, read as 128,000 bytes
// (assumed: the docs do not say whether a KB is 1000 or 1024 bytes, and the
// smaller reading refuses whatever the larger might). EventBridge and timer
// triggers invoke asynchronously, so a larger event can only have come
// synchronously (the Invoke API, "s invoke"): it is refused too, so that a
// request tested that way fails as it would when a trigger delivers it. A
// batch of reset.MaxTargets targets fits only while its JSON stays under
// this size; the HTTP trigger (synchronous, MaxBodyBytes) takes larger ones.
const MaxEventBytes = 128_000

// MaxStreamEvents bounds the events of one event-streaming invocation (an
// array of CloudEvents). The trigger's batch push may be set up to 10,000,
// but each event names at least one target and one invocation handles at
// most reset.MaxTargets, so more events can never all be handled.
const MaxStreamEvents = 1000
