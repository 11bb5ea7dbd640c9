#include "dr/takeover.hpp"

#include <boost/json.hpp>

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "codec/messages.hpp"
#include "codec/request_decoder.hpp"
#include "codec/result_decoder.hpp"
#include "connector_stage.hpp"
#include "domain/life_cycle.hpp"
#include "domain/life_cycle_ledger.hpp"
#include "kafka/records.hpp"
#include "model/time.hpp"
#include "risk/risk_stage.hpp"
#include "router/router_stage.hpp"
#include "settlement/batch_book.hpp"
#include "settlement/batch_log.hpp"
#include "settlement/clearing_file.hpp"
#include "settlement/cutoff.hpp"
#include "settlement/settlement_stage.hpp"

namespace turnout {

ChannelAnswer takeover_answer(const std::string& channel, const ChannelOutcome& o) {
    using K = ChannelOutcome::Kind;
    using A = ChannelAnswer::Kind;
    ChannelAnswer a{channel, A::unknown, o.code, o.channel_ref, o.approval_code};
    switch (o.kind) {
        case K::approved: a.kind = A::approved; break;
        case K::declined: a.kind = A::declined; break;
        case K::reversed: a.kind = o.code == "original_not_found" ? A::not_found : A::reversed; break;
        default: break;
    }
    return a;
}

namespace dr {
namespace {

// Records read further back than the window: a result or a clearing record is written after
// its request, and a result late by up to this much still counts.
constexpr int64_t kMarginMs = 10 * 60'000;

// One request DR holds.
struct Request {
    int32_t partition = 0;
    std::optional<PaymentRequest> request;  // nullopt: unreadable (rejection holds why)
    std::optional<Rejection> rejection;
    std::string payment_id, root_id;
};

// Reads `topic` from `from` (per partition) to its current end.
void read_topic(kafka::TopicReader& reader, const std::string& topic, const std::vector<kafka::Position>& from,
                const std::function<void(const kafka::Record&)>& fn) {
    const int64_t t0 = now_ms();
    std::map<int32_t, std::pair<int64_t, int64_t>> ranges;
    for (const auto& p : from) ranges[p.partition].first = p.offset;
    for (const auto& e : reader.ends_of(topic)) ranges[e.partition].second = e.offset;
    const int64_t t1 = now_ms();
    size_t n = 0;
    reader.read_ranges(topic, ranges, [&](const kafka::Record& r) {
        fn(r);
        ++n;
        return true;
    });
    spdlog::debug("dr-takeover: {}: {} records; ends in {} ms, read in {} ms", topic, n, t1 - t0, now_ms() - t1);
}

// The latest value of each key of a compacted changelog (an empty value removes the key).
std::unordered_map<std::string, std::pair<int32_t, std::string>> table_of(kafka::TopicReader& reader,
                                                                        const std::string& topic) {
    std::unordered_map<std::string, std::pair<int32_t, std::string>> t;
    read_topic(reader, topic, reader.starts_of(topic), [&](const kafka::Record& r) {
        if (r.value.empty())
            t.erase(std::string(r.key));
        else
            t[std::string(r.key)] = {r.partition, std::string(r.value)};
    });
    return t;
}

// A clearing CSV and its fixed-width twin, with their digests and signatures, into `dir`
// (what is there already is kept).
void copy_clearing_files(const std::string& csv_path, const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir, ec);
    const fs::path csv(csv_path);
    if (fs::equivalent(csv.parent_path(), dir, ec)) return;
    fs::path txt = csv;
    txt.replace_extension(".txt");
    for (const auto& f : {csv, txt})
        for (const char* suffix : {"", ".sha256", ".sig"}) {
            const fs::path from = f.string() + suffix;
            const fs::path to = fs::path(dir) / from.filename();
            if (!fs::exists(from) || fs::exists(to)) continue;
            std::ifstream in(from, std::ios::binary);
            std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (!in.good() && !in.eof()) throw std::runtime_error("cannot read " + from.string());
            write_file_atomically(to.string(), body);
        }
}

}  // namespace

std::string TakeoverReport::json() const {
    boost::json::object o;
    o["requests"] = requests;
    o["results"] = results;
    o["in_flight"] = in_flight;
    o["invalid"] = invalid;
    o["held_by_router"] = held;
    o["pending_at_channel"] = pending;
    o["restored_from_settlement_log"] = restored;
    o["ledger_entries"] = ledger_entries;
    o["batches_restored"] = batches_restored;
    o["batches_unrestorable"] = batches_unrestorable;
    o["batches_from_clearing_files"] = batches_from_files;
    o["clearing_files_unusable"] = clearing_files_unusable;
    o["batches_closed_without_file"] = batches_closed_without_file;
    o["pending_removed"] = pending_removed;
    boost::json::object by;
    for (const auto& [k, v] : outcomes) by[k] = v;
    o["outcomes"] = by;
    o["double_executions"] = double_executions;
    o["channel_calls"] = channel_calls;
    boost::json::array mv;
    for (const auto& m : moves)
        mv.push_back({{"group", m.group}, {"topic", m.topic}, {"partition", m.partition}, {"offset", m.offset}});
    o["moves"] = mv;
    o["took_ms"] = took_ms;
    return boost::json::serialize(o);
}

std::string TakeoverReport::text() const {
    std::ostringstream s;
    s << "dr-takeover: " << requests << " requests and " << results << " results read; " << in_flight
      << " in flight";
    if (!outcomes.empty()) {
        s << " (";
        bool first = true;
        for (const auto& [k, v] : outcomes) s << (first ? "" : ", ") << k << " " << v, first = false;
        s << ")";
    }
    s << "; " << restored << " results and " << batches_restored << " batch summaries restored from the settlement log";
    if (batches_unrestorable) s << " (" << batches_unrestorable << " batches not restorable: see the log)";
    s << "; " << batches_from_files << " batches adopted from the primary's clearing files";
    if (clearing_files_unusable) s << " (" << clearing_files_unusable << " files unusable: see the log)";
    if (batches_closed_without_file)
        s << "; " << batches_closed_without_file << " announced batches closed without their file (see the log)";
    s << "; " << held << " held by the router, " << pending
      << " pending at their channel (left to the stages), " << pending_removed << " pending entries of answered payments removed; " << double_executions << " double executions at the primary; "
      << moves.size() << " group offsets set; " << took_ms << " ms\n";
    return s.str();
}

TakeoverReport take_over(const Config& cfg, const CardVault* card_keys, const TakeoverOptions& o) {
    const int64_t started = now_ms();
    const auto& topics = cfg.kafka.topics;
    TakeoverReport rep;
    kafka::TopicReader reader(cfg.kafka, cfg.kafka.name_prefix + "turnout.dr-takeover");
    const int64_t since = started - o.window_ms;

    // 1. Results and clearing records from a margin before the window (results from
    //    settlement's committed offset, where that is earlier), then the window's requests. Only
    //    what the decisions need is kept: the payment_ids with a final result, the settling
    //    results (offset and payment_id), and the requests without a result.
    const auto settlement_group = settlement_options(cfg, "0").group_id;
    auto results_from = reader.positions_at(topics.results, since - kMarginMs);
    {
        kafka::TopicReader settled(cfg.kafka, settlement_group);
        if (auto c = settled.committed(results_from))
            for (size_t i = 0; i < results_from.size(); ++i)
                if ((*c)[i].offset >= 0 && (*c)[i].offset < results_from[i].offset) results_from[i].offset = (*c)[i].offset;
    }
    std::set<int32_t> results_partitions;
    for (const auto& pos : results_from) results_partitions.insert(pos.partition);
    std::map<int32_t, std::vector<ResultAt>> results_by_partition;
    std::unordered_set<std::string> answered;  // payment_ids with a final result
    read_topic(reader, topics.results, results_from, [&](const kafka::Record& r) {
        ++rep.results;
        auto checked = decode_result_checked(r.value, r.key, started);
        if (!checked.result) return;
        // Settlement's committed offset is no bound: it replicates apart from settlement's log.
        if (clearing_record_for(*checked.result))
            results_by_partition[r.partition].push_back({r.offset, checked.result->payment_id, true});
        if (!is_duplicate_answer(*checked.result)) answered.insert(checked.result->payment_id);
    });

    std::vector<Request> requests;                       // without a final result
    std::unordered_map<std::string, size_t> request_of;  // payment_id → its first request
    read_topic(reader, topics.requests, reader.positions_at(topics.requests, since), [&](const kafka::Record& r) {
        ++rep.requests;
        auto d = decode_request(r.value, cfg.max_record_bytes);
        Request q;
        q.partition = r.partition;
        if (d.request) {
            q.payment_id = d.request->payment_id;
            q.root_id = d.request->root_id();
            q.request = std::move(d.request);
        } else if (d.rejection && !d.rejection->payment_id.empty()) {
            q.payment_id = d.rejection->payment_id;
            q.root_id = d.rejection->root_id.empty() ? q.payment_id : d.rejection->root_id;
            q.rejection = d.rejection;
        } else {
            return;  // no readable payment_id: the router dead-letters it, nothing to answer
        }
        if (answered.count(q.payment_id)) return;
        if (request_of.emplace(q.payment_id, requests.size()).second) requests.push_back(std::move(q));
    });

    // A batch whose close reached DR but whose summary did not: closed at the primary (its
    // clearing files are the primary's), never closed again at DR. Its summary is rebuilt
    // from its records in the log and announced, naming the primary's files and digests.
    std::unordered_map<std::string, BatchLogEntry> announced;  // batch id → its close, as the summary names it
    read_topic(reader, topics.batches, reader.positions_at(topics.batches, since - kMarginMs),
               [&](const kafka::Record& r) {
                   BatchLogEntry close{BatchLogEntry::Op::close, {}, {}, 0, {}};
                   if (auto b = decode_batch_summary(r.value)) {
                       close.channel = b->channel;
                       close.currency = b->currency;
                       close.window_start_ms = b->window_start_ms;
                   }
                   announced.emplace(std::string(r.key), std::move(close));
               });

    // Settlement's replicated log: the clearing records it assigned, per results partition,
    // and the batches it closed (key: the batch id; an add's: <batch id>/<index>); the
    // records themselves only of batches not announced (open ones, or closed without summary).
    std::map<int32_t, std::unordered_set<std::string>> filed;  // settled by adopted clearing files
    std::map<int32_t, std::unordered_set<std::string>> logged;
    struct Restored {
        int32_t partition = 0;
        ClearingRecord record;
        ClearingEvidence from = ClearingEvidence::settlement_log;
    };
    std::vector<Restored> settled_without_result;
    std::unordered_set<std::string> restoring;  // their payment_ids
    std::map<std::string, std::map<std::string, ClearingRecord>> adds;  // batch id → index → record
    std::map<std::string, std::pair<BatchLogEntry, int64_t>> closes;    // batch id → close, its time
    read_topic(reader, topics.settlement_log, reader.positions_at(topics.settlement_log, since - kMarginMs),
               [&](const kafka::Record& r) {
                   auto e = decode_batch_log(r.value);
                   if (!e) return;
                   const std::string key(r.key);
                   if (e->op == BatchLogEntry::Op::close) {
                       closes[key] = {*e, kafka::timestamp_ms(r)};
                       return;
                   }
                   if (const auto slash = key.rfind('/'); e->op == BatchLogEntry::Op::add && slash != std::string::npos &&
                                                          !announced.count(key.substr(0, slash)))
                       adds[key.substr(0, slash)][key.substr(slash + 1)] = e->record;
                   (e->op == BatchLogEntry::Op::add ? logged : filed)[r.partition].insert(e->record.payment_id);
                   if (!answered.count(e->record.payment_id) && restoring.insert(e->record.payment_id).second)
                       settled_without_result.push_back({r.partition, e->record});
               });
    std::vector<Batch> unannounced;
    // A batch closed at the primary whose close did not reach DR's settlement log (its summary
    // may have, or not): DR's log holds at most a prefix of its records, and DR's settlement
    // would close it again under the same id with other totals. The clearing files the primary
    // delivered (--clearing-from) say which: each intact file of a batch of the window whose
    // close DR's log lacks is adopted. A close goes to the settlement log (DR never closes it
    // again), its records count as settled, those without a result at DR get theirs, and its
    // summary is announced where DR lacks it.
    // settlement.log entries: (partition, key, entry): each adopted batch's close, and a
    // `settled` entry per record (DR's settlement may read its result again past where it
    // resumes: the files break the prefix the log alone keeps).
    std::vector<std::tuple<int32_t, std::string, BatchLogEntry>> adopted_log;
    std::vector<std::string> adopted_files;
    std::unordered_set<std::string> adopted;  // their batch ids
    size_t adopted_unannounced = 0;           // of them, announced by the takeover
    if (!o.clearing_from.empty()) {
        // A batch of the window was closed after the window began: older files are not read.
        for (auto& f : read_clearing_files(o.clearing_from, o.sign, since - kMarginMs)) {
            if (!f.file && f.unfinished) {  // its batch's close never committed: DR closes it
                spdlog::warn("dr-takeover: clearing file {} not used: {}", f.path, f.problem);
                continue;
            }
            if (!f.file) {
                ++rep.clearing_files_unusable;
                spdlog::error("dr-takeover: clearing file {} not used: {}", f.path, f.problem);
                continue;
            }
            const auto& sm = f.file->summary;
            const auto action = filed_batch(announced.count(sm.batch_id) > 0, closes.count(sm.batch_id) > 0);
            if (sm.window_end_ms < since || action == FiledBatch::skip) continue;
            const auto p = batch_partition(sm.batch_id);
            if (!p || !results_partitions.count(*p)) {
                ++rep.clearing_files_unusable;
                spdlog::error("dr-takeover: clearing file {} names batch {}, not one of settlement's", f.path, sm.batch_id);
                continue;
            }
            Batch b{sm, std::move(f.file->records)};
            net_by_merchant(b);
            describe_clearing_files(b);
            b.summary.closed_at_ms = started;
            for (const auto& rec : b.records) {
                filed[*p].insert(rec.payment_id);
                adopted_log.push_back(
                    {*p, settled_key(rec.payment_id), {BatchLogEntry::Op::settled, rec.channel, rec.currency, sm.window_start_ms, rec}});
                if (!answered.count(rec.payment_id) && restoring.insert(rec.payment_id).second)
                    settled_without_result.push_back({*p, rec, ClearingEvidence::clearing_file});
            }
            adopted_log.push_back(
                {*p, sm.batch_id, {BatchLogEntry::Op::close, sm.channel, sm.currency, sm.window_start_ms, {}}});
            adopted.insert(sm.batch_id);
            adopted_files.push_back(f.path);
            spdlog::warn("dr-takeover: batch {} was closed at the primary, its close never reached DR: adopted from {}",
                         sm.batch_id, f.path);
            if (action == FiledBatch::adopt_and_announce) {
                unannounced.push_back(std::move(b));
                ++adopted_unannounced;
            }
            ++rep.batches_from_files;
        }
    // A batch whose close reached DR but neither its summary nor its file: rebuilt from its adds.
    const auto cutoffs = CutoffPlan::from(cfg.settlement);
    for (const auto& [id, close] : closes) {
        if (announced.count(id) || adopted.count(id)) continue;
        const auto& records = adds[id];
        // Complete only when its records from index 0 on are all within what was read.
        bool complete = !records.empty();
        size_t expected = 0;
        for (const auto& [index, rec] : records)
            complete = complete && index.size() == 10 && index.find_first_not_of("0123456789") == std::string::npos &&
                       std::stoull(index) == expected++;
        if (!complete) {
            ++rep.batches_unrestorable;
            spdlog::error("dr-takeover: batch {} was closed at the primary, its summary did not reach DR, and its "
                          "records are not all in the settlement log read; restore its clearing files from the "
                          "primary's backup (turnout clearing-check)",
                          id);
            continue;
        }
        Batch b;
        auto& sm = b.summary;
        sm.batch_id = id;
        sm.channel = close.first.channel;
        sm.currency = close.first.currency;
        sm.window_start_ms = close.first.window_start_ms;
        sm.window_end_ms = cutoffs.window(sm.channel, sm.window_start_ms).end_ms;
        for (const auto& [index, rec] : records) {
            b.records.push_back(rec);
            ++sm.record_count;
            (rec.amount > 0 ? sm.debit_total : sm.credit_total) += rec.amount > 0 ? rec.amount : -rec.amount;
        }
        sm.net = sm.debit_total - sm.credit_total;
        net_by_merchant(b);
        describe_clearing_files(b);
        sm.closed_at_ms = close.second;
        unannounced.push_back(std::move(b));
    }
    rep.batches_restored = unannounced.size() - adopted_unannounced;
    // A batch announced at DR whose close is not in DR's log and which no file adopted: its
    // close is written, so DR's settlement never closes it again with other totals (its records
    // beyond what DR's log holds are unknown here: a result of one read again would be
    // settled again; the restore check shows such a batch).
    for (const auto& [id, close] : announced) {
        if (closes.count(id) || adopted.count(id) || close.channel.empty()) continue;
        const auto p = batch_partition(id);
        if (!p || !results_partitions.count(*p)) continue;
        spdlog::error("dr-takeover: batch {} was announced at DR but its close is not in the settlement log and no "
                      "clearing file names it (--clearing-from): closed without its records",
                      id);
        adopted_log.push_back({*p, id, close});
        ++rep.batches_closed_without_file;
    }

    }

    // What the stages at DR will finish themselves.
    std::unordered_set<std::string> left_out;
    const auto ledger = table_of(reader, topics.lifecycle);
    for (const auto& [key, v] : ledger)
        if (auto slash = key.find('/'); slash != std::string::npos) {  // a held follow-up
            std::vector<InFlightFollowUp> root_in_flight;
            if (auto root = ledger.find(key.substr(0, slash)); root != ledger.end())
                if (auto lc = decode_life_cycle(root->second.second)) root_in_flight = std::move(lc->in_flight);
            if (!held_for_router(key.substr(slash + 1), root_in_flight)) continue;
            left_out.insert(key.substr(slash + 1));  // released by the router
            ++rep.held;
        }
    // A pending entry of a payment with a result at DR (its tombstone did not replicate), or
    // whose result the takeover restores: removed, or the connector at DR would answer it again.
    std::vector<std::pair<int32_t, std::string>> pending_done;
    for (const auto& [key, v] : table_of(reader, topics.pending)) {
        if (pending_entry(answered.count(key) > 0, restoring.count(key) > 0) == PendingEntry::removed)
            pending_done.emplace_back(v.first, key);
        else if (left_out.insert(key).second)
            ++rep.pending;
    }
    rep.pending_removed = pending_done.size();
    for (const auto& r : settled_without_result) left_out.insert(r.record.payment_id);

    // The routed records DR holds: the latest per payment (a channel topic's names the
    // attempts so far; payments.routed the plan).
    std::unordered_map<std::string, RoutedPayment> routed;
    auto keep_routed = [&](const kafka::Record& r) {
        auto p = decode_routed(r.value);
        if (p && request_of.count(p->request.payment_id)) routed[p->request.payment_id] = std::move(*p);
    };
    read_topic(reader, topics.routed, reader.positions_at(topics.routed, since), keep_routed);
    for (const auto& ch : cfg.channels)
        read_topic(reader, topics.channel(ch.id), reader.positions_at(topics.channel(ch.id), since), keep_routed);

    std::vector<ReplicatedRequest> replicated;
    replicated.reserve(requests.size());
    for (const auto& q : requests) replicated.push_back({q.payment_id, q.root_id});
    const auto flying = in_flight(replicated, {}, left_out);  // `requests` holds no answered payment
    spdlog::info("dr-takeover: read {} requests, {} results, {} routed records in {} ms; {} in flight", rep.requests,
                 rep.results, routed.size(), now_ms() - started, flying.size());
    rep.in_flight = flying.size();
    rep.restored = settled_without_result.size();

    // 2. Each in-flight payment's answers from the channels that may have it: those of its
    //    plan (a follow-up: its original's channel), every channel when DR holds no plan.
    std::vector<PaymentResult> decided;
    std::map<std::string, std::vector<size_t>> asked;  // channel → indexes into `skeleton`
    std::vector<RoutedPayment> skeleton;
    std::vector<std::vector<ChannelAnswer>> answers;
    for (const auto& id : flying) {
        const auto& q = requests[request_of.at(id)];
        if (!q.request) {  // unreadable: answered as the router answers it, nothing was sent
            ++rep.invalid;
            decided.push_back(make_rejected_result(q.payment_id, q.root_id,
                                                   {q.rejection->code, q.rejection->message}, started));
            decided.back().times.completed_at = started;
            continue;
        }
        RoutedPayment p;
        if (auto it = routed.find(id); it != routed.end()) {
            p = it->second;
        } else {
            p.request = *q.request;
            if (p.request.instrument) {  // never leaves this process in clear
                p.request.instrument->pan.clear();
                p.request.instrument->pin_block.clear();
            }
            p.times.created_at = p.request.created_at_ms;
        }
        p.home_partition = q.partition;
        std::vector<std::string> channels = p.route.channels;
        if (is_follow_up(p.request.type) && p.request.original && !p.request.original->channel.empty())
            channels = {p.request.original->channel};
        if (channels.empty())
            for (const auto& ch : cfg.channels) channels.push_back(ch.id);
        const size_t i = skeleton.size();
        skeleton.push_back(std::move(p));
        answers.emplace_back();
        for (const auto& ch : std::set<std::string>(channels.begin(), channels.end()))
            if (cfg.channel(ch)) asked[ch].push_back(i);
    }
    if (!o.dry_run) {
        for (const auto& [ch, idx] : asked) {
            auto conn = make_connector(*cfg.channel(ch), ConnectorContext{card_keys});
            for (size_t from = 0; from < idx.size(); from += o.channel_batch) {
                std::vector<RoutedPayment> batch;
                for (size_t k = from; k < std::min(idx.size(), from + o.channel_batch); ++k) batch.push_back(skeleton[idx[k]]);
                const auto outs = conn->cancel(batch);
                rep.channel_calls += batch.size();
                for (size_t k = 0; k < batch.size(); ++k)
                    answers[idx[from + k]].push_back(takeover_answer(ch, k < outs.size() ? outs[k] : ChannelOutcome{ChannelOutcome::Kind::failed}));
            }
        }
    }
    for (size_t i = 0; i < skeleton.size(); ++i) {
        const auto& p = skeleton[i];
        const auto t = takeover_result(p.request.payment_id, p.request.root_id(), answers[i], now_ms());
        auto res = result_for(p, t.status, t.reason, t.times.completed_at);
        res.channel = t.channel;
        res.channel_ref = t.channel_ref;
        res.approval_code = t.approval_code;
        rep.double_executions += t.reason.code == "double_execution_at_primary";
        if (t.reason.code == "double_execution_at_primary")
            spdlog::error("dr-takeover: payment {} was executed by more than one channel at the primary", res.payment_id);
        decided.push_back(std::move(res));
    }
    for (const auto& r : decided) ++rep.outcomes[std::string(to_string(r.status))];
    spdlog::info("dr-takeover: {} channels asked about {} payments; {} ms so far", asked.size(), rep.channel_calls,
                 now_ms() - started);

    // The router's ledger must know every payment the takeover answers, or a client's retry
    // at DR would be routed afresh: an entry for each root it never recorded.
    std::map<int32_t, LifeCycleLedger> ledgers;
    auto admit = [&](const PaymentRequest& req, int32_t partition) {
        auto& l = ledgers[partition];
        const auto root = req.root_id();
        if (!l.find(root))
            if (auto it = ledger.find(root); it != ledger.end()) l.replay(root, it->second.second);
        if (!l.find(root) && is_follow_up(req.type)) return;  // its original is unknown here too
        if (!l.answered(req)) l.admit(req, started);
    };
    for (const auto& id : flying)
        if (const auto& q = requests[request_of.at(id)]; q.request) admit(*q.request, q.partition);
    for (const auto& [p, rec, from] : settled_without_result)
        if (auto it = request_of.find(rec.payment_id); it != request_of.end() && requests[it->second].request)
            admit(*requests[it->second].request, requests[it->second].partition);

    if (o.dry_run) {
        rep.took_ms = now_ms() - started;
        return rep;
    }

    // 3. Writes: ledger entries and restored results, then (their offsets known) the results
    //    of the in-flight payments; then the groups move.
    kafka::Producer producer(cfg.kafka, {{"enable.idempotence", "true"}, {"acks", "all"}});
    auto send = [&](const kafka::OutRecord& r) {
        if (!producer.produce(r)) throw std::runtime_error("cannot produce to " + r.topic);
    };
    for (auto& [partition, l] : ledgers)
        for (auto& [key, value] : l.take_changes()) {
            send({topics.lifecycle, key, value, {}, partition});
            ++rep.ledger_entries;
        }
    for (const auto& [p, rec, from] : settled_without_result) {
        auto it = request_of.find(rec.payment_id);
        const std::string root = it != request_of.end() ? requests[it->second].root_id : rec.payment_id;
        send(kafka::result_record(topics, result_from_clearing(rec, root, from), {}, p));
    }
    // An adopted batch's close and settled entries before its summary (a rerun adopts a batch not yet announced
    // again), and its files beside DR's own, so DR's backups hold every batch it announced.
    for (const auto& [p, key, e] : adopted_log) send({topics.settlement_log, key, encode_batch_log(e), {}, p});
    for (const auto& [p, key] : pending_done) send({topics.pending, key, {}, {}, p});  // tombstones
    if (!producer.flush(60'000)) throw std::runtime_error("restored results not delivered within 60 s");
    for (const auto& path : adopted_files) copy_clearing_files(path, cfg.settlement.output_dir);
    for (const auto& b : unannounced)
        send({topics.batches, b.summary.batch_id, encode_batch_summary(b.summary), {}});
    if (!producer.flush(60'000)) throw std::runtime_error("restored batch summaries not delivered within 60 s");
    std::map<int32_t, int64_t> results_end;
    for (const auto& e : reader.ends_of(topics.results)) results_end[e.partition] = e.offset;
    for (const auto& r : decided)
        send(kafka::result_record(topics, r, {}, requests[request_of.at(r.payment_id)].partition));
    if (!producer.flush(60'000)) throw std::runtime_error("takeover results not delivered within 60 s");

    // A group with a live member refuses the commit: the stages must not run yet.
    auto move = [&](const std::string& group, const std::vector<kafka::Position>& to) {
        kafka::TopicReader g(cfg.kafka, group);
        std::string why;
        if (!g.commit(to, why)) throw std::runtime_error("cannot move group " + group + ": " + why);
        for (const auto& x : to) rep.moves.push_back({group, x.topic, x.partition, x.offset});
    };
    auto ends = [&](const std::string& t) { return reader.ends_of(t); };
    // Router, risk and connectors re-run nothing the primary may have done: they start at
    // the end of their inputs (the router keeps its results offset: re-reading results only
    // brings its ledger up to date).
    move(router_options(cfg, "0").group_id, ends(topics.requests));
    move(risk_options(cfg, "0").group_id, ends(topics.routed));
    for (const auto& ch : cfg.channels) move(connector_options(cfg, ch.id, "0").group_id, ends(topics.channel(ch.id)));
    std::vector<kafka::Position> resume;
    for (const auto& [p, end] : results_end)
        resume.push_back({topics.results, p, settlement_resume_offset(results_by_partition[p], logged[p], filed[p], end)});
    move(settlement_group, resume);
    rep.took_ms = now_ms() - started;
    return rep;
}

}  // namespace dr
}  // namespace turnout
