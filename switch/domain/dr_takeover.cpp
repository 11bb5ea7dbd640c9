#include "domain/dr_takeover.hpp"

#include <unordered_set>

#include "domain/life_cycle.hpp"

namespace turnout {

std::vector<std::string> in_flight(const std::vector<ReplicatedRequest>& requests,
                                   const std::vector<PaymentResult>& results,
                                   const std::unordered_set<std::string>& left_out) {
    std::unordered_set<std::string> answered;
    for (const auto& r : results)
        if (!is_duplicate_answer(r)) answered.insert(r.payment_id);
    std::unordered_set<std::string> seen;
    std::vector<std::string> out;
    for (const auto& q : requests)
        if (seen.insert(q.payment_id).second && !answered.count(q.payment_id) && !left_out.count(q.payment_id))
            out.push_back(q.payment_id);
    return out;
}

int64_t settlement_resume_offset(const std::vector<ResultAt>& results,
                                 const std::unordered_set<std::string>& logged,
                                 const std::unordered_set<std::string>& filed, int64_t end) {
    size_t from = 0;
    for (size_t i = results.size(); i-- > 0;)
        if (results[i].settles && logged.count(results[i].payment_id)) {
            from = i + 1;
            break;
        }
    for (size_t i = from; i < results.size(); ++i)
        if (results[i].settles && !filed.count(results[i].payment_id)) return results[i].offset;
    return end;
}

namespace {
constexpr std::string_view kFromLog = "restored_from_settlement_log";
constexpr std::string_view kFromFile = "restored_from_clearing_file";
}  // namespace

PaymentResult result_from_clearing(const ClearingRecord& rec, const std::string& root_id, ClearingEvidence from) {
    PaymentResult r;
    r.payment_id = rec.payment_id;
    r.root_id = root_id.empty() ? rec.payment_id : root_id;
    r.type = rec.type;
    r.status = ResultStatus::approved;
    r.reason = from == ClearingEvidence::settlement_log
                   ? Reason{std::string(kFromLog),
                            "approved at the primary site; its result did not replicate, its clearing record did"}
                   : Reason{std::string(kFromFile),
                            "approved at the primary site; its result did not replicate, its batch's clearing "
                            "file was delivered"};
    r.amount = Money{rec.amount < 0 ? -rec.amount : rec.amount, rec.currency};
    r.merchant_id = rec.merchant_id;
    r.channel = rec.channel;
    r.channel_ref = rec.channel_ref;
    r.times.completed_at = rec.event_time_ms;
    return r;
}

bool is_restored_result(const PaymentResult& r) {
    return r.status == ResultStatus::approved && (r.reason.code == kFromLog || r.reason.code == kFromFile);
}

bool held_for_router(const std::string& payment_id, const std::vector<InFlightFollowUp>& root_in_flight) {
    for (const auto& f : root_in_flight)
        if (f.payment_id == payment_id) return false;
    return true;
}

FiledBatch filed_batch(bool announced_at_dr, bool closed_in_dr_log) {
    if (!announced_at_dr) return FiledBatch::adopt_and_announce;
    return closed_in_dr_log ? FiledBatch::skip : FiledBatch::adopt;
}

PendingEntry pending_entry(bool answered_at_dr, bool restored_by_takeover) {
    return answered_at_dr || restored_by_takeover ? PendingEntry::removed : PendingEntry::left_to_connector;
}

std::optional<int32_t> batch_partition(std::string_view batch_id) {
    const auto dot = batch_id.rfind('.');
    if (dot == std::string_view::npos || batch_id.size() - dot < 3 || batch_id[dot + 1] != 'p')
        return std::nullopt;
    const auto digits = batch_id.substr(dot + 2);
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
    return static_cast<int32_t>(std::stol(std::string(digits)));
}

PaymentResult takeover_result(const std::string& payment_id, const std::string& root_id,
                              const std::vector<ChannelAnswer>& answers, int64_t now_ms) {
    using K = ChannelAnswer::Kind;
    PaymentResult r;
    r.payment_id = payment_id;
    r.root_id = root_id;
    r.times.completed_at = now_ms;
    const ChannelAnswer* executed = nullptr;
    const ChannelAnswer* reversed = nullptr;
    size_t executions = 0;
    bool all_not_found = !answers.empty();
    for (const auto& a : answers) {
        if (a.kind == K::approved || a.kind == K::declined) {
            if (!executed) executed = &a;
            ++executions;
        }
        if (a.kind == K::reversed && !reversed) reversed = &a;
        if (a.kind != K::not_found) all_not_found = false;
    }
    const auto from = [&](const ChannelAnswer& a, ResultStatus s, Reason why) {
        r.status = s;
        r.channel = a.channel;
        r.channel_ref = a.channel_ref;
        if (s == ResultStatus::approved) r.approval_code = a.approval_code;
        r.reason = std::move(why);
        return r;
    };
    if (executions > 1)
        return from(*executed, ResultStatus::failed,
                    {"double_execution_at_primary",
                     "more than one channel executed this payment before the primary site was lost"});
    if (executed)
        return from(*executed, executed->kind == K::approved ? ResultStatus::approved : ResultStatus::declined,
                    {executed->code, "answered by the channel when the DR site took over"});
    if (reversed)
        return from(*reversed, ResultStatus::reversed,
                    {reversed->code, "in flight when the primary site was lost; reversed at the channel"});
    r.status = all_not_found ? ResultStatus::rejected : ResultStatus::failed;
    r.reason = all_not_found ? Reason{"not_executed_before_failover",
                                      "no channel received this payment before the primary site was lost"}
                             : Reason{"unknown_outcome",
                                      "in flight when the primary site was lost; no channel gave its outcome"};
    return r;
}

}  // namespace turnout
