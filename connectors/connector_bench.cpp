#include "connector_bench.hpp"

#include <chrono>
#include <sstream>
#include <thread>

#include "connector.hpp"
#include "model/time.hpp"

namespace turnout {

std::string ConnectorBenchReport::json() const {
    std::ostringstream o;
    o << "{\"payments\":" << payments << ",\"seconds\":" << seconds << ",\"payments_per_s\":" << payments_per_s
      << ",\"outcomes\":{";
    bool first = true;
    for (const auto& [k, v] : outcomes) {
        o << (first ? "" : ",") << "\"" << k << "\":" << v;
        first = false;
    }
    o << "}}";
    return o.str();
}

ConnectorBenchReport run_connector_bench(const Config& cfg, const ConnectorBenchOptions& opts) {
    const auto* ch = cfg.channel(opts.channel);
    if (!ch) throw ConfigError("no channel `" + opts.channel + "` in the config");
    auto connector = make_connector(*ch);
    const std::string run = opts.run_id.empty() ? "bench" + std::to_string(now_ms()) : opts.run_id;
    ConnectorBenchReport r;
    const auto t0 = std::chrono::steady_clock::now();
    int64_t sent = 0;
    while (sent < opts.count) {
        const int64_t n = std::min<int64_t>(opts.inflight, opts.count - sent);
        std::vector<RoutedPayment> batch(static_cast<size_t>(n));
        for (auto& p : batch) {
            auto& q = p.request;
            q.payment_id = run + "-" + std::to_string(sent++);
            q.type = PaymentType::sale;
            q.merchant.id = "m-bench";
            q.amount = {opts.amount_minor, "EUR"};
            Instrument in;
            in.kind = InstrumentKind::card;
            in.pan = "4111111111111111";
            in.expiry = "2812";
            q.instrument = in;
            q.created_at_ms = now_ms();
            p.route.channels = {opts.channel};
        }
        const auto outcomes = connector->call(batch);
        connector->committed();  // as the stage after its transaction commits
        for (const auto& o : outcomes) {
            using K = ChannelOutcome::Kind;
            ++r.outcomes[o.kind == K::approved   ? "approved"
                         : o.kind == K::declined ? "declined"
                         : o.kind == K::reversed ? "reversed"
                         : o.kind == K::failed   ? "failed"
                                                 : "soft_failure"];
        }
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (opts.linger_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opts.linger_ms));
    r.payments = sent;
    r.seconds = std::chrono::duration<double>(t1 - t0).count();
    r.payments_per_s = r.seconds > 0 ? static_cast<double>(sent) / r.seconds : 0;
    return r;
}

}  // namespace turnout
