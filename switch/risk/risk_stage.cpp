#include "risk/risk_stage.hpp"

#include "codec/messages.hpp"
#include "kafka/records.hpp"
#include "model/time.hpp"

namespace turnout {

RiskStage::RiskStage(const Config& cfg)
    : cfg_(cfg),
      rules_(cfg.risk),
      approve_(Metrics::get().risk_decisions.Add({{"decision", "approve"}})),
      decline_(Metrics::get().risk_decisions.Add({{"decision", "decline"}})),
      skipped_(Metrics::get().risk_decisions.Add({{"decision", "skipped"}})) {}

void RiskStage::process(std::span<const kafka::Record> batch, kafka::Emitter& out) {
    probe_.in(batch.size());
    const auto& topics = cfg_.kafka.topics;
    for (const auto& rec : batch) {
        auto p = decode_routed(rec.value);
        if (!p) {
            out.emit(kafka::dlq_record(topics, rec, "risk", "undecodable_routed_payment", std::string(rec.value)));
            probe_.dlq("undecodable_routed_payment");
            continue;
        }
        p->risk = rules_.assess(*p);
        p->times.scored_at = now_ms();
        const auto tp = rec.header(kafka::kTraceparent);
        if (p->risk->decision == "decline") {
            decline_.Increment();
            auto res = result_for(*p, ResultStatus::declined,
                                  {"risk_" + p->risk->rules_hit.front(), "declined by risk rules"}, p->times.scored_at);
            out.emit(kafka::result_record(topics, res, tp));
            probe_.result("declined", "");
        } else {
            (p->risk->decision == "approve" ? approve_ : skipped_).Increment();
            const auto& channel = p->route.channels.front();
            out.emit({topics.channel(channel), p->request.root_id(), encode_routed(*p), kafka::descend_headers(tp)});
        }
        probe_.out();
    }
}

kafka::StageOptions risk_options(const Config& cfg, const std::string& instance) {
    return kafka::stage_options(cfg.kafka, "risk", instance, {cfg.kafka.topics.routed});
}

}  // namespace turnout
