// The `iso8583` channel kind: a card host spoken to in ISO 8583:1987 over persistent TCP
// connections (docs/design.md, "ISO 8583 mapping", docs/connectors.md).
//
// One io_context thread per connector owns every socket, timer and pending request, so
// nothing below takes a lock; call() hands a batch over and waits for its outcomes.
// - A pool of `connections` connections, each with its own terminal id (field 41: prefix +
//   random characters, drawn anew on every connect), and one STAN sequence (field 11) for
//   the whole pool, so no two messages in flight share a STAN and field 90 (MTI, STAN,
//   transmission time, acquirer) names exactly one original. STAN + terminal matches a
//   response to its request. Requests are spread round-robin, many in flight each.
// - A request not answered within timeout_ms (or in flight on a connection that dropped) is
//   reversed: 0400 with the original's terminal and field 90, repeated as 0401 (same STAN)
//   up to reversal_retries times. The 0410's field 39 decides (reversal_verdict): 00 ends the
//   payment `reversed`, 25 (original unknown to the host) too; any other code or silence
//   repeats, and past the last repeat the payment is `failed` (`unknown_outcome`). A
//   response arriving after its timeout is matched, logged and counted, and changes nothing.
// - Before a request leaves it is written to the in-doubt journal (journal.hpp); once the
//   stage has committed its outcome the entry is removed. A payment delivered again while
//   its entry is there (the process died before the commit) is reversed, not sent again;
//   after an aborted transaction (same process) the outcome already received is reused.
// - A request that could not leave (no connection within connect_timeout_ms, the connection
//   broke before it was written) is a soft failure: the next channel of the plan may try it.
#include <boost/asio.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <chrono>
#include <deque>
#include <future>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "connector.hpp"
#include "iso8583/journal.hpp"
#include "iso8583/link.hpp"
#include "iso8583/mapping.hpp"
#include "iso8583/settings.hpp"
#include "metrics/metrics.hpp"
#include "model/time.hpp"
#include "iso8583/mac.hpp"
#include "security/card_vault.hpp"
#include "security/constant_time.hpp"

