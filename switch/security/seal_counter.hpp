#pragma once
// Seals per PAN key, counted against the AES-GCM limit (docs/security.md "Seal counts").
// With random 96-bit nonces a key may seal at most 2^32 values (NIST SP 800-38D 8.3); past
// that a nonce collision, which leaks the authentication key, is no longer negligible.
//
// Each sealing process keeps its count per key in `<dir>/<name>.seals` ("<key_id> <count>"
// lines). The file is rewritten (fsynced) before a block of kBlock seals is used, so a crash
// over-counts by less than a block and never under-counts. `turnout keys list` sums every
// file of the directory; the gauge turnout_key_seals{key_id} exports the same reserved count
// per process, and the Prometheus rule TurnoutKeySealLimit sums it over processes.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace turnout {

class SealCounter {
public:
    static constexpr int64_t kBlock = 10'000;
    // Reads the counts a previous run of `name` left in `dir` (created if missing). Throws
    // std::runtime_error when the directory or file cannot be written or read.
    SealCounter(std::string dir, std::string name, int64_t limit, int64_t warn_percent);
    // One more seal under `key_id` (thread-safe). Logs a warning once when this process's
    // reserved count passes warn_percent of the limit and an error at the limit; sealing
    // goes on (stopping payments is the operator's decision: rotate the key).
    void count(const std::string& key_id);
    int64_t used(const std::string& key_id) const;      // seals made (this process, all runs)
    int64_t reserved(const std::string& key_id) const;  // as recorded in the file

    // Every `*.seals` file of `dir`, summed per key id. Lines that do not parse are skipped.
    static std::map<std::string, int64_t> totals(const std::string& dir);

private:
    struct Entry {
        int64_t used = 0;
        int64_t reserved = 0;
        bool warned = false, limit_logged = false;
    };
    void persist_locked();

    std::string dir_, path_;
    int64_t limit_, warn_at_;
    mutable std::mutex mu_;
    std::map<std::string, Entry> keys_;
};

}  // namespace turnout
