#pragma once
// Settlement messages: clearing records and batch summaries (DESIGN.md §4).
#include <cstdint>
#include <string>

#include "model/payment.hpp"

namespace turnout {

// One approved financial result: sale/capture +amount (cardholder debited), refund −amount.
struct ClearingRecord {
    std::string payment_id;
    PaymentType type = PaymentType::sale;
    std::string channel;
    std::string merchant_id;
    std::string currency;
    int64_t amount = 0;  // signed minor units
    std::string channel_ref;
    int64_t event_time_ms = 0;
};

struct BatchSummary {
    std::string batch_id;
    std::string channel;
    std::string currency;
    int64_t window_start_ms = 0;
    int64_t window_end_ms = 0;
    int64_t record_count = 0;
    int64_t debit_total = 0;   // Σ sale + capture
    int64_t credit_total = 0;  // Σ refund
    int64_t net = 0;           // debit − credit
    std::string file;
    std::string sha256;
    int64_t closed_at_ms = 0;
};

}  // namespace turnout