namespace turnout::iso8583 {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using K = ChannelOutcome::Kind;

// The ISO 8583 channels' own families (docs/metrics.md, "ISO 8583 channels"), resolved per
// channel when the connector is made.
CounterFamily& reversals() {
    static auto& f = declare_counter("turnout_channel_reversals_total",
                                     "Reversals of unanswered channel requests, by channel and outcome "
                                     "(sent, acknowledged, original_not_found, refused, unanswered, recovered)");
    return f;
}
CounterFamily& late_responses() {
    static auto& f = declare_counter("turnout_channel_late_responses_total",
                                     "Channel responses that arrived after their request timed out");
    return f;
}
CounterFamily& protocol_errors() {
    static auto& f = declare_counter("turnout_channel_protocol_errors_total",
                                     "Unreadable or unmatched messages from a channel, by channel and kind");
    return f;
}
GaugeFamily& connections() {
    static auto& f = declare_gauge("turnout_channel_connections", "Open connections to a channel's host");
    return f;
}

struct Batch {
    std::vector<ChannelOutcome> outcomes;
    std::vector<char> journaled;  // the payment's request is in the journal
    size_t remaining = 0;
    std::promise<void> done;
};

struct Connection;

struct Pending {
    enum class State { queued, sent, reversing, done };
    std::shared_ptr<Batch> batch;
    size_t index = 0;
    IsoMessage request;   // stamped when sent
    IsoMessage reversal;  // built on the first timeout
    bool is_void = false;  // a void is itself a 0400: on timeout it is repeated, not reversed
    bool recovered = false;  // journaled by an earlier process: reverse it, do not send it
    bool takeover = false;   // asked by a site taking over (cancel()): reversed by RRN
    std::string payment_id;
    State state = State::queued;
    int reversal_attempts = 0;
    bool reversal_sent = false;      // a 0400 left: what follows is a repeat (0401)
    std::string last_reversal_code;  // of the last 0410 that did not settle it
    Clock::time_point wait_until;  // queued: soft failure if no connection by then
    std::string key;               // STAN + terminal of the message awaiting an answer
    Connection* conn = nullptr;
    bool written = false;
    std::unique_ptr<asio::steady_timer> timer;
};
using PendingPtr = std::shared_ptr<Pending>;

struct Connection {
    explicit Connection(asio::io_context& io) : socket(io), echo_timer(io), retry_timer(io) {}
    tcp::socket socket;
    std::shared_ptr<TlsStream> tls;  // over `socket` when the channel has tls; null without
    asio::steady_timer echo_timer, retry_timer;
    enum class State { down, connecting, up } state = State::down;
    uint64_t generation = 0;  // handlers of an earlier socket compare and return
    std::string terminal;
    int backoff_ms = 0;
    uint8_t header[4] = {};
    std::vector<uint8_t> body;
    struct Out {
        std::vector<uint8_t> bytes;
        std::weak_ptr<Pending> pending;
    };
    std::deque<Out> writes;
    bool writing = false;
    Clock::time_point last_activity;
    std::string echo_stan;  // non-empty while an 0800 awaits its 0810
    Clock::time_point echo_sent;
};

class IsoConnector : public Connector {
public:
    IsoConnector(std::string channel, ChannelSettings s, const CardVault* card_keys)
        : channel_(std::move(channel)),
          s_(std::move(s)),
          tick_(io_),
          rng_(std::random_device{}()),
          reversals_not_found_(reversals().Add({{"channel", channel_}, {"outcome", "original_not_found"}})),
          reversals_refused_(reversals().Add({{"channel", channel_}, {"outcome", "refused"}})),
          recovered_reversals_(reversals().Add({{"channel", channel_}, {"outcome", "recovered"}})),
          reversals_sent_(reversals().Add({{"channel", channel_}, {"outcome", "sent"}})),
          reversals_acked_(reversals().Add({{"channel", channel_}, {"outcome", "acknowledged"}})),
          reversals_unanswered_(reversals().Add({{"channel", channel_}, {"outcome", "unanswered"}})),
          late_(late_responses().Add({{"channel", channel_}})),
          malformed_(protocol_errors().Add({{"channel", channel_}, {"kind", "malformed"}})),
          unmatched_(protocol_errors().Add({{"channel", channel_}, {"kind", "unmatched"}})),
          bad_mac_(protocol_errors().Add({{"channel", channel_}, {"kind", "bad_mac"}})),
          card_data_unavailable_(
              protocol_errors().Add({{"channel", channel_}, {"kind", "card_data_unavailable"}})),
          bad_pin_block_(protocol_errors().Add({{"channel", channel_}, {"kind", "bad_pin_block"}})),
          connections_up_(connections().Add({{"channel", channel_}})) {
        // The keys the role loaded from security.key_provider; the channel's own keys_file only
        // where the connector runs without a role (bench-connector, tests).
        if (!card_keys && !s_.keys_file.empty())
            own_vault_ = std::make_unique<CardVault>(load_vault_keys(s_.keys_file, "channels." + channel_ + ".keys_file"));
        vault_ = card_keys ? card_keys : own_vault_.get();
        if (s_.tls.enabled()) tls_ctx_ = client_tls_context(s_.tls, channel_);
        if (!s_.mac_key.empty() && (!vault_ || !vault_->mac8(s_.mac_key, {})))
            throw ConfigError("channel `" + channel_ + "`: MAC key `" + s_.mac_key + "` is not among the keys loaded");
        if (!s_.pin_key.empty()) {
            const size_t block = vault_ ? vault_->provider().pin_block_size(s_.pin_key) : 0;
            if (block == 0)
                throw ConfigError("channel `" + channel_ + "`: PIN key `" + s_.pin_key + "` is not among the keys loaded");
            if (static_cast<int>(block) != s_.layout.fields[52].length)
                throw ConfigError("channel `" + channel_ + "`: PIN key `" + s_.pin_key + "` makes " +
                                  std::to_string(block) + "-byte PIN blocks; the layout's field 52 holds " +
                                  std::to_string(s_.layout.fields[52].length));
            if (vault_->provider().acquiring_pin_key().empty())
                throw ConfigError("channel `" + channel_ + "` has a pin_key, but the keys name no acquiring_pin_key "
                                  "to translate PIN blocks from");
        }
        // Random start: two processes of one channel (same acquirer id) rarely give the same
        // STAN in the same second; within the process the sequence is shared by the pool.
        stan_ = static_cast<uint32_t>(std::uniform_int_distribution<int>(0, 999998)(rng_));
        if (!s_.journal_dir.empty()) {
            std::string error;
            journal_ = Journal::open(s_.journal_dir, channel_, now_ms(), kJournalKeepMs, &error);
            // Without its journal the channel would send again what it cannot prove answered.
            if (!journal_) throw ConfigError("channel `" + channel_ + "`: in-doubt journal: " + error);
        } else {
            spdlog::warn("channel {}: no journal_dir: requests in flight when the process dies are not reversed", channel_);
        }
        for (int i = 0; i < s_.connections; ++i) pool_.push_back(std::make_unique<Connection>(io_));
        asio::post(io_, [this] {
            for (auto& c : pool_) connect(*c);
            arm_tick();
        });
        thread_ = std::thread([this] { io_.run(); });
    }

    ~IsoConnector() override {
        // No call() is running: close everything on the I/O thread, then let it end.
        asio::post(io_, [this] {
            stopping_ = true;
            tick_.cancel();
            for (auto& c : pool_) {
                boost::system::error_code ec;
                c->socket.close(ec);
                c->echo_timer.cancel();
                c->retry_timer.cancel();
            }
            outstanding_.clear();
            queue_.clear();
            io_.stop();
        });
        if (thread_.joinable()) thread_.join();
    }

    bool takes_pin() const override { return !s_.pin_key.empty(); }

