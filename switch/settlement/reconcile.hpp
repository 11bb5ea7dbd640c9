#pragma once
// Reconciliation: a channel's settlement report (what the channel says it executed) against
// Turnout's clearing records (what Turnout put into its clearing files), matched by
// payment_id. Every difference is a break; a batch whose records all match is settled.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/channel_report.hpp"
#include "settlement/clearing_file.hpp"

namespace turnout {

enum class BreakKind {
    missing_at_channel,    // in a Turnout clearing file, not in the channel's report
    missing_in_turnout,    // in the channel's report, in no Turnout clearing file
    amount_mismatch,       // in both, but amount or currency differ
    duplicate_at_channel,  // the channel reports the payment_id more than once
    duplicate_in_turnout,  // Turnout cleared the payment_id more than once
};
const char* to_string(BreakKind k);
inline constexpr BreakKind kBreakKinds[] = {BreakKind::missing_at_channel, BreakKind::missing_in_turnout,
                                            BreakKind::amount_mismatch, BreakKind::duplicate_at_channel,
                                            BreakKind::duplicate_in_turnout};

struct ReconBreak {
    BreakKind kind;
    std::string payment_id;
    std::string batch_id;  // Turnout's batch, empty for missing_in_turnout
    std::optional<int64_t> turnout_amount, channel_amount;
    std::string turnout_currency, channel_currency;
    bool operator==(const ReconBreak&) const = default;
};

struct BatchReconciliation {
    std::string batch_id;
    std::string currency;
    int64_t records = 0, matched = 0, breaks = 0;
    int64_t net = 0;
    bool settled() const { return breaks == 0 && matched == records; }
};

struct ReconResult {
    std::string channel;
    int64_t turnout_records = 0, channel_records = 0, matched = 0;
    std::vector<ReconBreak> breaks;  // by kind, then payment_id
    std::vector<BatchReconciliation> batches;
    int64_t count(BreakKind k) const;
};

// Pure matching. `files` are Turnout's clearing files of `channel` (others are ignored).
ReconResult reconcile(const std::string& channel, const std::vector<ClearingFile>& files,
                      const std::vector<ChannelReportLine>& report);

// The report file (JSON) and the metrics (Prometheus text format).
std::string reconciliation_json(const ReconResult& r, int64_t generated_at_ms);
std::string reconciliation_metrics(const ReconResult& r);
// What `turnout reconcile` prints.
std::string reconciliation_text(const ReconResult& r);

// Reads every `*.csv` clearing file of `dir` whose header names `channel`, after checking
// its `.sha256` and `.sig`; throws std::runtime_error naming a file that fails.
std::vector<ClearingFile> load_clearing_files(const std::string& dir, const std::string& channel,
                                              const ClearingSigner& sign);

}  // namespace turnout
