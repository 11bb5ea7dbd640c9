#include "domain/life_cycle_ledger.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "codec/json_read.hpp"
#include "codec/json_writer.hpp"
#include "model/time.hpp"

namespace turnout {

bool LifeCycleLedger::must_hold(const PaymentRequest& f) const {
    const auto* found = lookup(f.root_id());
    if (!found || !found->lc) return false;
    const auto& e = *found;
    if (f.merchant.id != e.lc->merchant_id || e.held.size() >= kMaxFollowUpsPerPayment) return false;
    return !e.lc->original_status || !e.lc->in_flight.empty() || !e.held.empty();
}

void LifeCycleLedger::hold(HeldFollowUp h) {
    const std::string root = h.root_id;
    held_changes_.emplace_back(held_key(root, h.payment_id), encode_held(h));
    touch(root).held.push_back(std::move(h));
    holding_.insert(root);
}

FollowUpDecision LifeCycleLedger::check(const PaymentRequest& f) const {
    const auto* e = lookup(f.root_id());
    if (e && e->lc && f.merchant.id == e->lc->merchant_id && e->held.size() >= kMaxFollowUpsPerPayment)
        return {FollowUpVerdict::reject,
                {std::string(life_cycle_code::too_many_follow_ups),
                 "a payment holds at most " + std::to_string(kMaxFollowUpsPerPayment) + " follow-ups waiting"}};
    return check_follow_up(!e || !e->lc ? nullptr : &*e->lc, f);
}

bool LifeCycleLedger::answered(const PaymentRequest& r) const {
    const auto* e = lookup(r.root_id());
    if (!e || !e->lc) return false;
    const auto& lc = *e->lc;
    if (!is_follow_up(r.type)) return r.payment_id == lc.root_id;
    const auto same = [&](const auto& id) { return id == r.payment_id; };
    return std::any_of(lc.answered_follow_ups.begin(), lc.answered_follow_ups.end(), same) ||
           std::any_of(lc.in_flight.begin(), lc.in_flight.end(), [&](const auto& f) { return same(f.payment_id); });
}

void LifeCycleLedger::refused(const PaymentRequest& f) {
    const auto* e = lookup(f.root_id());
    // Another merchant's follow-up changes nothing of this payment (nor its record's size).
    if (!e || !e->lc || f.merchant.id != e->lc->merchant_id) return;
    if (e->lc->answered_follow_ups.size() >= kMaxFollowUpsPerPayment) return;
    touch(f.root_id()).lc->answered_follow_ups.push_back(f.payment_id);
}

void LifeCycleLedger::admit(const PaymentRequest& r, int64_t now_ms) {
    auto& e = touch(r.root_id());
    if (!is_follow_up(r.type)) {
        if (!e.lc) e.lc = open_life_cycle(r, now_ms);
        return;
    }
    if (e.lc) reserve(*e.lc, r);
}

bool LifeCycleLedger::apply(const PaymentResult& r) {
    const std::string& root = r.root_id.empty() ? r.payment_id : r.root_id;
    const auto* e = lookup(root);
    if (!e || !e->lc) return false;
    // What apply_result(…, false) would act on; anything else changes (and logs) nothing.
    const auto& lc = *e->lc;
    // Every request this ledger admitted passed validation, the duplicate check and the rules, and only the
    // router rejects: a `rejected` result for a payment_id admitted here answered another copy
    // of it (a duplicate, another key, an invalid resend) and must not end the admitted one.
    if (r.status == ResultStatus::rejected) return false;
    const bool acts = r.payment_id == root
                          ? !lc.original_status
                          : std::any_of(lc.in_flight.begin(), lc.in_flight.end(),
                                        [&](const auto& f) { return f.payment_id == r.payment_id; });
    if (!acts) return false;
    return apply_result(*touch(root).lc, r, false);
}

std::optional<HeldFollowUp> LifeCycleLedger::release_next(const std::string& root) {
    const auto* found = lookup(root);
    if (!found || !found->lc || found->held.empty()) return std::nullopt;
    const auto& lc = *found->lc;
    if (!lc.original_status || !lc.in_flight.empty()) return std::nullopt;
    auto& e = touch(root);
    HeldFollowUp h = std::move(e.held.front());
    e.held.erase(e.held.begin());
    held_changes_.emplace_back(held_key(root, h.payment_id), std::string());
    return h;
}

std::vector<HeldFollowUp> LifeCycleLedger::expire(int64_t now_ms, int64_t wait_ms) {
    std::vector<std::string> roots;
    for (auto it = holding_.begin(); it != holding_.end();) {
        auto e = entries_.find(*it);
        if (e == entries_.end() || e->second.held.empty()) {
            it = holding_.erase(it);
            continue;
        }
        if (now_ms - e->second.held.front().held_at_ms >= wait_ms) roots.push_back(*it);
        ++it;
    }
    std::vector<HeldFollowUp> out;
    for (const auto& root : roots) {
        auto& e = touch(root);
        for (auto& h : e.held) {
            held_changes_.emplace_back(held_key(root, h.payment_id), std::string());
            out.push_back(std::move(h));
        }
        e.held.clear();
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.held_at_ms < b.held_at_ms; });
    return out;
}

LifeCycleLedger::Entry* LifeCycleLedger::lookup(const std::string& root) const {
    if (auto it = entries_.find(root); it != entries_.end()) return &it->second;
    if (!loader_) return nullptr;
    auto v = loader_(root);
    if (!v) return nullptr;
    std::vector<std::string> ids;  // a root with held follow-ups is always in memory
    auto e = decode_entry(*v, ids);
    if (!e) return nullptr;
    return &entries_.emplace(root, std::move(*e)).first->second;
}