    std::vector<ChannelOutcome> call(std::span<const RoutedPayment> batch) override {
        auto b = std::make_shared<Batch>();
        b->outcomes.resize(batch.size());
        b->journaled.assign(batch.size(), 0);
        std::vector<PendingPtr> ready;
        for (size_t i = 0; i < batch.size(); ++i) {
            const auto& id = batch[i].request.payment_id;
            if (auto it = replay_.find(id); it != replay_.end()) {
                // Answered in a transaction that aborted: the same outcome, no second request.
                b->outcomes[i] = it->second;
                b->journaled[i] = 1;
                continue;
            }
            std::string why;
            // Sent by a process that died before recording the outcome: it is reversed, not
            // sent, so neither its card number nor its PIN is needed (field 90 and the
            // terminal name the original).
            const JournalEntry* recovered = nullptr;
            if (journal_)
                if (auto it = journal_->recovered().find(id); it != journal_->recovered().end()) recovered = &it->second;
            const auto pan = pan_of(batch[i]);
            if (!recovered && pan.empty() && batch[i].request.instrument && batch[i].request.instrument->sealed_pan) {
                // A card payment whose number this process cannot open (keys missing or the
                // envelope not sealed for this payment) is refused here, never sent without it.
                if (card_data_unavailable_.Value() == 0 || static_cast<int64_t>(card_data_unavailable_.Value()) % 10000 == 0)
                    spdlog::error("channel {}: the card number of payment {} cannot be opened with this process's keys "
                                  "(key id {}); declined as card_data_unavailable",
                                  channel_, id, batch[i].request.instrument->sealed_pan->key_id);
                card_data_unavailable_.Increment();
                b->outcomes[i] = {K::declined, "card_data_unavailable", "the card number could not be opened", "", ""};
                continue;
            }
            auto msg = request_for(batch[i], pan, s_.message, &why);
            if (!msg) {
                b->outcomes[i] = {K::declined, "invalid_original", why, "", ""};
                continue;
            }
            if (const auto& in = batch[i].request.instrument; !recovered && in && !in->pin_block.empty()) {
                auto f52 = pin_field(*in, pan, id, b->outcomes[i]);
                if (!f52) continue;
                msg->set(52, std::move(*f52));
            }
            auto p = std::make_shared<Pending>();
            p->batch = b;
            p->index = i;
            p->payment_id = id;
            p->is_void = batch[i].request.type == PaymentType::void_;
            p->request = std::move(*msg);
            if (recovered) {
                // This is the request the host may hold.
                const auto& e = *recovered;
                p->recovered = true;
                p->request.mti = e.mti;
                p->request.set(7, e.transmission);
                p->request.set(11, e.stan);
                p->request.set(41, e.terminal);
                if (!e.acquirer.empty()) p->request.set(32, e.acquirer);
                b->journaled[i] = 1;
            }
            ready.push_back(std::move(p));
        }
        send_and_wait(b, std::move(ready));
        for (size_t i = 0; i < batch.size(); ++i)
            if (b->journaled[i]) uncommitted_.emplace_back(batch[i].request.payment_id, b->outcomes[i]);
        return std::move(b->outcomes);
    }

    // A site taking over from a lost one (turnout dr-takeover) asks this channel about
    // payments the lost site may have sent: each is reversed by its RRN, never sent. The
    // original's STAN, transmission time and terminal were the lost site's, so field 90 names
    // them as zeros and the host finds the original by the RRN (field 37). 00: `reversed`;
    // 25: `reversed` with code original_not_found (the host never executed it); no 00/25
    // after the repeats: `failed` (unknown_outcome). Nothing is journaled: nothing is sent.
    std::vector<ChannelOutcome> cancel(std::span<const RoutedPayment> batch) override {
        auto b = std::make_shared<Batch>();
        b->outcomes.resize(batch.size());
        b->journaled.assign(batch.size(), 0);
        std::string terminal = s_.terminal_prefix;
        terminal.resize(8, '0');
        std::vector<PendingPtr> ready;
        for (size_t i = 0; i < batch.size(); ++i) {
            std::string why;
            auto msg = request_for(batch[i], {}, s_.message, &why);
            if (!msg) {
                b->outcomes[i] = {K::failed, "unknown_outcome", "cannot name the original: " + why, "", ""};
                continue;
            }
            auto p = std::make_shared<Pending>();
            p->batch = b;
            p->index = i;
            p->payment_id = batch[i].request.payment_id;
            p->request = std::move(*msg);
            p->recovered = true;  // reversed, never sent
            p->takeover = true;
            p->request.set(7, std::string(10, '0'));
            p->request.set(11, std::string(6, '0'));
            p->request.set(41, terminal);
            ready.push_back(std::move(p));
        }
        send_and_wait(b, std::move(ready));
        return std::move(b->outcomes);
    }

    // The outcomes of every call so far are recorded: their journal entries can go.
    void committed() override {
        if (!journal_ || uncommitted_.empty()) return;
        std::vector<std::string> ids;
        ids.reserve(uncommitted_.size());
        for (auto& [id, o] : uncommitted_) {
            replay_.erase(id);
            ids.push_back(std::move(id));
        }
        uncommitted_.clear();
        journal_->forget(ids);
    }

    // The outcomes since the last commit were not recorded: the payments come again, and
    // get the outcome the host already gave.
    void aborted() override {
        for (auto& [id, o] : uncommitted_) replay_[id] = std::move(o);
        uncommitted_.clear();
    }

private:
    // Queues `ready` on the I/O thread and waits until every one of them has its outcome.
    void send_and_wait(const std::shared_ptr<Batch>& b, std::vector<PendingPtr> ready) {
        if (!ready.empty()) {
            b->remaining = ready.size();
            auto done = b->done.get_future();
            asio::post(io_, [this, ready = std::move(ready)] {
                const auto until = Clock::now() + std::chrono::milliseconds(s_.connect_timeout_ms);
                for (const auto& p : ready) {
                    if (p->recovered && !p->takeover) {
                        recovered_reversals_.Increment();
                        spdlog::warn("channel {}: payment {} was in flight when an earlier process stopped (STAN {}, "
                                     "terminal {}): reversing it",
                                     channel_, p->payment_id, p->request.get(11), p->request.get(41));
                    }
                    p->wait_until = until;
                    queue_.push_back(p);  // a recovered one is reversed once a connection is up
                }
                pump();
            });
            done.wait();
        }
    }

