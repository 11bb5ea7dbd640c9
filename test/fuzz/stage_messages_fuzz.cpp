// Records the later stages read from Turnout's own topics (routed payments, results, batch
// summaries): a corrupt or foreign record is refused (nullopt) and dead-lettered, never a
// crash; whatever decodes encodes to something that decodes to the same message.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "codec/messages.hpp"

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
    if (auto b = decode_batch_summary(in)) {
        const auto again = decode_batch_summary(encode_batch_summary(*b));
        require(again && again->batch_id == b->batch_id && again->net == b->net &&
                again->record_count == b->record_count);
    }
    return 0;
}
