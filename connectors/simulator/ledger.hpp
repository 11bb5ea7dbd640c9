#pragma once
// The simulated channel's own record of what it executed, shared by every connector process
// of the channel through one append-only file: a payment_id it has executed is answered
// from the ledger, never executed again (the channel-side half of idempotent retries).
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "connector.hpp"
#include "codec/channel_report.hpp"

namespace turnout {

// Ledger line: `<payment_id> <approved|declined> <code> <channel_ref> <approval_code> <type>
// <amount_minor> <currency>` ("-" for an empty field); lines written before the last three
// fields existed are still read (they answer retries but carry no amount).
class ChannelLedger {
public:
    explicit ChannelLedger(std::string path);
    ~ChannelLedger();
    ChannelLedger(const ChannelLedger&) = delete;
    ChannelLedger& operator=(const ChannelLedger&) = delete;

    // Under an exclusive lock on the file: answers known payments from the ledger and
    // executes (decides + appends) the others. Soft failures are not executions and are
    // not recorded. `replayed` counts answers taken from the ledger.
    std::vector<ChannelOutcome> execute(std::span<const RoutedPayment> batch,
                                        const std::function<ChannelOutcome(const RoutedPayment&)>& decide,
                                        size_t& replayed);

private:
    void catch_up();  // reads lines appended (by any process) since the last read

    std::string path_;
    int fd_ = -1;
    long read_pos_ = 0;
    std::string partial_;
    std::unordered_map<std::string, ChannelOutcome> known_;
};

// The channel's settlement report: every approved sale, capture (+amount) and refund
// (−amount) in the ledger, in execution order. `without_amount` counts approved lines too old
// to carry an amount (left out).
std::vector<ChannelReportLine> channel_report_from_ledger(const std::string& path, size_t& without_amount);

}  // namespace turnout