    std::string pan_of(const RoutedPayment& p) const {
        if (!p.request.instrument) return {};
        const auto& in = *p.request.instrument;
        if (!in.pan.empty()) return in.pan;
        if (in.sealed_pan && vault_)
            if (auto pan = vault_->open(*in.sealed_pan, {kPanField, p.request.payment_id})) return *pan;
        return {};
    }

    // Field 52 of a payment whose request carries a PIN block: the block translated from the
    // acquiring zone key to the channel's pin_key (security/pin_block.hpp). nullopt, with
    // `out` set, when nothing is sent: a channel without a pin_key takes no PIN (a soft
    // failure: the next channel of the plan may take the payment); a block that does not
    // translate — under another key, tampered with, or another card's — is declined.
    std::optional<std::string> pin_field(const Instrument& in, const std::string& pan, const std::string& id,
                                         ChannelOutcome& out) {
        if (s_.pin_key.empty()) {
            out = {K::soft_failure, "pin_not_supported", "the channel takes no PIN", "", ""};
            return std::nullopt;
        }
        // Hex as the router passed it on; anything else (a forged routed record) is no block.
        const auto block = in.pin_block.size() <= 32 ? parse_hex_bytes(in.pin_block).value_or(std::vector<uint8_t>{})
                                                     : std::vector<uint8_t>{};
        std::string why = "no keys loaded";
        auto translated = vault_ ? vault_->translate_pin(block, s_.pin_key, pan, &why) : std::nullopt;
        if (!translated) {
            bad_pin_block_.Increment();
            // The reason stays in the log: a requester learns only that the block was refused.
            spdlog::warn("channel {}: payment {}: PIN block not translated ({}); declined invalid_pin_block", channel_,
                         id, why);
            out = {K::declined, "invalid_pin_block", "the PIN block could not be used", "", ""};
            return std::nullopt;
        }
        return std::string(translated->begin(), translated->end());
    }

    // ---- connections ----------------------------------------------------------------------

    std::string new_terminal() {
        static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        std::string t = s_.terminal_prefix;
        std::uniform_int_distribution<int> d(0, 35);
        while (t.size() < 8) t.push_back(alphabet[d(rng_)]);
        return t;
    }

    void connect(Connection& c) {
        if (stopping_) return;
        c.state = Connection::State::connecting;
        const uint64_t gen = ++c.generation;
        c.tls.reset();  // handlers still pending on the old stream keep it alive
        c.socket = tcp::socket(io_);
        boost::system::error_code ec;
        tcp::resolver resolver(io_);
        const auto endpoints = resolver.resolve(s_.host, std::to_string(s_.port), ec);
        if (ec) return connect_failed(c, gen, ec);
        c.retry_timer.expires_after(std::chrono::milliseconds(s_.connect_timeout_ms));
        c.retry_timer.async_wait([this, &c, gen](const boost::system::error_code& e) {
            if (!e && c.generation == gen && c.state == Connection::State::connecting) {
                boost::system::error_code ignore;
                c.socket.close(ignore);  // the pending async_connect completes with an error
            }
        });
        asio::async_connect(c.socket, endpoints, [this, &c, gen](const boost::system::error_code& e, const tcp::endpoint&) {
            if (c.generation != gen || stopping_) return;
            if (e || !tls_ctx_) {
                c.retry_timer.cancel();
                return e ? connect_failed(c, gen, e) : connected(c, gen);
            }
            // TLS: the host's certificate must chain to tls.ca_file and carry server_name; the
            // connect timeout covers the handshake too.
            c.tls = std::make_shared<TlsStream>(c.socket, *tls_ctx_);
            const auto& name = s_.tls.server_name;
            if (!SSL_set_tlsext_host_name(c.tls->native_handle(), name.c_str())) {
                c.retry_timer.cancel();
                return connect_failed(c, gen, boost::system::error_code(EINVAL, boost::system::generic_category()));
            }
            c.tls->set_verify_callback(asio::ssl::host_name_verification(name));
            c.tls->async_handshake(asio::ssl::stream_base::client,
                                   [this, &c, gen, keep = c.tls](const boost::system::error_code& he) {
                                       if (c.generation != gen || stopping_) return;
                                       c.retry_timer.cancel();
                                       if (he) return connect_failed(c, gen, he);
                                       connected(c, gen);
                                   });
        });
    }

    void connected(Connection& c, uint64_t gen) {
        boost::system::error_code ignore;
        // No Nagle delay on what the connector writes, and no delayed ACK on what it reads:
        // a host that leaves Nagle on holds its next answer until the previous one is
        // acknowledged, which a delayed ACK postpones by up to ~40 ms per batch.
        c.socket.set_option(tcp::no_delay(true), ignore);
        quick_ack(c);
        c.state = Connection::State::up;
        c.terminal = new_terminal();
        c.backoff_ms = 0;
        c.last_activity = Clock::now();
        c.echo_stan.clear();
        connections_up_.Increment();
        spdlog::info("channel {}: connected to {}:{}{} as terminal {}", channel_, s_.host, s_.port,
                     c.tls ? " over TLS" : "", c.terminal);
        read_header(c, gen);
        arm_echo(c, gen);
        pump();
    }

