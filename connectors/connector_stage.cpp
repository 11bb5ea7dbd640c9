#include "connector_stage.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "codec/messages.hpp"
#include "kafka/changelog.hpp"
#include "kafka/records.hpp"
#include "metrics/log.hpp"
#include "model/time.hpp"

namespace turnout {
namespace {

// The payments of a batch a channel must not be given: those carrying a PIN block, when the
// channel takes no PIN.
std::vector<char> pin_refusals(std::span<const RoutedPayment> batch, bool takes_pin) {
    std::vector<char> out(batch.size(), 0);
    if (!takes_pin)
        for (size_t i = 0; i < batch.size(); ++i)
            out[i] = batch[i].request.instrument && !batch[i].request.instrument->pin_block.empty();
    return out;
}

}  // namespace

std::vector<char> ConnectorStage::refuse_pins(std::span<const RoutedPayment> batch) const {
    return pin_refusals(batch, connector_->takes_pin());
}

std::vector<ChannelOutcome> ConnectorStage::call_except(const std::vector<RoutedPayment>& batch,
                                                        const std::vector<char>& refused) {
    const ChannelOutcome no_pin{ChannelOutcome::Kind::soft_failure, "pin_not_supported", "the channel takes no PIN", "", ""};
    if (std::find(refused.begin(), refused.end(), 1) == refused.end()) return connector_->call(batch);
    std::vector<RoutedPayment> sent;
    for (size_t i = 0; i < batch.size(); ++i)
        if (!refused[i]) sent.push_back(batch[i]);
    auto answers = sent.empty() ? std::vector<ChannelOutcome>{} : connector_->call(sent);
    std::vector<ChannelOutcome> out;
    size_t next = 0;
    for (size_t i = 0; i < batch.size(); ++i) out.push_back(refused[i] ? no_pin : std::move(answers.at(next++)));
    return out;
}

ConnectorStage::ConnectorStage(const Config& cfg, const ChannelConfig& channel, const std::string& instance,
                               const CardVault* card_keys)
    : cfg_(cfg),
      channel_(channel),
      connector_(make_connector(channel, {card_keys})),
      probe_("connector"),
      m_(channel.id),
      breaker_({channel.circuit_failure_threshold, int64_t{channel.circuit_open_seconds} * 1000}),
      policy_(connector_->pending_policy()),
      health_(cfg, channel) {
    if (connector_->asynchronous()) {
        // payments.pending is shared by the asynchronous channels: this store keeps this
        // channel's pending payments only.
        kafka::StoreSpec spec{"pending", cfg.kafka.topics.pending, 0, true, {},
                              [id = channel.id](std::string_view, std::string_view value) {
                                  return pending_channel(value) == id;
                              }};
        pending_store_ = std::make_unique<kafka::StoreSet>(
            cfg.kafka, kafka::role_state_dir(cfg, "connector-" + channel.id, instance), "connector",
            std::vector<kafka::StoreSpec>{spec});
    }
}

void ConnectorStage::on_start() {
    if (!connector_->asynchronous()) return;
    // Webhooks in: each event goes to the channel topic through a producer of its own.
    events_ = std::make_unique<ChannelEventPublisher>(cfg_, channel_);
    connector_->start_events(
        [ev = events_.get()](const ChannelEvent& e, std::function<void(bool)> done) { ev->publish(e, std::move(done)); });
}

void ConnectorStage::process(std::span<const kafka::Record> batch, kafka::Emitter& out) {
    probe_.in(batch.size());
    const auto& topics = cfg_.kafka.topics;
    std::vector<RoutedPayment> payments;
    std::vector<const kafka::Record*> sources;
    std::vector<const kafka::Record*> events;
    payments.reserve(batch.size());
    for (const auto& rec : batch) {
        if (rec.header(kRecordKindHeader) == kChannelEventKind) {
            // Resolved after this batch's calls, so an event finds a payment the same batch
            // made pending (possible when a batch is processed again after an abort).
            events.push_back(&rec);
            continue;
        }
        auto p = decode_routed(rec.value);
        if (!p || p->route.channels.empty()) {
            out.emit(kafka::dlq_record(topics, rec, "connector", "undecodable_routed_payment", std::string(rec.value)));
            probe_.dlq("undecodable_routed_payment");
            continue;
        }
        payments.push_back(std::move(*p));
        sources.push_back(&rec);
    }
    if (payments.empty()) {
        const int64_t now = now_ms();
        for (const auto* e : events) on_channel_event(*e, out, now);
        return;
    }

    std::vector<ChannelOutcome> outcomes;
    double secs = 0;
    const int64_t before = now_ms();
    const bool called = breaker_.allow(before);
    // A payment carrying a PIN block goes only to a channel that takes PINs; here it never
    // leaves and moves on to the next channel of its plan, without counting against this one.
    const auto pin_refused = refuse_pins(payments);
    if (called) {
        const auto t0 = std::chrono::steady_clock::now();
        outcomes = call_except(payments, pin_refused);
        secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } else {
        // Circuit open: the request never leaves, so the next channel of the plan may try it.
        outcomes.assign(payments.size(), {ChannelOutcome::Kind::soft_failure, "circuit_open", "channel circuit is open", "", ""});
        m_.circuit_open.Increment(static_cast<double>(payments.size()));
    }

    const int64_t now = now_ms();
    if (called)
        for (size_t i = 0; i < outcomes.size(); ++i) {
            if (pin_refused[i]) continue;
            const auto& o = outcomes[i];
            using K = ChannelOutcome::Kind;
            breaker_.record(o.kind == K::approved || o.kind == K::declined || o.kind == K::pending, now);
            m_.call(o.kind).Increment();
        }
    m_.circuit_state.Set(static_cast<double>(breaker_.state()));
    if (called) {
        // Reversed and failed calls count against the channel's success rate like soft failures.
        int64_t soft = 0, calls = 0;
        for (size_t i = 0; i < outcomes.size(); ++i) {
            if (pin_refused[i]) continue;
            ++calls;
            const auto k = outcomes[i].kind;
            soft += k != ChannelOutcome::Kind::approved && k != ChannelOutcome::Kind::declined &&
                    k != ChannelOutcome::Kind::pending;
        }
        if (calls > 0) health_.record_call(calls - soft, soft, secs);
    }
    health_.maybe_publish(static_cast<int>(breaker_.state()), now, out);
    for (size_t i = 0; i < payments.size(); ++i) {
        auto& p = payments[i];
        const auto& o = outcomes[i];
        const auto tp = sources[i]->header(kafka::kTraceparent);
        if (called && !pin_refused[i]) m_.latency.Observe(secs);
        if (o.kind == ChannelOutcome::Kind::pending) {
            // No result yet: the payment waits in payments.pending (same transaction) for
            // its webhook or, past the deadline, a status query.
            PendingPayment pp{p, sources[i]->partition, now, now + policy_.query_after_ms, o.channel_ref, std::string(tp)};
            if (pp.payment.request.instrument) {
                pp.payment.request.instrument->pan.clear();
                pp.payment.request.instrument->sealed_pan.reset();
                pp.payment.request.instrument->pin_block.clear();
            }
            pending_store_->at(0, sources[i]->partition)
                .put(p.request.payment_id, encode_pending(pp, channel_.id), now_ms(), out, kafka::descend_headers(tp));
            pending_.add(p.request.payment_id, std::move(pp));
            probe_.out();
            continue;
        }
        conclude(p, o, tp, out, now);
    }
    for (const auto* e : events) on_channel_event(*e, out, now);
    m_.pending.Set(static_cast<double>(pending_.size()));
}

void ConnectorStage::conclude(RoutedPayment& p, const ChannelOutcome& o, std::string_view tp, kafka::Emitter& out,
                              int64_t now) {
    const auto& topics = cfg_.kafka.topics;
    {
        using K = ChannelOutcome::Kind;
        const char* outcome = o.kind == K::approved   ? "approved"
                              : o.kind == K::declined ? "declined"
                              : o.kind == K::reversed ? "reversed"
                              : o.kind == K::failed   ? "failed"
                                                      : "soft_failure";
        p.route.attempts.push_back({channel_.id, outcome, o.code});
        if (o.kind == K::soft_failure) {
            // Try the next channel of the plan that has not been tried yet.
            const auto& plan = p.route.channels;
            const size_t next = p.route.attempts.size();
            if (next < plan.size()) {
                out.emit({topics.channel(plan[next]), p.request.root_id(), encode_routed(p), kafka::descend_headers(tp)});
                probe_.out();
                return;
            }
        }
        ResultStatus status = o.kind == K::approved   ? ResultStatus::approved
                              : o.kind == K::declined ? ResultStatus::declined
                              : o.kind == K::reversed ? ResultStatus::reversed
                                                      : ResultStatus::failed;
        Reason reason = o.kind == K::soft_failure
                            ? Reason{"channels_exhausted", "every channel of the plan failed; last: " + o.code + " " + o.message}
                            : Reason{o.code, o.message};
        log_payment_event(status == ResultStatus::failed ? spdlog::level::info : spdlog::level::debug, "payment_result",
                          p.request.payment_id, tp,
                          {{"status", to_string(status)}, {"channel", channel_.id}, {"code", reason.code}});
        auto res = result_for(p, status, std::move(reason), now);
        res.channel = channel_.id;
        res.channel_ref = o.channel_ref;
        res.approval_code = o.approval_code;
        out.emit(kafka::result_record(topics, res, tp, p.home_partition));
        probe_.out();
        probe_.result(std::string(to_string(status)), channel_.id);
        if (p.times.created_at > 0) m_.end_to_end.Observe(static_cast<double>(now - p.times.created_at) / 1000.0);
    }
}

void ConnectorStage::resolve_pending(const std::string& payment_id, const ChannelOutcome& o, kafka::Emitter& out,
                                     int64_t now) {
    auto pp = pending_.take(payment_id);
    if (!pp) return;
    // The final result and the tombstone of the pending record commit together.
    pending_store_->at(0, pp->partition).erase(payment_id, out, kafka::descend_headers(pp->traceparent));
    ChannelOutcome final = o;
    if (final.channel_ref.empty()) final.channel_ref = pp->channel_ref;
    conclude(pp->payment, final, pp->traceparent, out, now);
}

void ConnectorStage::on_channel_event(const kafka::Record& rec, kafka::Emitter& out, int64_t now) {
    auto recorded = decode_channel_event(rec.value);
    if (!recorded) {
        out.emit(kafka::dlq_record(cfg_.kafka.topics, rec, "connector", "undecodable_channel_event", std::string(rec.value)));
        probe_.dlq("undecodable_channel_event");
        return;
    }
    // Anyone who can write the channel topic could write an event: only what the channel
    // itself signed (verified again here, with the channel's key) may settle a payment.
    auto e = connector_->verify_event(*recorded);
    if (!e) {
        m_.event_unsigned.Increment();
        spdlog::warn("connector {}: channel event for {} does not verify against the channel's key: dead-lettered",
                     channel_.id, recorded->payment_id);
        out.emit(kafka::dlq_record(cfg_.kafka.topics, rec, "connector", "unsigned_channel_event", std::string(rec.value)));
        probe_.dlq("unsigned_channel_event");
        return;
    }
    using K = ChannelOutcome::Kind;
    const bool final = e->outcome.kind == K::approved || e->outcome.kind == K::declined ||
                       e->outcome.kind == K::reversed || e->outcome.kind == K::failed;
    if (final && pending_.watched(e->payment_id)) {
        // Given up earlier with an unknown outcome (result `failed` / `unknown_outcome`), and
        // the channel reports an outcome now: money may have moved. An operator or the
        // reconciliation must act on it; the result stands (one result per payment).
        m_.event_late.Increment();
        auto w = pending_.take(e->payment_id);
        log_payment_event(spdlog::level::err, "late_channel_event", e->payment_id, w ? w->traceparent : std::string(),
                          {{"channel", channel_.id},
                           {"outcome", e->outcome.kind == K::approved   ? "approved"
                                       : e->outcome.kind == K::declined ? "declined"
                                       : e->outcome.kind == K::reversed ? "reversed"
                                                                        : "failed"},
                           {"code", e->outcome.code}});
        out.emit(kafka::dlq_record(cfg_.kafka.topics, rec, "connector", "late_channel_event", std::string(rec.value)));
        probe_.dlq("late_channel_event");
        if (w) pending_store_->at(0, w->partition).erase(e->payment_id, out, kafka::descend_headers(w->traceparent));
        return;
    }
    if (!final || !pending_.contains(e->payment_id)) {
        // Already final (an earlier delivery, or a status query got there first): ignored.
        m_.event_duplicate.Increment();
        return;
    }
    m_.event_resolved.Increment();
    resolve_pending(e->payment_id, e->outcome, out, now);
}

void ConnectorStage::give_up(const std::vector<std::string>& ids, kafka::Emitter& out, int64_t now) {
    using K = ChannelOutcome::Kind;
    std::vector<RoutedPayment> batch;
    for (const auto& id : ids) batch.push_back(pending_.find(id)->payment);
    const auto answers = connector_->cancel(batch);
    for (size_t i = 0; i < ids.size(); ++i) {
        const auto& a = answers[i];
        if (a.kind == K::approved || a.kind == K::declined) {
            // The channel had decided: that is the outcome.
            m_.query_resolved.Increment();
            resolve_pending(ids[i], a, out, now);
        } else if (a.kind == K::reversed) {
            m_.query_cancelled.Increment();
            ChannelOutcome o = a;
            o.code = "pending_cancelled";
            o.message = "no final outcome in time; cancelled at the channel";
            resolve_pending(ids[i], o, out, now);
        } else {
            // Neither cancelled nor decided: the outcome stays unknown. The result says so,
            // and the payment stays watched in payments.pending for a late event.
            m_.query_expired.Increment();
            auto pp = pending_.take(ids[i]);
            if (!pp) continue;
            PendingPayment watch = *pp;
            watch.expired_ms = now;
            watch.next_query_ms = now + policy_.late_event_window_ms;
            pending_store_->at(0, pp->partition)
                .put(ids[i], encode_pending(watch, channel_.id), now, out, kafka::descend_headers(pp->traceparent));
            pending_.add(ids[i], watch);
            ChannelOutcome o{K::failed, "unknown_outcome",
                             "no final outcome in time and the cancel was not confirmed: " + a.message, pp->channel_ref, ""};
            conclude(pp->payment, o, pp->traceparent, out, now);
        }
    }
}

void ConnectorStage::on_tick(int64_t now, kafka::Emitter& out) {
    health_.maybe_publish(static_cast<int>(breaker_.state()), now, out);
    for (const auto& id : pending_.watch_ended(now, 256)) {
        auto w = pending_.take(id);
        pending_store_->at(0, w->partition).erase(id, out, kafka::descend_headers(w->traceparent));
    }
    if (pending_.size() == 0) return;
    const auto due = pending_.due(now, 256);
    if (!due.empty()) {
        std::vector<std::string> ask, expired;
        for (const auto& id : due) (now - pending_.find(id)->since_ms >= policy_.give_up_after_ms ? expired : ask).push_back(id);
        std::vector<RoutedPayment> batch;
        for (const auto& id : ask) batch.push_back(pending_.find(id)->payment);
        const auto answers = batch.empty() ? std::vector<ChannelOutcome>{} : connector_->query(batch);
        for (size_t i = 0; i < ask.size(); ++i) {
            const auto& a = answers[i];
            using K = ChannelOutcome::Kind;
            // Still pending, or the query went unanswered: ask again, until the give-up age.
            if (a.kind == K::pending || a.kind == K::failed || a.kind == K::soft_failure) {
                m_.query_still_pending.Increment();
                pending_.reschedule(ask[i], std::min(now + policy_.query_every_ms,
                                                     pending_.find(ask[i])->since_ms + policy_.give_up_after_ms));
                continue;
            }
            m_.query_resolved.Increment();
            resolve_pending(ask[i], a, out, now);
        }
        if (!expired.empty()) give_up(expired, out, now);
    }
    m_.pending.Set(static_cast<double>(pending_.size()));
}

void ConnectorStage::on_assign(const kafka::PartitionSet& parts) {
    if (!connector_->asynchronous()) return;
    const int64_t now = now_ms();
    // The store is restored: its pending payments come back to the book.
    for (const auto& [topic, p] : parts) {
        size_t n = 0;
        pending_store_->at(0, p).scan([&](std::string_view id, std::string_view value) {
            auto pp = decode_pending(value, p, policy_.late_event_window_ms);
            if (!pp) return;
            // Waited while unassigned: ask the channel soon rather than wait a full deadline.
            if (pp->expired_ms == 0)
                pp->next_query_ms = std::min(now + policy_.query_every_ms, pp->since_ms + policy_.query_after_ms);
            pending_.add(std::string(id), std::move(*pp));
            ++n;
        });
        pending_.commit();
        spdlog::info("connector {}: partition {}: {} pending payments from the store", channel_.id, p, n);
    }
    m_.pending.Set(static_cast<double>(pending_.size()));
}

void ConnectorStage::on_revoke(const kafka::PartitionSet& parts) {
    for (const auto& [topic, p] : parts) pending_.drop_partition(p);
    m_.pending.Set(static_cast<double>(pending_.size()));
}

kafka::StageOptions connector_options(const Config& cfg, const std::string& channel_id, const std::string& instance) {
    return kafka::stage_options(cfg.kafka, "connector." + channel_id, instance, {cfg.kafka.topics.channel(channel_id)});
}

}  // namespace turnout
