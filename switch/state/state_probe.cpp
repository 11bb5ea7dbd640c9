#include "state/state_probe.hpp"

namespace turnout {
namespace {
prometheus::Counter& inquiries(const char* outcome) {
    static auto& f = declare_counter("turnout_payment_inquiries_total",
                                     "GET /payments/{id} requests served by the state role, by outcome");
    return f.Add({{"outcome", outcome}});
}
}  // namespace

StateProbe::StateProbe()
    : StageProbe("state"),
      inquiry_found(inquiries("found")),
      inquiry_unknown(inquiries("unknown")),
      inquiry_error(inquiries("error")) {}

}  // namespace turnout
