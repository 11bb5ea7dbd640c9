// Untrusted bytes from payments.requests: the decoder never crashes, always answers with
// exactly one of a request or a named rejection, answers as the decoder it replaced (the
// reference, a Boost.JSON tree then validation) does, and what it accepts survives a round trip.
// fuzz-needs: test/unit/codec/request_decoder_reference.cpp
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "../unit/codec/request_decoder_reference.hpp"
#include "codec/request_decoder.hpp"

using namespace turnout;

namespace {
void require(bool ok) {
    if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto out = decode_request(in, 65536);
    require(out.request.has_value() != out.rejection.has_value());
    const auto ref = decode_request_reference(in, 65536);
    require(ref.request.has_value() == out.request.has_value() && ref.masked_card_numbers == out.masked_card_numbers);
    if (ref.request) require(encode_request(*ref.request) == encode_request(*out.request));
    if (ref.rejection)
        require(ref.rejection->code == out.rejection->code && ref.rejection->message == out.rejection->message &&
                ref.rejection->payment_id == out.rejection->payment_id && ref.rejection->root_id == out.rejection->root_id);
    if (out.rejection) {
        require(!out.rejection->code.empty() && !out.rejection->message.empty());
        // A rejected result is keyed by ids that are themselves valid.
        if (!out.rejection->payment_id.empty()) require(valid_payment_id(out.rejection->payment_id));
        if (!out.rejection->root_id.empty()) require(valid_payment_id(out.rejection->root_id));
        return 0;
    }
    const auto& r = *out.request;
    require(valid_payment_id(r.payment_id));
    require(r.amount.value >= 1 && r.amount.value <= kMaxAmountMinor);
    require(r.instrument.has_value() || is_follow_up(r.type));
    require(r.original.has_value() == is_follow_up(r.type));
    // Re-encoding an accepted request gives a request the decoder accepts as the same payment.
    const auto again = decode_request(encode_request(r), 1 << 20);
    require(again.request.has_value());
    require(again.request->payment_id == r.payment_id && again.request->amount.value == r.amount.value &&
            again.request->amount.currency == r.amount.currency && again.request->type == r.type &&
            again.request->created_at_ms == r.created_at_ms);
    const auto& a = *again.request;
    require(a.merchant.id == r.merchant.id && a.merchant.mcc == r.merchant.mcc && a.metadata == r.metadata);
    require(a.instrument.has_value() == r.instrument.has_value());
    if (r.instrument) require(a.instrument->pan == r.instrument->pan && a.instrument->token == r.instrument->token);
    require(a.original.has_value() == r.original.has_value());
    if (r.original)
        require(a.original->payment_id == r.original->payment_id && a.original->channel_ref == r.original->channel_ref);
    // What goes into clearing-file lines carries no line breaks or other control characters.
    for (const std::string* s : {&r.merchant.id, r.original ? &r.original->channel_ref : &r.merchant.id})
        for (unsigned char c : *s) require(c >= 0x20 && c != 0x7f);
    return 0;
}
