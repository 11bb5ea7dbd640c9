// Records the later stages read from Turnout's own topics (routed payments, results, batch
// summaries): a corrupt or foreign record is refused (nullopt) and dead-lettered, never a
// crash; whatever decodes encodes to something that decodes to the same message. Results also
// go through the validation the settlement and state roles apply.
// fuzz-needs: switch/codec/result_decoder.cpp
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "codec/messages.hpp"
#include "codec/result_decoder.hpp"

using namespace turnout;

namespace {
void require(bool ok) {
    if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    if (auto r = decode_routed(in)) {
        const auto again = decode_routed(encode_routed(*r));
        require(again && again->request.payment_id == r->request.payment_id &&
                again->request.amount.value == r->request.amount.value && again->route.channels == r->route.channels);
    }
    if (auto r = decode_result(in)) {
        const auto again = decode_result(encode_result(*r));
        require(again && again->payment_id == r->payment_id && again->status == r->status &&
                again->reason.code == r->reason.code);
    }
    // A result the stages accept re-encodes to one they accept again, with the same money.
    constexpr int64_t kNow = 4'102'444'800'000;  // 2100-01-01
    if (auto c = decode_result_checked(in, std::nullopt, kNow); c.result) {
        const auto again = decode_result_checked(encode_result(*c.result), std::nullopt, kNow, kMaxResultBytes * 2);
        require(again.result && again.result->payment_id == c.result->payment_id &&
                again.result->amount == c.result->amount && again.result->merchant_id == c.result->merchant_id &&
                again.result->channel == c.result->channel && again.result->channel_ref == c.result->channel_ref);
    } else {
        require(c.problem.has_value());
    }
    if (auto b = decode_batch_summary(in)) {
        const auto again = decode_batch_summary(encode_batch_summary(*b));
        require(again && again->batch_id == b->batch_id && again->net == b->net &&
                again->record_count == b->record_count);
    }
    return 0;
}
