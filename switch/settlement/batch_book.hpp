#pragma once
// Assigning clearing records to batches by (channel, currency, cut-off window) and closing
// batches once window end + grace has passed. Pure logic: no Kafka, no files. Changes since
// the last checkpoint can be rolled back, matching the stage's transaction.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "model/payment.hpp"
#include "model/settlement.hpp"
#include "settlement/cutoff.hpp"

namespace turnout {

// Approved sale/capture (+) and refund (−) become clearing records; nothing else does (nor a
// result the DR takeover restored from a clearing record: it is in a batch already).
std::optional<ClearingRecord> clearing_record_for(const PaymentResult& r);

struct Batch {
    BatchSummary summary;  // file, sha256 and closed_at are set when the batch is written
    std::vector<ClearingRecord> records;
};

class BatchBook {
public:
    BatchBook(CutoffPlan cutoffs, int64_t grace_ms, std::string id_suffix);
    // Every channel on intervals of window_ms.
    BatchBook(int64_t window_ms, int64_t grace_ms, std::string id_suffix);

    CutoffWindow window_of(const std::string& channel, int64_t event_ms) const {
        return cutoffs_.window(channel, event_ms);
    }
    // Adds a record to the batch of its event-time window. A record arriving after its
    // window's cut-off + grace (or whose batch has closed) goes to the window of `now_ms`,
    // i.e. the next window still open (late results roll into the next batch).
    const Batch& add(const ClearingRecord& rec, int64_t now_ms);
    // Closes and returns every batch whose window end + grace is at or before now_ms, with its
    // fee total and per-merchant lines filled in. A batch with records added since the last
    // checkpoint waits for the next call, so a closed batch holds only committed records and
    // is identical when rebuilt after a crash.
    std::vector<Batch> close_due(int64_t now_ms);

    // Rebuilding from the changelog (committed history): an add into its recorded window,
    // and the close of a batch.
    void replay_add(const ClearingRecord& rec, int64_t window_start_ms);
    void replay_close(const std::string& channel, const std::string& currency, int64_t window_start_ms);

    void checkpoint();
    void rollback();
    size_t open_batches() const { return open_.size(); }
    // Open batches whose window end + grace has passed (closing is overdue).
    size_t overdue_batches(int64_t now_ms) const;

private:
    using Key = std::tuple<std::string, std::string, int64_t>;  // channel, currency, window start
    Batch& batch_for(const ClearingRecord& rec, CutoffWindow w);
    Batch& place(const ClearingRecord& rec, CutoffWindow w);

    CutoffPlan cutoffs_;
    int64_t grace_ms_;
    std::string id_suffix_;
    std::map<Key, Batch> open_;
    std::map<Key, int64_t> closed_windows_;  // batches already closed, to route late records
    // Since the last checkpoint: records added (in order) and batches closed.
    std::vector<Key> added_;
    std::vector<std::pair<Key, Batch>> closed_since_;
};

// Fills fee_total and the per-merchant netting lines (ascending merchant_id) from the
// batch's records; throws std::overflow_error if a total does not fit int64.
void net_by_merchant(Batch& b);

}  // namespace turnout
