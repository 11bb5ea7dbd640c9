#include "gateway/idempotency.hpp"

namespace turnout::gateway {

Admit IdempotencyBook::admit(const PostAccepted& post, int64_t now_ms, Waiter waiter) {
    const auto& id = post.request.payment_id;
    const Cached* c = nullptr;
    if (auto it = results_.find(id); it != results_.end() && now_ms - it->second.at_ms <= limits_.result_ttl_ms)
        c = &it->second;
    auto k = keys_.find(id);
    if (k != keys_.end()) {
        if (k->second.body_sha256 != post.body_sha256) return {Admission::conflict, {}, 0};
        if (c) return {Admission::answered, c->json, 0};
        const uint64_t w = next_waiter_++;
        k->second.waiters.emplace_back(w, std::move(waiter));
        return {Admission::join, {}, w, k->second.done};
    }
    if (c) {
        // Decided before this gateway saw the key (another gateway, or before a restart).
        if (compare_stored(post.request, c->result) == Sameness::different) return {Admission::conflict, {}, 0};
        keys_[id] = Key{post.body_sha256, {}, true, true};
        key_order_.push_back(id);
        trim_keys();
        return {Admission::answered, c->json, 0};
    }
    const uint64_t w = next_waiter_++;
    Key key{post.body_sha256, {}, false};
    key.waiters.emplace_back(w, std::move(waiter));
    keys_.emplace(id, std::move(key));
    key_order_.push_back(id);
    trim_keys();
    return {Admission::publish, {}, w};
}

std::vector<Waiter> IdempotencyBook::on_result(const PaymentResult& r, std::string json, int64_t now_ms) {
    std::vector<Waiter> out;
    auto [it, fresh] = results_.insert_or_assign(r.payment_id, Cached{r, std::move(json), now_ms});
    (void)fresh;
    result_order_.emplace_back(r.payment_id, now_ms);
    trim_results(now_ms);
    if (auto k = keys_.find(r.payment_id); k != keys_.end()) {
        k->second.done = true;
        k->second.delivered = true;
        for (auto& [id, w] : k->second.waiters) out.push_back(std::move(w));
        k->second.waiters.clear();
    }
    return out;
}

std::vector<Waiter> IdempotencyBook::on_duplicate(const std::string& payment_id) {
    std::vector<Waiter> out;
    if (auto k = keys_.find(payment_id); k != keys_.end())
        for (auto& [id, w] : k->second.waiters) out.push_back(w);
    return out;
}

std::vector<Waiter> IdempotencyBook::on_publish_failed(const std::string& payment_id) {
    std::vector<Waiter> out;
    if (auto k = keys_.find(payment_id); k != keys_.end()) {
        for (auto& [id, w] : k->second.waiters) out.push_back(std::move(w));
        keys_.erase(k);
    }
    return out;
}

void IdempotencyBook::on_delivered(const std::string& payment_id) {
    if (auto k = keys_.find(payment_id); k != keys_.end()) k->second.delivered = true;
}

bool IdempotencyBook::delivered(const std::string& payment_id) const {
    auto k = keys_.find(payment_id);
    return k != keys_.end() && (k->second.delivered || k->second.done);
}

void IdempotencyBook::leave(const std::string& payment_id, uint64_t waiter) {
    if (auto k = keys_.find(payment_id); k != keys_.end())
        std::erase_if(k->second.waiters, [&](const auto& p) { return p.first == waiter; });
}

void IdempotencyBook::forget(const std::string& payment_id) {
    if (auto k = keys_.find(payment_id); k != keys_.end() && k->second.waiters.empty()) keys_.erase(k);
}

const std::string* IdempotencyBook::cached(const std::string& payment_id, int64_t now_ms) const {
    auto it = results_.find(payment_id);
    if (it == results_.end() || now_ms - it->second.at_ms > limits_.result_ttl_ms) return nullptr;
    return &it->second.json;
}

size_t IdempotencyBook::waiting() const {
    size_t n = 0;
    for (const auto& [id, k] : keys_) n += k.waiters.size();
    return n;
}

void IdempotencyBook::trim_keys() {
    // Oldest first; a key with callers waiting on it stays (they are bounded by the
    // connection limit), it is looked at again on a later trim.
    size_t guard = key_order_.size();
    while (keys_.size() > limits_.max_keys && !key_order_.empty() && guard-- > 0) {
        auto id = std::move(key_order_.front());
        key_order_.pop_front();
        auto k = keys_.find(id);
        if (k == keys_.end()) continue;
        if (!k->second.waiters.empty()) {
            key_order_.push_back(std::move(id));
            continue;
        }
        keys_.erase(k);
    }
    // Ids forgotten or re-added leave stale entries behind; keep the queue bounded too.
    if (key_order_.size() > 2 * limits_.max_keys + 16) {
        std::deque<std::string> kept;
        for (auto& id : key_order_)
            if (keys_.count(id)) kept.push_back(std::move(id));
        key_order_ = std::move(kept);
    }
}

void IdempotencyBook::trim_results(int64_t now_ms) {
    while (!result_order_.empty()) {
        const auto& [id, at] = result_order_.front();
        const bool expired = now_ms - at > limits_.result_ttl_ms;
        if (!expired && results_.size() <= limits_.max_results && result_order_.size() <= 2 * limits_.max_results + 16)
            break;
        // Only the newest entry of an id removes it (it may have been replaced since).
        if (auto it = results_.find(id); it != results_.end() && it->second.at_ms == at) results_.erase(it);
        result_order_.pop_front();
    }
}

}  // namespace turnout::gateway
