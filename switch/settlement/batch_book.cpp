#include "settlement/batch_book.hpp"

#include <set>
#include <stdexcept>

#include "domain/dr_takeover.hpp"
#include "model/time.hpp"

namespace turnout {

std::optional<ClearingRecord> clearing_record_for(const PaymentResult& r) {
    // A result reaches here validated (decode_result_checked); a non-positive amount never
    // makes a record, whatever its sign would give.
    if (r.status != ResultStatus::approved || !r.type || !r.amount || r.amount->value <= 0) return std::nullopt;
    // A result the DR takeover restored from a clearing record is in a batch already.
    if (is_restored_result(r)) return std::nullopt;
    int64_t sign = 0;
    switch (*r.type) {
        case PaymentType::sale:
        case PaymentType::capture: sign = 1; break;
        case PaymentType::refund: sign = -1; break;
        default: return std::nullopt;  // authorize and void move no money
    }
    return ClearingRecord{r.payment_id, *r.type,          r.channel,       r.merchant_id,
                          r.amount->currency, sign * r.amount->value, r.channel_ref, r.times.completed_at};
}

BatchBook::BatchBook(CutoffPlan cutoffs, int64_t grace_ms, std::string id_suffix)
    : cutoffs_(std::move(cutoffs)), grace_ms_(grace_ms), id_suffix_(std::move(id_suffix)) {}

BatchBook::BatchBook(int64_t window_ms, int64_t grace_ms, std::string id_suffix)
    : BatchBook(CutoffPlan({window_ms, 0}), grace_ms, std::move(id_suffix)) {}

Batch& BatchBook::batch_for(const ClearingRecord& rec, CutoffWindow w) {
    Key key{rec.channel, rec.currency, w.start_ms};
    auto [it, fresh] = open_.try_emplace(key);
    if (fresh) {
        auto& s = it->second.summary;
        s.channel = rec.channel;
        s.currency = rec.currency;
        s.window_start_ms = w.start_ms;
        s.window_end_ms = w.end_ms;
        s.batch_id = rec.channel + "." + rec.currency + "." + format_compact_utc(w.start_ms) +
                     (id_suffix_.empty() ? "" : "." + id_suffix_);
    }
    added_.push_back(key);
    return it->second;
}

const Batch& BatchBook::add(const ClearingRecord& rec, int64_t now_ms) {
    CutoffWindow w = window_of(rec.channel, rec.event_time_ms);
    if (w.end_ms + grace_ms_ <= now_ms || closed_windows_.count({rec.channel, rec.currency, w.start_ms}))
        w = window_of(rec.channel, now_ms);
    // A late record whose "now" window is closed already (possible only with a clock far
    // behind) moves on to the first open window.
    while (closed_windows_.count({rec.channel, rec.currency, w.start_ms})) w = window_of(rec.channel, w.end_ms);
    return place(rec, w);
}

Batch& BatchBook::place(const ClearingRecord& rec, CutoffWindow w) {
    Batch& b = batch_for(rec, w);
    auto& s = b.summary;
    int64_t sum = 0;
    if (!checked_add(rec.amount > 0 ? s.debit_total : s.credit_total, rec.amount > 0 ? rec.amount : -rec.amount, sum))
        throw std::overflow_error("settlement batch total overflows int64");
    (rec.amount > 0 ? s.debit_total : s.credit_total) = sum;
    s.net = s.debit_total - s.credit_total;
    ++s.record_count;
    b.records.push_back(rec);
    return b;
}

void BatchBook::replay_add(const ClearingRecord& rec, int64_t window_start_ms) {
    // The window recorded in the changelog wins; its end follows the channel's cut-off rule.
    place(rec, {window_start_ms, window_of(rec.channel, window_start_ms).end_ms});
    added_.pop_back();  // committed history: nothing to roll back
}

void BatchBook::replay_close(const std::string& channel, const std::string& currency, int64_t window_start_ms) {
    Key k{channel, currency, window_start_ms};
    open_.erase(k);
    closed_windows_[k] = window_of(channel, window_start_ms).end_ms;
}

void net_by_merchant(Batch& b) {
    std::map<std::string, MerchantLine> lines;
    int64_t fees = 0;
    auto add = [](int64_t& into, int64_t v) {
        if (!checked_add(into, v, into)) throw std::overflow_error("settlement total overflows int64");
    };
    for (const auto& r : b.records) {
        auto& l = lines[r.merchant_id];
        l.merchant_id = r.merchant_id;
        ++l.record_count;
        add(r.amount > 0 ? l.debit : l.credit, r.amount > 0 ? r.amount : -r.amount);
        add(l.fees, r.fee);
        add(fees, r.fee);
    }
    b.summary.merchants.clear();
    for (auto& [id, l] : lines) {
        if (__builtin_sub_overflow(l.debit, l.credit, &l.net)) throw std::overflow_error("merchant net overflows int64");
        b.summary.merchants.push_back(std::move(l));
    }
    b.summary.fee_total = fees;
}

std::vector<Batch> BatchBook::close_due(int64_t now_ms) {
    std::vector<Batch> due;
    std::set<Key> touched(added_.begin(), added_.end());
    for (auto it = open_.begin(); it != open_.end();) {
        if (it->second.summary.window_end_ms + grace_ms_ <= now_ms && !touched.count(it->first)) {
            closed_windows_[it->first] = it->second.summary.window_end_ms;
            net_by_merchant(it->second);
            closed_since_.emplace_back(it->first, it->second);
            due.push_back(std::move(it->second));
            it = open_.erase(it);
        } else {
            ++it;
        }
    }
    // Forget closed windows long past: no record can be routed to them any more.
    for (auto it = closed_windows_.begin(); it != closed_windows_.end();)
        it = (it->second + 10 * cutoffs_.spec(std::get<0>(it->first)).period_ms + grace_ms_ < now_ms)
                 ? closed_windows_.erase(it)
                 : std::next(it);
    return due;
}

size_t BatchBook::overdue_batches(int64_t now_ms) const {
    size_t n = 0;
    for (const auto& [key, b] : open_) n += b.summary.window_end_ms + grace_ms_ < now_ms;
    return n;
}

void BatchBook::checkpoint() {
    added_.clear();
    closed_since_.clear();
}

void BatchBook::rollback() {
    for (auto& [key, batch] : closed_since_) {
        closed_windows_.erase(key);
        open_[key] = std::move(batch);
    }
    closed_since_.clear();
    for (auto it = added_.rbegin(); it != added_.rend(); ++it) {
        auto b = open_.find(*it);
        if (b == open_.end() || b->second.records.empty()) continue;
        const auto& rec = b->second.records.back();
        auto& s = b->second.summary;
        (rec.amount > 0 ? s.debit_total : s.credit_total) -= rec.amount > 0 ? rec.amount : -rec.amount;
        s.net = s.debit_total - s.credit_total;
        --s.record_count;
        b->second.records.pop_back();
        if (b->second.records.empty()) open_.erase(b);
    }
    added_.clear();
}

}  // namespace turnout