    void connect_failed(Connection& c, uint64_t gen, const boost::system::error_code& e) {
        if (c.generation != gen) return;
        c.state = Connection::State::down;
        c.backoff_ms = c.backoff_ms ? std::min(c.backoff_ms * 2, s_.reconnect_max_ms) : s_.reconnect_min_ms;
        spdlog::warn("channel {}: cannot connect to {}:{}: {} (retry in {} ms)", channel_, s_.host, s_.port, e.message(),
                     c.backoff_ms);
        schedule_reconnect(c);
    }

    void schedule_reconnect(Connection& c) {
        const uint64_t gen = c.generation;
        c.retry_timer.expires_after(std::chrono::milliseconds(c.backoff_ms));
        c.retry_timer.async_wait([this, &c, gen](const boost::system::error_code& e) {
            if (!e && c.generation == gen && !stopping_) connect(c);
        });
    }

    // The connection broke: what was written may have reached the host (reverse it), what
    // was not can go to the next channel.
    void connection_lost(Connection& c, uint64_t gen, const std::string& why) {
        if (c.generation != gen || c.state != Connection::State::up) return;
        ++c.generation;
        c.state = Connection::State::down;
        connections_up_.Decrement();
        boost::system::error_code ignore;
        c.socket.close(ignore);
        c.echo_timer.cancel();
        c.writes.clear();
        c.writing = false;
        spdlog::warn("channel {}: connection (terminal {}) lost: {}", channel_, c.terminal, why);
        std::vector<PendingPtr> affected;
        for (auto it = outstanding_.begin(); it != outstanding_.end();) {
            if (it->second->conn == &c) {
                affected.push_back(it->second);
                it = outstanding_.erase(it);
            } else {
                ++it;
            }
        }
        for (auto& p : affected) {
            --in_flight_;
            p->timer->cancel();
            p->conn = nullptr;
            if (p->state == Pending::State::sent && !p->written)
                finish(*p, {K::soft_failure, "connection_lost", "the connection broke before the request left", "", ""});
            else
                no_answer(p);
        }
        c.backoff_ms = s_.reconnect_min_ms;
        schedule_reconnect(c);
        pump();
    }

    Connection* pick() {
        for (size_t i = 0; i < pool_.size(); ++i) {
            auto& c = *pool_[(next_conn_ + i) % pool_.size()];
            if (c.state == Connection::State::up) {
                next_conn_ = (next_conn_ + i + 1) % pool_.size();
                return &c;
            }
        }
        return nullptr;
    }

    // ---- writing and reading --------------------------------------------------------------

    uint32_t next_stan() {
        stan_ = stan_ % 999999 + 1;  // 000001..999999
        return stan_;
    }

