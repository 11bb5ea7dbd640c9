#include "risk/velocity.hpp"

#include <algorithm>
#include <charconv>

namespace turnout {

std::string encode_velocity_entry(const VelocityEntry& e) {
    std::string v;
    v.reserve(48 + e.merchant_id.size());
    v += std::to_string(e.at_ms);
    v += '|';
    v += std::to_string(e.amount);
    v += '|';
    v += e.currency;
    v += '|';
    v += e.fingerprint;
    v += '|';
    v += e.merchant_id;
    return v;
}

bool decode_velocity_entry(std::string_view value, VelocityEntry& out) {
    auto next = [&](std::string_view& field) {
        const auto bar = value.find('|');
        field = value.substr(0, bar);
        value = bar == std::string_view::npos ? std::string_view{} : value.substr(bar + 1);
        return bar != std::string_view::npos;
    };
    std::string_view at, amount, currency, fingerprint;
    if (!next(at) || !next(amount) || !next(currency) || !next(fingerprint)) return false;
    if (std::from_chars(at.data(), at.data() + at.size(), out.at_ms).ec != std::errc{}) return false;
    if (std::from_chars(amount.data(), amount.data() + amount.size(), out.amount).ec != std::errc{}) return false;
    if (currency.size() != 3) return false;
    out.currency = currency;
    out.merchant_id = value;
    out.fingerprint = fingerprint;
    return true;
}

const std::vector<VelocityBook::Event>* VelocityBook::find(const Index& idx, std::string_view key) {
    auto it = idx.find(key);
    return it == idx.end() ? nullptr : &it->second;
}

int64_t VelocityBook::count(bool per_merchant, std::string_view key, int64_t since_ms) const {
    const auto* q = find(per_merchant ? merchant_ : instrument_, key);
    if (!q) return 0;
    int64_t n = 0;
    for (auto it = q->rbegin(); it != q->rend() && it->at_ms >= since_ms; ++it) ++n;
    return n;
}

int64_t VelocityBook::sum(bool per_merchant, std::string_view key, std::string_view currency, int64_t since_ms) const {
    const auto* q = find(per_merchant ? merchant_ : instrument_, key);
    if (!q) return 0;
    int64_t total = 0;
    for (auto it = q->rbegin(); it != q->rend() && it->at_ms >= since_ms; ++it)
        if (std::string_view(it->currency.data(), 3) == currency) total += it->amount;
    return total;
}

void VelocityBook::add(const VelocityEntry& e) {
    Event ev{e.at_ms, e.amount, {' ', ' ', ' '}};
    for (size_t i = 0; i < 3 && i < e.currency.size(); ++i) ev.currency[i] = e.currency[i];
    auto put = [&](Index& idx, bool per_merchant, const std::string& key) {
        if (key.empty()) return;
        auto it = idx.find(std::string_view(key));
        if (it == idx.end()) it = idx.emplace(key, std::vector<Event>{}).first;
        // Kept in time order; a late entry (clock step) goes where it belongs.
        auto& q = it->second;
        if (q.empty() || q.back().at_ms <= ev.at_ms) q.push_back(ev);
        else q.insert(std::upper_bound(q.begin(), q.end(), ev.at_ms, [](int64_t t, const Event& x) { return t < x.at_ms; }), ev);
        pending_.emplace_back(per_merchant, &*it);
    };
    put(instrument_, false, e.fingerprint);
    put(merchant_, true, e.merchant_id);
}

void VelocityBook::abort() {
    // Uncommitted events are the newest of their key: undo them newest first.
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
        auto& idx = it->first ? merchant_ : instrument_;
        auto& q = it->second->second;
        if (!q.empty()) q.pop_back();
        // Newest first: a key empties only at its oldest uncommitted event, the last use of its node.
        if (q.empty()) idx.erase(idx.find(std::string_view(it->second->first)));
    }
    pending_.clear();
}

void VelocityBook::expire(int64_t before_ms) {
    if (!pending_.empty()) return;
    for (auto* idx : {&instrument_, &merchant_})
        for (auto it = idx->begin(); it != idx->end();) {
            auto& q = it->second;
            q.erase(q.begin(), std::find_if(q.begin(), q.end(), [&](const Event& e) { return e.at_ms >= before_ms; }));
            it = q.empty() ? idx->erase(it) : std::next(it);
        }
}

}  // namespace turnout
