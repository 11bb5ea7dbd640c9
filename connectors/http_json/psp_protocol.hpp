#pragma once
// The REST/JSON protocol between the http_json connector and a PSP (the wire format
// turnout-sim psp speaks), as pure functions: request bodies, answers → outcomes, webhooks.
//
//   POST /v1/payments            Idempotency-Key: <payment_id>, signed; body: payment_body()
//     200 {"status":"approved"|"declined", ...}   final answer
//     202 {"status":"pending", ...}               final outcome follows on the webhook
//     4xx / 5xx                                   not executed
//   GET  /v1/payments/<payment_id>  signed (empty body): 200 the payment as above, 404 unknown
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

// The answer to POST /v1/payments: 2xx by body (approved / declined / pending); 4xx and 5xx
// were not executed (soft failure, the next channel may try); anything unreadable in a 2xx
// is an unknown outcome (failed).
ChannelOutcome outcome_of_payment_answer(int http_status, std::string_view body);

// The answer to GET /v1/payments/<id> after an unknown outcome or for a pending payment:
// 200 as above; 404 = the PSP has no payment under that idempotency key, so the request
// never took effect (soft failure, code `not_received`); anything else stays unknown
// (failed, code `unknown_outcome`).
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
    std::string status;  // approved | declined | pending
    std::string code;
    std::string message;
    std::string psp_ref;
    std::string approval_code;
};
std::string payment_json(const PspPayment& p);
std::string webhook_json(std::string_view event_id, const PspPayment& p);

}  // namespace turnout::psp
