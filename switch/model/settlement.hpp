#pragma once
// Settlement messages: clearing records and batch summaries (docs/design.md, "Messages").
#include <cstdint>
#include <string>
#include <vector>

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
    int64_t fee = 0;  // the channel's fee for this record, minor units (≥ 0), fixed when assigned
};

// Netting of one merchant inside a batch. `net` is before fees (debit − credit), so the
// money invariant of docs/design.md, "Messages" holds on nets; fees are a separate total.
struct MerchantLine {
    std::string merchant_id;
    int64_t record_count = 0;
    int64_t debit = 0;
    int64_t credit = 0;
    int64_t fees = 0;
    int64_t net = 0;
    bool operator==(const MerchantLine&) const = default;
};

struct BatchSummary {
    std::string batch_id;
    std::string status = "closed";  // closed (files written) | settled (reconciled without breaks)
    std::string channel;
    std::string currency;
    int64_t window_start_ms = 0;
    int64_t window_end_ms = 0;
    int64_t record_count = 0;
    int64_t debit_total = 0;   // Σ sale + capture
    int64_t credit_total = 0;  // Σ refund
    int64_t net = 0;           // debit − credit
    int64_t fee_total = 0;     // Σ fees of the records
    std::vector<MerchantLine> merchants;  // by merchant_id, ascending
    std::string file;                     // the CSV clearing file
    std::string sha256;
    std::string fixed_width_file;         // the same batch in the fixed-width layout
    std::string fixed_width_sha256;
    int64_t closed_at_ms = 0;
    int64_t settled_at_ms = 0;  // status settled only
};

}  // namespace turnout
