#include "http_json/bench_connector.hpp"

#include <chrono>
#include <map>

#include "connector.hpp"
#include "model/time.hpp"

namespace turnout {

int run_connector_bench(const Config& cfg, const ConnectorBenchOptions& o, std::ostream& out) {
    const auto* found = cfg.channel(o.channel);
    if (!found) throw ConfigError(cfg.path + ": no channel `" + o.channel + "`");
    ChannelConfig ch = *found;
    ch.settings = YAML::Clone(found->settings);
    if (ch.kind == "http_json") {
        ch.settings["max_connections"] = o.inflight;
        ch.settings.remove("webhook");  // synchronous answers only: nothing waits on a webhook
    }
    auto connector = make_connector(ch);

    // Card sales that the simulators approve (amounts ending in 00), unique ids per run.
    const std::string run = "bench-" + std::to_string(now_ms()) + "-";
    auto make = [&](int64_t i) {
        RoutedPayment p;
        p.request.payment_id = run + std::to_string(i);
        p.request.type = PaymentType::sale;
        p.request.merchant.id = "m-bench";
        p.request.amount = {1000 + 100 * (i % 50), "EUR"};
        Instrument in;
        in.kind = InstrumentKind::card;
        in.fingerprint = "fp" + std::to_string(i);
        in.bin = "411111";
        in.last4 = "1111";
        p.request.instrument = in;
        p.route.channels = {o.channel};
        return p;
    };
    // Batches of a few times the in-flight depth, so the barrier at the end of a batch
    // (the connector stage's unit of work) costs little.
    const int64_t batch_size = std::max<int64_t>(1, 4 * int64_t{o.inflight});
    std::map<std::string, int64_t> kinds;
    // A warm-up batch opens the keep-alive connections.
    {
        std::vector<RoutedPayment> warm;
        for (int i = 0; i < o.inflight; ++i) warm.push_back(make(-1 - i));
        connector->call(warm);
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t done = 0; done < o.count;) {
        std::vector<RoutedPayment> batch;
        for (int64_t i = done; i < std::min(o.count, done + batch_size); ++i) batch.push_back(make(i));
        for (const auto& r : connector->call(batch)) {
            using K = ChannelOutcome::Kind;
            ++kinds[r.kind == K::approved   ? "approved"
                    : r.kind == K::declined ? "declined"
                    : r.kind == K::pending  ? "pending"
                    : r.kind == K::failed   ? "failed"
                    : r.kind == K::reversed ? "reversed"
                                            : "soft_failure"];
        }
        done += static_cast<int64_t>(batch.size());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out << "{\"channel\":\"" << o.channel << "\",\"kind\":\"" << ch.kind << "\",\"payments\":" << o.count
        << ",\"inflight\":" << o.inflight << ",\"seconds\":" << secs << ",\"payments_per_s\":"
        << static_cast<int64_t>(static_cast<double>(o.count) / secs) << ",\"outcomes\":{";
    bool first = true;
    for (const auto& [k, n] : kinds) {
        out << (first ? "" : ",") << "\"" << k << "\":" << n;
        first = false;
    }
    out << "}}\n";
    return kinds["approved"] + kinds["declined"] == o.count ? 0 : 1;
}

}  // namespace turnout
