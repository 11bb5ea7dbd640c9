#pragma once
// Velocity state of one payments.routed partition: the payments risk let through, per
// instrument fingerprint and per merchant id, kept for the longest velocity window.
// Changes since the last commit can be undone (the stage's transaction aborted).
// Each forwarded payment is one entry of the risk stage's velocity store (same partition,
// same transaction), from which the book is rebuilt when the partition is assigned.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace turnout {

struct VelocityEntry {
    int64_t at_ms = 0;
    int64_t amount = 0;
    std::string currency;
    std::string merchant_id;
    std::string fingerprint;
};

// Changelog value: "at_ms|amount|currency|fingerprint|merchant_id" (fingerprint may be
// empty; key: the payment_id).
std::string encode_velocity_entry(const VelocityEntry& e);
bool decode_velocity_entry(std::string_view value, VelocityEntry& out);

class VelocityBook {
public:
    // Counts over keys "per merchant" or "per instrument" since `since_ms` (inclusive).
    int64_t count(bool per_merchant, std::string_view key, int64_t since_ms) const;
    int64_t sum(bool per_merchant, std::string_view key, std::string_view currency, int64_t since_ms) const;

    void add(const VelocityEntry& e);  // pending until commit()
    void commit() { pending_.clear(); }
    void abort();
    // Forget entries older than `before_ms` (committed state only).
    void expire(int64_t before_ms);
    size_t keys() const { return instrument_.size() + merchant_.size(); }

private:
    struct Event {
        int64_t at_ms;
        int64_t amount;
        std::array<char, 3> currency;
    };
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    // Oldest first; most keys hold a handful of events, so a vector beats a deque (whose
    // empty state alone allocates a map and a block).
    using Index = std::unordered_map<std::string, std::vector<Event>, Hash, std::equal_to<>>;
    static const std::vector<Event>* find(const Index& idx, std::string_view key);
    Index instrument_, merchant_;
    // The key node (stable in an unordered_map) of each uncommitted event.
    std::vector<std::pair<bool, Index::value_type*>> pending_;
};

}  // namespace turnout
