#include "connector_stage.hpp"

#include <algorithm>
#include <chrono>

#include "codec/messages.hpp"
#include "kafka/records.hpp"
#include "metrics/log.hpp"
#include "model/time.hpp"

namespace turnout {

ConnectorStage::ConnectorStage(const Config& cfg, const ChannelConfig& channel)
    : cfg_(cfg),
      channel_(channel),
      connector_(make_connector(channel)),
      probe_("connector"),
      latency_(latency_histogram(Metrics::get().channel_latency, {{"channel", channel.id}})),
      e2e_(latency_histogram(Metrics::get().end_to_end_latency, {{"channel", channel.id}})),
      breaker_({channel.circuit_failure_threshold, int64_t{channel.circuit_open_seconds} * 1000}),
      circuit_state_(Metrics::get().circuit_state.Add({{"channel", channel.id}})),
      calls_approved_(Metrics::get().channel_calls.Add({{"channel", channel.id}, {"outcome", "approved"}})),
      calls_declined_(Metrics::get().channel_calls.Add({{"channel", channel.id}, {"outcome", "declined"}})),
      calls_soft_failure_(Metrics::get().channel_calls.Add({{"channel", channel.id}, {"outcome", "soft_failure"}})),
      calls_circuit_open_(Metrics::get().channel_calls.Add({{"channel", channel.id}, {"outcome", "circuit_open"}})),
      calls_reversed_(Metrics::get().channel_calls.Add({{"channel", channel.id}, {"outcome", "reversed"}})),
      calls_failed_(Metrics::get().channel_calls.Add({{"channel", channel.id}, {"outcome", "failed"}})),
      health_(cfg, channel) {}

void ConnectorStage::on_tick(int64_t now_ms, kafka::Emitter& out) {
    health_.maybe_publish(static_cast<int>(breaker_.state()), now_ms, out);
}

void ConnectorStage::process(std::span<const kafka::Record> batch, kafka::Emitter& out) {
    probe_.in(batch.size());
    const auto& topics = cfg_.kafka.topics;
    std::vector<RoutedPayment> payments;
    std::vector<const kafka::Record*> sources;
    payments.reserve(batch.size());
    for (const auto& rec : batch) {
        auto p = decode_routed(rec.value);
        if (!p || p->route.channels.empty()) {
            out.emit(kafka::dlq_record(topics, rec, "connector", "undecodable_routed_payment", std::string(rec.value)));
            probe_.dlq("undecodable_routed_payment");
            continue;
        }
        payments.push_back(std::move(*p));
        sources.push_back(&rec);
    }
    if (payments.empty()) return;

    std::vector<ChannelOutcome> outcomes;
    double secs = 0;
    const int64_t before = now_ms();
    const bool called = breaker_.allow(before);
    if (called) {
        const auto t0 = std::chrono::steady_clock::now();
        outcomes = connector_->call(payments);
        secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } else {
        // Circuit open: the request never leaves, so the next channel of the plan may try it.
        outcomes.assign(payments.size(), {ChannelOutcome::Kind::soft_failure, "circuit_open", "channel circuit is open", "", ""});
        calls_circuit_open_.Increment(static_cast<double>(payments.size()));
    }

    const int64_t now = now_ms();
    if (called)
        for (const auto& o : outcomes) {
            using K = ChannelOutcome::Kind;
            breaker_.record(o.kind == K::approved || o.kind == K::declined, now);
            (o.kind == K::approved   ? calls_approved_
             : o.kind == K::declined ? calls_declined_
             : o.kind == K::reversed ? calls_reversed_
             : o.kind == K::failed   ? calls_failed_
                                     : calls_soft_failure_)
                .Increment();
        }
    circuit_state_.Set(static_cast<double>(breaker_.state()));
    if (called) {
        // Reversed and failed calls count against the channel's success rate like soft failures.
        const auto soft = std::count_if(outcomes.begin(), outcomes.end(), [](const auto& o) {
            return o.kind != ChannelOutcome::Kind::approved && o.kind != ChannelOutcome::Kind::declined;
        });
        health_.record_call(static_cast<int64_t>(outcomes.size()) - soft, soft, secs);
    }
    health_.maybe_publish(static_cast<int>(breaker_.state()), now, out);
    for (size_t i = 0; i < payments.size(); ++i) {
        auto& p = payments[i];
        const auto& o = outcomes[i];
        const auto tp = sources[i]->header(kafka::kTraceparent);
        if (called) latency_.Observe(secs);
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
                continue;
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
        out.emit(kafka::result_record(topics, res, tp));
        probe_.out();
        probe_.result(std::string(to_string(status)), channel_.id);
        if (p.times.created_at > 0) e2e_.Observe(static_cast<double>(now - p.times.created_at) / 1000.0);
    }
}

kafka::StageOptions connector_options(const Config& cfg, const std::string& channel_id, const std::string& instance) {
    return kafka::stage_options(cfg.kafka, "connector." + channel_id, instance, {cfg.kafka.topics.channel(channel_id)});
}

}  // namespace turnout