void LifeCycleLedger::evict() {
    if (!loader_) return;
    for (auto it = entries_.begin(); it != entries_.end();)
        it = it->second.held.empty() ? entries_.erase(it) : std::next(it);
}

LifeCycleLedger::Entry& LifeCycleLedger::touch(const std::string& root) {
    lookup(root);
    auto it = entries_.find(root);
    if (!undo_.count(root)) undo_.emplace(root, it == entries_.end() ? std::nullopt : std::optional<Entry>(it->second));
    changed_.insert(root);
    if (it == entries_.end()) it = entries_.emplace(root, Entry{}).first;
    return it->second;
}

std::string LifeCycleLedger::encode_entry(const PaymentLifeCycle& lc, const std::vector<HeldFollowUp>& held) {
    std::string s = encode_life_cycle(lc, true);
    s.pop_back();  // the closing brace: the held follow-ups' ids go inside the same object
    JsonWriter w(128);
    w.begin_array();
    for (const auto& h : held) w.value(h.payment_id);
    w.end_array();
    s += ",\"held\":";
    s += w.take();
    s += '}';
    return s;
}

std::string LifeCycleLedger::encode_held(const HeldFollowUp& h) {
    JsonWriter w(h.request.size() + 256);
    return w.begin_object()
        .field("root_id", h.root_id)
        .field("payment_id", h.payment_id)
        .field("request", h.request)
        .optional_field("traceparent", h.traceparent)
        .field("held_at", format_rfc3339(h.held_at_ms))
        .end_object()
        .take();
}

std::vector<std::pair<std::string, std::string>> LifeCycleLedger::take_changes() {
    std::vector<std::pair<std::string, std::string>> out = std::move(held_changes_);
    held_changes_.clear();
    for (const auto& root : changed_) {
        auto it = entries_.find(root);
        if (it != entries_.end() && it->second.lc) out.emplace_back(root, encode_entry(*it->second.lc, it->second.held));
    }
    changed_.clear();
    return out;
}

namespace {
HeldFollowUp held_from(const boost::json::object& o, const std::string& root) {
    return {root, json_read::str(o, "payment_id"), json_read::str(o, "request"), json_read::str(o, "traceparent"),
            parse_rfc3339(json_read::str(o, "held_at")).value_or(0)};
}
}  // namespace

void LifeCycleLedger::replay(std::string_view key, std::string_view value) {
    if (key.find('/') != std::string_view::npos) {  // a held follow-up's request, or its tombstone
        if (value.empty()) {
            replayed_held_.erase(std::string(key));
            return;
        }
        boost::json::error_code ec;
        auto doc = boost::json::parse(value, ec);
        if (ec || !doc.is_object()) return;
        const auto& o = doc.get_object();
        replayed_held_.insert_or_assign(std::string(key), held_from(o, json_read::str(o, "root_id")));
        return;
    }
    std::vector<std::string> ids;
    auto e = decode_entry(value, ids);
    if (!e) return;
    const std::string root = e->lc->root_id;
    replayed_held_ids_.insert_or_assign(root, std::move(ids));
    entries_.insert_or_assign(root, std::move(*e));
}

std::optional<LifeCycleLedger::Entry> LifeCycleLedger::decode_entry(std::string_view value,
                                                                    std::vector<std::string>& ids) {
    auto lc = decode_life_cycle(value);
    if (!lc) return std::nullopt;
    Entry e;
    boost::json::error_code ec;
    auto doc = boost::json::parse(value, ec);
    if (!ec && doc.is_object())
        if (auto* h = doc.get_object().if_contains("held"); h && h->is_array())
            for (const auto& v : h->get_array()) {
                if (const auto* o = v.if_object())  // written inline by earlier versions
                    e.held.push_back(held_from(*o, lc->root_id));
                else if (v.is_string())
                    ids.emplace_back(v.get_string());
            }
    e.lc = std::move(*lc);
    return e;
}

void LifeCycleLedger::finish_replay() {
    for (auto& [root, ids] : replayed_held_ids_) {
        auto it = entries_.find(root);
        if (it == entries_.end()) continue;
        for (const auto& id : ids)
            if (auto h = replayed_held_.find(held_key(root, id)); h != replayed_held_.end())
                it->second.held.push_back(std::move(h->second));
        if (!it->second.held.empty()) holding_.insert(root);
    }
    replayed_held_.clear();
    replayed_held_ids_.clear();
}

void LifeCycleLedger::commit() {
    undo_.clear();
    evict();
}

void LifeCycleLedger::abort() {
    for (auto& [root, before] : undo_) {
        holding_.insert(root);
        if (before)
            entries_.insert_or_assign(root, std::move(*before));
        else
            entries_.erase(root);
    }
    undo_.clear();
    changed_.clear();
    held_changes_.clear();
    evict();
}

const PaymentLifeCycle* LifeCycleLedger::find(const std::string& root_id) const {
    const auto* e = lookup(root_id);
    return !e || !e->lc ? nullptr : &*e->lc;
}

size_t LifeCycleLedger::held() const {
    size_t n = 0;
    for (const auto& root : holding_)
        if (auto e = entries_.find(root); e != entries_.end()) n += e->second.held.size();
    return n;
}

}  // namespace turnout
