#pragma once
// The in-doubt journal of an `iso8583` channel: which requests may have reached the host
// without their outcome being recorded (docs/connectors.md, "Crash safety").
//
// Before a request leaves, its identification (payment_id, MTI, STAN, transmission time,
// terminal, acquirer) is appended and synced to a local file; once the stage's transaction
// holding the payment's outcome has committed, a removal line is appended. A connector
// started after a crash finds the entries that were never removed; when such a payment is
// delivered to it again (its outcome did not commit, so its input record comes back), it
// reverses the request named by the entry instead of sending a new one.
//
// Files: <dir>/<channel>.<n>.journal, owned by one process at a time through a lock on
// <dir>/<channel>.<n>.lock; a process adopts the journals of dead processes at start.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace turnout::iso8583 {

struct JournalEntry {
    std::string payment_id, mti, stan, transmission, terminal, acquirer;
    int64_t at_ms = 0;
};

// One journal line; nullopt-like empty payment_id when the line is not an entry. Pure.
std::string format_journal_entry(const JournalEntry& e);
bool parse_journal_line(const std::string& line, JournalEntry* entry, std::string* removed_id);

class Journal {
public:
    // Opens (creating `dir`) the journal of `channel` and reads back what it and the
    // journals of dead processes hold. nullptr + error when the directory or files cannot
    // be used. Entries older than `keep_ms` are dropped (their payment is long final).
    static std::unique_ptr<Journal> open(const std::string& dir, const std::string& channel, int64_t now_ms,
                                         int64_t keep_ms, std::string* error);
    ~Journal();
    Journal(const Journal&) = delete;
    Journal& operator=(const Journal&) = delete;

    // Entries found at open, until forgotten: requests whose outcome may not have been
    // recorded. Read on the thread that calls forget().
    const std::unordered_map<std::string, JournalEntry>& recovered() const { return recovered_; }
    // Appends and syncs; false (and nothing may be sent) when the file cannot be written.
    bool record(const std::vector<JournalEntry>& entries, std::string* error);
    // Appends removal lines (not synced: a lost removal leaves an entry whose payment is
    // final and never delivered again).
    void forget(const std::vector<std::string>& payment_ids);
    size_t live() const;
    const std::string& path() const { return path_; }

private:
    Journal() = default;
    bool rewrite(std::string* error);  // the live entries into a fresh file, atomically
    void recovered_erase(const std::vector<std::string>& payment_ids);
    mutable std::mutex mu_;
    std::string dir_, path_;
    int fd_ = -1, lock_fd_ = -1;
    std::vector<int> adopted_locks_;
    std::unordered_map<std::string, std::string> live_;  // payment_id → its S line
    std::unordered_map<std::string, JournalEntry> recovered_;
    size_t lines_since_rewrite_ = 0;
};

}  // namespace turnout::iso8583
