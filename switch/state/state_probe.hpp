#pragma once
// The state role's series (docs/metrics.md, "Payment life cycle"), declared in state_probe.cpp
// and resolved when the stage is made; records in/out, DLQ and results come with StageProbe.
#include "kafka/stage_probe.hpp"

namespace turnout {

class StateProbe : public StageProbe {
public:
    StateProbe();

    // turnout_payment_inquiries_total (GET /payments/{id}) by outcome.
    prometheus::Counter& inquiry_found;
    prometheus::Counter& inquiry_unknown;
    prometheus::Counter& inquiry_error;
};

}  // namespace turnout
