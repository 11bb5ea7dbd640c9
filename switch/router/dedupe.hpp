#pragma once
// payment_id dedupe with transactional semantics: ids seen since the last commit can be
// forgotten on abort (their records will be replayed). Bounded: the oldest committed ids
// are evicted first once `capacity` is reached.
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace turnout {

class PaymentIdDedupe {
public:
    explicit PaymentIdDedupe(size_t capacity) : capacity_(capacity) {}

    // True if `id` is new (and remembers it); false for a duplicate.
    bool first_time(std::string_view id);
    // Remembers an id known to be committed (replayed from the changelog).
    void remember(std::string_view id);
    void commit();
    void abort();
    size_t size() const { return seen_.size(); }

private:
    size_t capacity_;
    std::unordered_set<std::string> seen_;
    std::deque<std::string> order_;      // committed ids, oldest first
    std::vector<std::string> pending_;   // ids since the last commit
};

}  // namespace turnout