    static void quick_ack(Connection& c) {
#ifdef TCP_QUICKACK
        const int one = 1;
        ::setsockopt(c.socket.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
        (void)c;
#endif
    }

    // Stamps `m` unless it carries a STAN already (a repeat keeps it): the next STAN of the
    // pool, the time, and the terminal of `c` unless `m` names one (a reversal names its
    // original's). Then packs and frames it; nullopt if it does not pack.
    std::optional<std::vector<uint8_t>> prepare(Connection& c, IsoMessage& m) {
        if (!m.has(11)) {
            const std::string terminal = m.has(41) ? m.get(41) : c.terminal;
            stamp(m, next_stan(), terminal, now_ms());
        }
        std::string error;
        auto body = pack_message(m, &error);
        std::optional<std::vector<uint8_t>> framed;
        if (body) framed = frame(s_.length_header, *body);
        if (!framed)
            spdlog::warn("channel {}: {} does not pack: {}", channel_, m.mti, body ? "too long for the length header" : error);
        return framed;
    }

    // Stamps, packs and writes `m` on `c`; registers `p` as awaiting the answer. False if
    // the message does not pack.
    bool send(Connection& c, IsoMessage& m, const PendingPtr& p, int timeout_ms) {
        auto framed = prepare(c, m);
        if (!framed) return false;
        dispatch(c, m, p, std::move(*framed), timeout_ms);
        return true;
    }

    void dispatch(Connection& c, const IsoMessage& m, const PendingPtr& p, std::vector<uint8_t> framed, int timeout_ms) {
        p->key = m.get(11) + m.get(41);
        p->conn = &c;
        p->written = false;
        outstanding_[p->key] = p;
        ++in_flight_;
        c.writes.push_back({std::move(framed), p});
        if (!c.writing) write_next(c, c.generation);
        p->timer->expires_after(std::chrono::milliseconds(timeout_ms));
        p->timer->async_wait([this, p, key = p->key](const boost::system::error_code& e) {
            if (e || p->key != key || p->state == Pending::State::done) return;
            auto it = outstanding_.find(key);
            if (it == outstanding_.end() || it->second != p) return;
            outstanding_.erase(it);
            --in_flight_;
            remember_late(key);
            p->conn = nullptr;
            no_answer(p);
            pump();
        });
    }

    void write_next(Connection& c, uint64_t gen) {
        if (c.writes.empty()) {
            c.writing = false;
            return;
        }
        c.writing = true;
        link_write(c.socket, c.tls, asio::buffer(c.writes.front().bytes),
                          [this, &c, gen](const boost::system::error_code& e, size_t) {
                              if (c.generation != gen) return;
                              if (e) return connection_lost(c, gen, "write: " + e.message());
                              if (auto p = c.writes.front().pending.lock()) p->written = true;
                              c.writes.pop_front();
                              c.last_activity = Clock::now();
                              write_next(c, gen);
                          });
    }

    void write_raw(Connection& c, std::vector<uint8_t> bytes) {
        c.writes.push_back({std::move(bytes), {}});
        if (!c.writing) write_next(c, c.generation);
    }

    void read_header(Connection& c, uint64_t gen) {
        link_read(c.socket, c.tls, asio::buffer(c.header, header_size(s_.length_header)),
                         [this, &c, gen](const boost::system::error_code& e, size_t) {
                             if (c.generation != gen) return;
                             if (e) return connection_lost(c, gen, "read: " + e.message());
                             const auto n = body_length(s_.length_header, {c.header, header_size(s_.length_header)});
                             if (!n || *n == 0 || *n > kMaxMessage) {
                                 malformed_.Increment();
                                 return connection_lost(c, gen, "bad length header");
                             }
                             c.body.resize(*n);
                             link_read(c.socket, c.tls, asio::buffer(c.body),
                                              [this, &c, gen](const boost::system::error_code& e2, size_t) {
                                                  if (c.generation != gen) return;
                                                  if (e2) return connection_lost(c, gen, "read: " + e2.message());
                                                  c.last_activity = Clock::now();
                                                  quick_ack(c);  // Linux clears it after a while
                                                  on_message(c);
                                                  if (c.generation == gen) read_header(c, gen);
                                              });
                         });
    }

    // Packs `m`, with its MAC when the channel has a mac_key.
    std::optional<std::vector<uint8_t>> pack_message(const IsoMessage& m, std::string* error) const {
        if (s_.mac_key.empty()) return pack(s_.layout, m, error);
        return pack_with_mac(
            s_.layout, m, [&](std::span<const uint8_t> d) { return vault_->mac8(s_.mac_key, d); }, error);
    }

    // A message whose MAC is missing or wrong is not the host's answer: it is dropped as if
    // never received (the request times out and is reversed), counted and logged.
    bool mac_verified(const IsoMessage& m, std::span<const uint8_t> body) {
        if (s_.mac_key.empty()) return true;
        std::string why;
        const auto view = mac_view(s_.layout, m, body, &why);
        const auto expected = view ? vault_->mac8(s_.mac_key, view->covered) : std::nullopt;
        if (view && expected &&
            equal_constant_time(view->carried, std::string_view(reinterpret_cast<const char*>(expected->data()), 8)))
            return true;
        bad_mac_.Increment();
        spdlog::warn("channel {}: {} (STAN {}, terminal {}) {}; dropped as not received", channel_, m.mti, m.get(11),
                     m.get(41), view ? "fails its MAC check" : why);
        return false;
    }

    void on_message(Connection& c) {
        std::string error;
        auto m = unpack(s_.layout, c.body, &error);
        if (!m) {
            malformed_.Increment();
            spdlog::warn("channel {}: unreadable message from the host ({}); ignored", channel_, error);
            return;
        }
        if (!mac_verified(*m, c.body)) return;
        if (m->mti == "0810") {
            if (m->get(11) == c.echo_stan) c.echo_stan.clear();
            return;
        }
        if (m->mti == "0800") {  // the host's own echo: answer it
            IsoMessage r = *m;
            r.mti = "0810";
            r.set(39, "00");
            if (auto body = pack_message(r, nullptr))
                if (auto f = frame(s_.length_header, *body)) write_raw(c, std::move(*f));
            return;
        }
        const std::string key = m->get(11) + m->get(41);
        auto it = outstanding_.find(key);
        if (it == outstanding_.end()) {
            auto late = late_keys_.find(key);
            if (late != late_keys_.end()) {
                late_keys_.erase(late);
                late_.Increment();
                spdlog::warn("channel {}: late {} (STAN {}, terminal {}, code {}) after its request timed out; ignored",
                             channel_, m->mti, m->get(11), m->get(41), m->get(39));
            } else {
                unmatched_.Increment();
                spdlog::warn("channel {}: {} matches no request (STAN {}, terminal {}); ignored", channel_, m->mti,
                             m->get(11), m->get(41));
            }
            return;
        }
        PendingPtr p = it->second;
        outstanding_.erase(it);
        --in_flight_;
        p->timer->cancel();
        p->conn = nullptr;
        if (p->state == Pending::State::reversing && !p->is_void) {
            const std::string code = m->get(39);
            switch (reversal_verdict(code)) {
                case ReversalVerdict::reversed: {
                    reversals_acked_.Increment();
                    ChannelOutcome o{K::reversed, "no_response", "no answer in time; reversal acknowledged (00)", "", ""};
                    o.channel_ref = reference_of(p->request);
                    finish(*p, std::move(o));
                    break;
                }
                case ReversalVerdict::original_not_found: {
                    reversals_not_found_.Increment();
                    ChannelOutcome o{K::reversed, "original_not_found",
                                     "no answer in time; the host has no record of the request (25): not executed", "",
                                     ""};
                    o.channel_ref = reference_of(p->request);
                    finish(*p, std::move(o));
                    break;
                }
                case ReversalVerdict::unknown:
                    // The reversal did not take effect: the original may still be live.
                    reversals_refused_.Increment();
                    p->last_reversal_code = code.empty() ? "none" : code;
                    spdlog::warn("channel {}: reversal {} (RRN {}) answered {}: repeating", channel_, m->mti,
                                 p->request.get(37), p->last_reversal_code);
                    retry_reversal_later(p);
                    break;
            }
        } else {
            finish(*p, outcome_for_response(p->state == Pending::State::reversing ? p->reversal : p->request, *m));
        }
        pump();
    }

    std::string reference_of(const IsoMessage& r) const {
        return format_channel_ref({r.mti, r.get(11), r.get(7), r.get(37), r.get(41), r.get(32), ""});
    }

    // ---- requests, timeouts, reversals -----------------------------------------------------

    // Sends what is queued, as far as connections and max_in_flight allow: stamps and packs
    // each request, journals them all (one sync), then writes them.
    void pump() {
        struct Out {
            Connection* c;
            PendingPtr p;
            std::vector<uint8_t> bytes;
        };
        std::vector<Out> out;
        int planned = in_flight_;
        while (!queue_.empty() && planned < s_.max_in_flight) {
            Connection* c = pick();
            if (!c) break;
            PendingPtr p = queue_.front();
            queue_.pop_front();
            if (p->state == Pending::State::done) continue;
            p->timer = std::make_unique<asio::steady_timer>(io_);
            p->state = Pending::State::sent;
            if (p->recovered) {  // its request may be at the host already: only reverse it
                no_answer(p);
                ++planned;
                continue;
            }
            auto framed = prepare(*c, p->request);
            if (!framed) {
                finish(*p, {K::declined, "format_error", "the payment does not fit the channel's message layout", "", ""});
                continue;
            }
            out.push_back({c, p, std::move(*framed)});
            ++planned;
        }
        if (out.empty()) return;
        if (journal_) {
            std::vector<JournalEntry> entries;
            entries.reserve(out.size());
            const int64_t at = now_ms();
            for (const auto& o : out) {
                const auto& r = o.p->request;
                entries.push_back({o.p->payment_id, r.mti, r.get(11), r.get(7), r.get(41), r.get(32), at});
            }
            std::string error;
            if (!journal_->record(entries, &error)) {
                spdlog::error("channel {}: in-doubt journal: {}; {} requests not sent", channel_, error, out.size());
                for (auto& o : out)
                    finish(*o.p, {K::soft_failure, "journal_unavailable", "the request could not be journaled; not sent",
                                  "", ""});
                return;
            }
            for (const auto& o : out) o.p->batch->journaled[o.p->index] = 1;
        }
        for (auto& o : out) {
            if (o.c->state != Connection::State::up) {  // cannot happen within one handler; kept safe
                finish(*o.p, {K::soft_failure, "connection_lost", "the connection broke before the request left", "", ""});
                continue;
            }
            dispatch(*o.c, o.p->request, o.p, std::move(o.bytes), s_.timeout_ms);
        }
    }

    // Sent (or possibly sent) and not answered: reverse it, or repeat the void.
    void no_answer(const PendingPtr& p) {
        if (p->state == Pending::State::sent) {
            p->state = Pending::State::reversing;
            p->reversal = p->is_void ? p->request : reversal_for(p->request);  // 41: the original's
            // A void is a 0400 already: what follows is its repeat.
            p->reversal_attempts = p->is_void ? 1 : 0;
        }
        if (p->reversal_attempts > s_.reversal_retries) {
            if (p->is_void) {
                finish(*p, {K::failed, "void_unanswered", "the void was never answered", reference_of(p->request), ""});
            } else {
                reversals_unanswered_.Increment();
                const std::string last = p->last_reversal_code.empty() ? "no answer" : "last answer " + p->last_reversal_code;
                spdlog::warn("channel {}: payment reversal not acknowledged after {} attempts (RRN {}, {})", channel_,
                             p->reversal_attempts, p->request.get(37), last);
                finish(*p, {K::failed, "unknown_outcome",
                            "no answer in time and the reversal was not acknowledged (" + last + "); the authorization may be live",
                            reference_of(p->request), ""});
            }
            return;
        }
        ++p->reversal_attempts;
        // The 0400 gets its STAN once; its repeats (0401) keep it, and its terminal.
        if (p->reversal_sent || (p->is_void && p->reversal_attempts > 1)) p->reversal.mti = "0401";
        Connection* c = pick();
        if (c && send(*c, p->reversal, p, s_.reversal_timeout_ms)) {
            p->reversal_sent = true;
            if (!p->is_void) reversals_sent_.Increment();
            return;
        }
        retry_reversal_later(p);
    }

    // This attempt counts; the next one after the reversal timeout.
    void retry_reversal_later(const PendingPtr& p) {
        p->timer->expires_after(std::chrono::milliseconds(s_.reversal_timeout_ms));
        p->key.clear();
        p->timer->async_wait([this, p](const boost::system::error_code& e) {
            if (!e && p->state != Pending::State::done && p->key.empty()) {
                no_answer(p);
                pump();
            }
        });
    }

    void finish(Pending& p, ChannelOutcome o) {
        if (p.state == Pending::State::done) return;
        p.state = Pending::State::done;
        if (p.timer) p.timer->cancel();
        p.batch->outcomes[p.index] = std::move(o);
        if (--p.batch->remaining == 0) p.batch->done.set_value();
    }

    void remember_late(const std::string& key) {
        late_keys_.insert(key);
        late_order_.push_back(key);
        while (late_order_.size() > kLateMemory) {
            late_keys_.erase(late_order_.front());
            late_order_.pop_front();
        }
    }

    void arm_tick() {
        tick_.expires_after(std::chrono::milliseconds(50));
        tick_.async_wait([this](const boost::system::error_code& e) {
            if (e || stopping_) return;
            const auto now = Clock::now();
            while (!queue_.empty() && (queue_.front()->state == Pending::State::done || queue_.front()->wait_until <= now)) {
                auto p = queue_.front();
                queue_.pop_front();
                if (p->recovered && p->state != Pending::State::done) {
                    // Not a soft failure: the earlier process may have reached the host.
                    p->timer = std::make_unique<asio::steady_timer>(io_);
                    p->state = Pending::State::sent;
                    no_answer(p);
                    continue;
                }
                finish(*p, {K::soft_failure, "channel_unavailable", "no connection to the channel's host", "", ""});
            }
            arm_tick();
        });
    }

    void arm_echo(Connection& c, uint64_t gen) {
        if (s_.echo_interval_ms <= 0) return;
        c.echo_timer.expires_after(std::chrono::milliseconds(std::min(s_.echo_interval_ms, 1000)));
        c.echo_timer.async_wait([this, &c, gen](const boost::system::error_code& e) {
            if (e || c.generation != gen || stopping_) return;
            const auto now = Clock::now();
            if (!c.echo_stan.empty()) {
                if (now - c.echo_sent > std::chrono::milliseconds(s_.timeout_ms))
                    return connection_lost(c, gen, "echo test unanswered");
            } else if (now - c.last_activity >= std::chrono::milliseconds(s_.echo_interval_ms)) {
                IsoMessage m;
                m.mti = "0800";
                m.set(70, "301");
                stamp(m, next_stan(), c.terminal, now_ms());
                m.fields.erase(12);
                m.fields.erase(13);
                if (auto body = pack_message(m, nullptr))
                    if (auto f = frame(s_.length_header, *body)) {
                        c.echo_stan = m.get(11);
                        c.echo_sent = now;
                        write_raw(c, std::move(*f));
                    }
            }
            arm_echo(c, gen);
        });
    }

    static constexpr size_t kMaxMessage = 65536;
    static constexpr size_t kLateMemory = 100000;  // timed-out keys remembered to recognise late answers
    static constexpr int64_t kJournalKeepMs = 7LL * 24 * 3600 * 1000;  // a payment comes back long before

    std::string channel_;
    ChannelSettings s_;
    std::unique_ptr<asio::ssl::context> tls_ctx_;  // the channel's tls: (null = plain TCP)
    std::unique_ptr<CardVault> own_vault_;
    const CardVault* vault_ = nullptr;
    asio::io_context io_;
    asio::steady_timer tick_;
    std::vector<std::unique_ptr<Connection>> pool_;
    size_t next_conn_ = 0;
    std::deque<PendingPtr> queue_;
    std::unordered_map<std::string, PendingPtr> outstanding_;  // STAN + terminal → awaiting answer
    int in_flight_ = 0;
    std::unordered_set<std::string> late_keys_;
    std::deque<std::string> late_order_;
    std::mt19937_64 rng_;
    uint32_t stan_ = 0;  // the pool's STAN sequence (I/O thread)
    // Journal and the outcomes it covers (stage thread): answered since the last commit, and
    // answered in a transaction that aborted.
    std::unique_ptr<Journal> journal_;
    std::vector<std::pair<std::string, ChannelOutcome>> uncommitted_;
    std::unordered_map<std::string, ChannelOutcome> replay_;
    bool stopping_ = false;
    std::thread thread_;
    prometheus::Counter &reversals_not_found_, &reversals_refused_, &recovered_reversals_;
    prometheus::Counter &reversals_sent_, &reversals_acked_, &reversals_unanswered_, &late_, &malformed_, &unmatched_,
        &bad_mac_, &card_data_unavailable_, &bad_pin_block_;
    prometheus::Gauge& connections_up_;
};

class IsoConnectorFactory : public ConnectorFactory {
public:
    Builder prepare(const ChannelConfig& ch) const override {
        auto s = parse_channel_settings(ch);
        if (!s.keys_file.empty()) {
            try {
                load_vault_keys(s.keys_file, "channels." + ch.id + ".keys_file");
            } catch (const ConfigError&) {
                throw;
            } catch (const std::exception& e) {
                throw ConfigError(ch.source + ": channel `" + ch.id + "` keys_file: " + e.what());
            }
        }
        return [id = ch.id, s](const ConnectorContext& ctx) { return std::make_unique<IsoConnector>(id, s, ctx.card_keys); };
    }
};

}  // namespace

TURNOUT_REGISTER_CONNECTOR("iso8583", IsoConnectorFactory);

}  // namespace turnout::iso8583
