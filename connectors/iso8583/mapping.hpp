#pragma once
// docs/design.md, "ISO 8583 mapping": payments ↔ ISO 8583 messages, response codes ↔ outcomes, and the
// channel_ref a follow-up (capture, void, refund) uses to reference its original. Pure.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "connector.hpp"
#include "iso8583/message.hpp"

namespace turnout::iso8583 {

struct MessageSettings {
    std::string acquirer_id = "12345678";  // field 32
    std::string pos_entry_mode = "010";    // field 22 (keyed, e-commerce)
    bool capture_as_advice = true;         // capture → 0220 (true) or 0200
};

// What a follow-up needs of its original, carried in the result's channel_ref (at most 64
// characters, docs/design.md, "Messages") as `iso8583:<mti>:<stan>:<transmission MMDDhhmmss>:<rrn>:<terminal>[:<approval>]`,
// e.g. `iso8583:0200:000123:1126091500:K3X9Q0ZT1ABC:EU4F2K9Q:A1B2C3`. The acquirer id of
// field 90 is the channel's own (a follow-up goes to the original's channel).
struct OriginalData {
    std::string mti, stan, transmission, rrn, terminal, acquirer, approval;
};
std::string format_channel_ref(const OriginalData& o);
std::optional<OriginalData> parse_channel_ref(std::string_view ref);
// Field 90: original MTI, STAN, transmission date-time, acquirer id (11 digits), 11 zeros.
std::string original_data_elements(const OriginalData& o);

// Retrieval reference number (field 37) of a payment: 12 characters [0-9A-Z] derived from
// payment_id, so a retry of the same payment carries the same RRN and the host can answer it
// from its records instead of executing it again.
std::string rrn_for(std::string_view payment_id);

// The request message of a payment, without STAN (11), transmission time (7, 12, 13) and
// terminal (41), which belong to the connection that sends it. `pan` is the clear card number
// (empty: field 2 left out). nullopt + why for a follow-up whose original.channel_ref cannot
// be read.
std::optional<IsoMessage> request_for(const RoutedPayment& p, const std::string& pan, const MessageSettings& s,
                                      std::string* why);
// The 0400 reversal of a request that was sent and not answered in time: its terminal (41),
// RRN, amount and field 90 naming it; the reversal's own STAN and time are stamped when it
// is sent.
IsoMessage reversal_for(const IsoMessage& request);
// Sets 7, 11, 12, 13, 41 (UTC) on a message about to leave.
void stamp(IsoMessage& m, uint32_t stan, const std::string& terminal, int64_t epoch_ms);

// What a 0410 answering a reversal (0400/0401) of an unanswered request says about that
// request, by its field 39:
// - reversed: 00, the host undid the original;
// - original_not_found: 25, the host has no record of the original, so it never executed
//   it (nothing to undo);
// - unknown: anything else (21 "no action taken", 94, 91, 96, format errors, no code): the
//   reversal did not take effect and the original may still be live, so the reversal is
//   repeated (0401) and, past the last repeat, the payment ends `failed` (`unknown_outcome`).
enum class ReversalVerdict { reversed, original_not_found, unknown };
ReversalVerdict reversal_verdict(std::string_view response_code);

// Response code → outcome: 00 approved; 91, 96 soft failure; anything else declined.
ChannelOutcome outcome_for_response(const IsoMessage& request, const IsoMessage& response);
std::string response_text(std::string_view code);

// Response MTI of a request MTI (0100 → 0110, 0401 → 0410); empty if not a request.
std::string response_mti(std::string_view mti);

}  // namespace turnout::iso8583
