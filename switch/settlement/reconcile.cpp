#include "settlement/reconcile.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "model/time.hpp"

namespace turnout {
namespace json = boost::json;

const char* to_string(BreakKind k) {
    switch (k) {
        case BreakKind::missing_at_channel: return "missing_at_channel";
        case BreakKind::missing_in_turnout: return "missing_in_turnout";
        case BreakKind::amount_mismatch: return "amount_mismatch";
        case BreakKind::duplicate_at_channel: return "duplicate_at_channel";
        case BreakKind::duplicate_in_turnout: return "duplicate_in_turnout";
    }
    return "?";
}

int64_t ReconResult::count(BreakKind k) const {
    return std::count_if(breaks.begin(), breaks.end(), [k](const ReconBreak& b) { return b.kind == k; });
}

ReconResult reconcile(const std::string& channel, const std::vector<ClearingFile>& files,
                      const std::vector<ChannelReportLine>& report) {
    ReconResult r;
    r.channel = channel;
    struct Ours {
        const ClearingRecord* rec;
        size_t batch;
    };
    std::unordered_map<std::string, Ours> ours;
    for (const auto& f : files) {
        if (f.summary.channel != channel) continue;
        r.batches.push_back({f.summary.batch_id, f.summary.currency, 0, 0, 0, f.summary.net});
        for (const auto& rec : f.records) {
            ++r.turnout_records;
            ++r.batches.back().records;
            auto [it, fresh] = ours.try_emplace(rec.payment_id, Ours{&rec, r.batches.size() - 1});
            if (!fresh) {
                r.breaks.push_back({BreakKind::duplicate_in_turnout, rec.payment_id, f.summary.batch_id, rec.amount,
                                    std::nullopt, rec.currency, ""});
                ++r.batches.back().breaks;
            }
        }
    }
    std::unordered_map<std::string, int> seen_at_channel;
    for (const auto& line : report) {
        ++r.channel_records;
        if (++seen_at_channel[line.payment_id] > 1) {
            auto it = ours.find(line.payment_id);
            r.breaks.push_back({BreakKind::duplicate_at_channel, line.payment_id,
                                it == ours.end() ? "" : r.batches[it->second.batch].batch_id, std::nullopt, line.amount,
                                "", line.currency});
            if (it != ours.end()) ++r.batches[it->second.batch].breaks;
            continue;
        }
        auto it = ours.find(line.payment_id);
        if (it == ours.end()) {
            r.breaks.push_back(
                {BreakKind::missing_in_turnout, line.payment_id, "", std::nullopt, line.amount, "", line.currency});
            continue;
        }
        auto& batch = r.batches[it->second.batch];
        const auto& rec = *it->second.rec;
        if (rec.amount != line.amount || rec.currency != line.currency) {
            r.breaks.push_back({BreakKind::amount_mismatch, line.payment_id, batch.batch_id, rec.amount, line.amount,
                                rec.currency, line.currency});
            ++batch.breaks;
        } else {
            ++r.matched;
            ++batch.matched;
        }
    }
    for (const auto& [id, o] : ours)
        if (!seen_at_channel.count(id)) {
            auto& batch = r.batches[o.batch];
            r.breaks.push_back({BreakKind::missing_at_channel, id, batch.batch_id, o.rec->amount, std::nullopt,
                                o.rec->currency, ""});
            ++batch.breaks;
        }
    std::sort(r.breaks.begin(), r.breaks.end(), [](const ReconBreak& a, const ReconBreak& b) {
        return std::tie(a.kind, a.payment_id, a.batch_id) < std::tie(b.kind, b.payment_id, b.batch_id);
    });
    std::sort(r.batches.begin(), r.batches.end(),
              [](const auto& a, const auto& b) { return a.batch_id < b.batch_id; });
    return r;
}

std::string reconciliation_json(const ReconResult& r, int64_t generated_at_ms) {
    json::object counts{{"turnout_records", r.turnout_records},
                        {"channel_records", r.channel_records},
                        {"matched", r.matched}};
    for (auto k : kBreakKinds) counts[to_string(k)] = r.count(k);
    json::array breaks;
    for (const auto& b : r.breaks) {
        json::object o{{"kind", to_string(b.kind)}, {"payment_id", b.payment_id}};
        o["batch_id"] = b.batch_id.empty() ? json::value(nullptr) : json::value(b.batch_id);
        o["turnout_amount"] = b.turnout_amount ? json::value(*b.turnout_amount) : json::value(nullptr);
        o["turnout_currency"] = b.turnout_currency.empty() ? json::value(nullptr) : json::value(b.turnout_currency);
        o["channel_amount"] = b.channel_amount ? json::value(*b.channel_amount) : json::value(nullptr);
        o["channel_currency"] = b.channel_currency.empty() ? json::value(nullptr) : json::value(b.channel_currency);
        breaks.push_back(std::move(o));
    }
    json::array batches;
    for (const auto& b : r.batches)
        batches.push_back(json::object{{"batch_id", b.batch_id},
                                       {"currency", b.currency},
                                       {"status", b.settled() ? "settled" : "closed"},
                                       {"records", b.records},
                                       {"matched", b.matched},
                                       {"breaks", b.breaks},
                                       {"net", b.net}});
    json::object o{{"channel", r.channel},
                   {"generated_at", format_rfc3339(generated_at_ms)},
                   {"result", r.breaks.empty() ? "reconciled" : "breaks"},
                   {"counts", std::move(counts)},
                   {"breaks", std::move(breaks)},
                   {"batches", std::move(batches)}};
    return json::serialize(o) + "\n";
}

std::string reconciliation_metrics(const ReconResult& r) {
    const std::string ch = "channel=\"" + r.channel + "\"";
    std::string out;
    out += "# HELP turnout_reconciliation_records_total Records compared, by side and outcome.\n";
    out += "# TYPE turnout_reconciliation_records_total counter\n";
    out += "turnout_reconciliation_records_total{" + ch + ",side=\"turnout\"} " + std::to_string(r.turnout_records) + "\n";
    out += "turnout_reconciliation_records_total{" + ch + ",side=\"channel\"} " + std::to_string(r.channel_records) + "\n";
    out += "# HELP turnout_reconciliation_matched_total Records present on both sides with the same amount.\n";
    out += "# TYPE turnout_reconciliation_matched_total counter\n";
    out += "turnout_reconciliation_matched_total{" + ch + "} " + std::to_string(r.matched) + "\n";
    out += "# HELP turnout_reconciliation_breaks_total Reconciliation breaks by kind.\n";
    out += "# TYPE turnout_reconciliation_breaks_total counter\n";
    for (auto k : kBreakKinds)
        out += "turnout_reconciliation_breaks_total{" + ch + ",kind=\"" + to_string(k) + "\"} " +
               std::to_string(r.count(k)) + "\n";
    int64_t settled = 0;
    for (const auto& b : r.batches) settled += b.settled();
    out += "# HELP turnout_reconciliation_batches Batches compared, by status after reconciliation.\n";
    out += "# TYPE turnout_reconciliation_batches gauge\n";
    out += "turnout_reconciliation_batches{" + ch + ",status=\"settled\"} " + std::to_string(settled) + "\n";
    out += "turnout_reconciliation_batches{" + ch + ",status=\"closed\"} " +
           std::to_string(static_cast<int64_t>(r.batches.size()) - settled) + "\n";
    return out;
}

std::string reconciliation_text(const ReconResult& r) {
    std::ostringstream o;
    int64_t settled = 0;
    for (const auto& b : r.batches) settled += b.settled();
    o << "reconciliation of channel " << r.channel << ": " << r.turnout_records << " Turnout records in "
      << r.batches.size() << " batches, " << r.channel_records << " channel records\n";
    o << "  matched               " << r.matched << "\n";
    for (auto k : kBreakKinds) {
        std::string name = to_string(k);
        name.resize(22, ' ');
        o << "  " << name << r.count(k) << "\n";
    }
    o << "  batches settled       " << settled << " of " << r.batches.size() << "\n";
    for (const auto& b : r.breaks) {
        o << "  BREAK " << to_string(b.kind) << " " << b.payment_id;
        if (!b.batch_id.empty()) o << " batch " << b.batch_id;
        if (b.turnout_amount) o << " turnout " << *b.turnout_amount << " " << b.turnout_currency;
        if (b.channel_amount) o << " channel " << *b.channel_amount << " " << b.channel_currency;
        o << "\n";
    }
    o << (r.breaks.empty() ? "RECONCILED: no breaks\n" : "BREAKS: " + std::to_string(r.breaks.size()) + "\n");
    return o.str();
}

std::vector<ClearingFile> load_clearing_files(const std::string& dir, const std::string& channel,
                                              const ClearingSigner& sign) {
    namespace fs = std::filesystem;
    std::vector<ClearingFile> out;
    if (!fs::exists(dir)) return out;
    std::vector<fs::path> paths;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".csv" && e.path().filename().string()[0] != '.')
            paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string body = ss.str();
        std::string why;
        auto f = parse_clearing_csv(body, why);
        if (!f) throw std::runtime_error(p.string() + ": " + why);
        if (f->summary.channel != channel) continue;
        if (!verify_clearing_file(p.string(), sign, why)) throw std::runtime_error(p.string() + ": " + why);
        out.push_back(std::move(*f));
    }
    return out;
}

}  // namespace turnout
