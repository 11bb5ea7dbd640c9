#pragma once
// The REST/JSON protocol between the http_json connector and a PSP (the wire format
// turnout-sim psp speaks), as pure functions: request bodies, answers → outcomes, webhooks.
//
//   POST /v1/payments            Idempotency-Key: <payment_id>, signed; body: payment_body()
//     200 {"status":"approved"|"declined", ...}   final answer
//     202 {"status":"pending", ...}               final outcome follows on the webhook
//     409 / 429                                   busy key / rate limited: resend later
//     other 4xx                                   refused, not executed
//     5xx                                         unknown (a gateway may answer after the PSP executed)
//   GET  /v1/payments/<payment_id>  signed (empty body): 200 the payment as above, 404 unknown
//   POST /v1/payments/<payment_id>/cancel  signed, Idempotency-Key <payment_id>:cancel, body {}:
//     200 the payment: "cancelled" if it was still pending, else its final state;
//     404 no payment under the key: never executed (outcome `reversed`, original_not_found)
//   webhook POST <callback_url>, signed by the PSP:
//     {"event_id":"...","type":"payment.updated","payment":{...the payment...}}
#include <optional>
#include <string>
#include <string_view>

#include "connector.hpp"
#include "model/payment.hpp"

namespace turnout::psp {

// The JSON body of POST /v1/payments. Card data never goes to the PSP in clear: the
// instrument travels as its kind, token/provider, fingerprint, BIN and last4.
std::string payment_body(const RoutedPayment& p, std::string_view callback_url);

// What an exchange with the PSP tells about a payment, decided without I/O so every case is
// in one table (docs/connectors.md, "Answers"). Only a request that provably never reached
// the PSP may move to another channel; every other unclear answer is an unknown outcome,
// resolved on this channel (status query, cancel) or by reconciliation, never elsewhere.
enum class PspCall { payment, status_query, cancel };
enum class Delivery {
    not_sent,   // connect refused/failed, TLS handshake failed, nothing of the request written
    no_answer,  // the request (or part of it) left; no answer came (timeout, connection dropped)
    answered,   // an HTTP answer was read: `http_status` and `body`
};
enum class Verdict {
    approved, declined, pending,
    cancelled,     // the PSP confirms the payment is cancelled (outcome kind `reversed`)
    soft_failure,  // not received: the next channel of the plan may try
    refused,       // a definite 4xx refusal: not executed, result `failed` with the HTTP code
    retry,         // 409 (idempotency key in use) / 429 (rate limited): the same request
                   // again on the same channel after a short delay (same Idempotency-Key)
    unknown,       // the outcome is unknown: ask the PSP, else `failed` / `unknown_outcome`
};
const char* to_string(Verdict v);
struct Classified {
    Verdict verdict = Verdict::unknown;
    ChannelOutcome outcome;  // the outcome for this verdict (`failed`/`unknown_outcome` for unknown)
};
Classified classify_answer(PspCall call, Delivery delivery, int http_status, std::string_view body,
                           std::string_view error = {});

// Shorthands for answered exchanges: the outcome of an answer to POST /v1/payments (a
// `retry` verdict reads as unknown here) and to GET /v1/payments/<id>.
ChannelOutcome outcome_of_payment_answer(int http_status, std::string_view body);
ChannelOutcome outcome_of_status_answer(int http_status, std::string_view body);

// A verified webhook's payment: final outcomes only (a pending update is not an event).
struct PspEvent {
    std::string event_id;
    std::string payment_id;
    std::string root_id;  // from the metadata Turnout sent; the payment_id when absent
    ChannelOutcome outcome;
};
std::optional<PspEvent> parse_webhook(std::string_view body);

// The PSP side (turnout-sim psp): a payment's JSON as answered and as sent in webhooks.
struct PspPayment {
    std::string payment_id;
    std::string root_id;
    std::string status;  // approved | declined | pending | cancelled
    std::string code;
    std::string message;
    std::string psp_ref;
    std::string approval_code;
};
std::string payment_json(const PspPayment& p);
std::string webhook_json(std::string_view event_id, const PspPayment& p);

}  // namespace turnout::psp
