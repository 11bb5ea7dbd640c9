#pragma once
// The DR site taking over from a lost primary (docs/disaster-recovery.md, "Failover"): run once,
// after replication has stopped and before any role starts at DR. It reads what DR holds of
// the primary's topics, gives every payment the primary left in flight its one result from
// the channels' answers (never executing it), restores the results the settlement log proves,
// and sets where each stage's consumer group resumes so that nothing replicated is done twice.
// The decisions are domain/dr_takeover's; this is the Kafka and channel side.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "connector.hpp"
#include "domain/dr_takeover.hpp"
#include "kafka/topic_reader.hpp"
#include "settlement/clearing_file.hpp"

namespace turnout {

class CardVault;

// What a channel's cancel() outcome says to the takeover: approved / declined as such;
// reversed with code original_not_found (an ISO 8583 25, a PSP's 404): the channel never had
// it; any other reversed: reversed; anything else (pending, failed, soft failure): unknown.
ChannelAnswer takeover_answer(const std::string& channel, const ChannelOutcome& o);

namespace dr {

struct TakeoverOptions {
    // Requests older than this (by record time, before now) are not looked at: the primary
    // answered them long before it was lost, or they are past any client's patience.
    int64_t window_ms = 3'600'000;
    // Decide and report only: no channel asked, nothing written, no offset moved.
    bool dry_run = false;
    size_t channel_batch = 256;  // payments per cancel() call
    // Where the primary's delivered clearing files can be read (finance's inbox, their off-site
    // copy); empty: none. A batch of the window closed at the primary whose close never reached
    // DR is known only from its file. `sign` checks the files' signatures.
    std::string clearing_from;
    ClearingSigner sign;
};

struct GroupMove {
    std::string group;
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
};

struct TakeoverReport {
    size_t requests = 0;         // payments.requests records read (in the window)
    size_t results = 0;          // payments.results records read
    size_t in_flight = 0;        // requests without a result, resolved by asking the channels
    size_t invalid = 0;          // of those, unreadable requests answered as the router would
    size_t held = 0;             // follow-ups left to the router (held in its replicated ledger)
    size_t pending = 0;          // payments left to their asynchronous channel (replicated pending store)
    size_t restored = 0;         // approved results restored from the replicated settlement log
    size_t ledger_entries = 0;   // router life-cycle entries written for payments it never recorded
    size_t batches_restored = 0;      // batch summaries announced again (closed at the primary, summary lost)
    size_t batches_unrestorable = 0;  // such batches whose records were not all in the log read
    size_t batches_from_files = 0;    // batches closed at the primary, adopted from its clearing files
    size_t clearing_files_unusable = 0;  // files failing their digest or signature, or malformed
    size_t batches_closed_without_file = 0;  // announced at DR, close not in its log, no file: closed
    size_t pending_removed = 0;  // pending entries of payments answered at DR (or restored), removed
    std::map<std::string, size_t> outcomes;  // results written for in-flight payments, by status
    size_t double_executions = 0;            // in-flight payments two channels had executed
    size_t channel_calls = 0;                // payments asked about, summed over channels
    std::vector<GroupMove> moves;            // where each stage's group resumes
    int64_t took_ms = 0;
    std::string json() const;
    std::string text() const;
};

// Throws std::runtime_error when it cannot read, write or move a group (nothing is half-done
// that a second run would not finish: results are written before any offset moves, and a
// payment with a result is no longer in flight).
TakeoverReport take_over(const Config& cfg, const CardVault* card_keys, const TakeoverOptions& o);

}  // namespace dr
}  // namespace turnout
