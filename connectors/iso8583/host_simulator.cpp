// `turnout-sim iso8583`: plays an ISO 8583 card host for one `iso8583` channel of the
// config, on the channel's layout and length header (docs/connectors.md).
//
// Outcome of a 0100/0200 by the amount's last two digits, as the in-process simulator:
//   ..51 → 51, ..05 → 05 (declined); ..91 → 91 (soft, not executed);
//   ..96 → 96 (soft, not executed) unless --fault soft96=0: the host cannot know whether it
//   is the first channel of a plan; in the default config the acquirers come first.
//   Refunds (processing code 20xxxx), captures (0220, or 0200 with field 90) are approved.
//   With field 52 (a channel with a pin_key): the PIN block,
//   deciphered under the bank's copy of the PIN key, must hold the card's PIN — the last four
//   digits of its number — else 55 (incorrect PIN), not executed.
// A request whose RRN (field 37) was executed before is answered from the ledger, not
// executed again (a retry after a connector crash). A 0400/0401 reversal finds its original
// as a host matching on field 90 and the terminal would: the execution whose MTI, STAN,
// transmission time and acquirer id (field 90) and terminal (field 41) it names. Found:
// 0410 with 00 and the original is marked reversed (a reversed RRN sent again is executed
// anew); not found: 0410 with 25 (unable to locate the original). Two executions with the
// same field 90 + terminal make the reversal ambiguous (logged at warn and counted; the
// latest is reversed). A reversal whose field 90 carries zeros for the original's STAN and
// transmission time (sent by a site taking over, which never knew them) finds its original
// by the RRN (field 37), as hosts matching reversals on the RRN do.
//
// Faults (--fault NAME=VALUE; shares 0..1 chosen by a hash of the RRN, so reproducible):
//   latency_ms=N          every answer N ms later
//   timeout_share=P       execute, never answer
//   late_share=P          execute, answer after late_ms (default 3000)
//   drop_share=P          close the connection on receipt, execute nothing
//   decline_share=P       decline 05
//   unanswered_reversals=P  never answer a reversal (recorded)
//   soft96=0|1            answer ..96 with 96 (default 1)
//   reversal_code=NN      answer every reversal with NN and undo nothing (e.g. 96, 21, 25)
//   nagle=1               leave Nagle's algorithm on (TCP_NODELAY off) on accepted sockets,
//                         as a host with default socket options
//   bad_mac=P             execute, answer with a wrong MAC (channels with a mac_key)
//
// TLS (--tls-cert, --tls-key; --tls-client-ca requires a client certificate signed by it):
// a connection whose handshake fails is closed and counted.
//
// MACs (the channel's mac_key, key from its keys_file): every request's MAC is checked — a
// wrong or missing one is answered 63 and not executed — and every answer carries one.
//
// Ledger (--ledger FILE, append-only, read back at start):
//   X <rrn> <mti> <code> <approval|-> <amount> <currency> <stan+transmission> <terminal> <acquirer>
//   R <rrn> <mti> <acknowledged|unanswered|not_found|ambiguous|code NN> <original stan+transmission>
//     <reversal's stan> <reversal's terminal> <field 90>
#include <boost/asio.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "iso8583/link.hpp"
#include "iso8583/mac.hpp"
#include "security/pin_block.hpp"
#include "iso8583/mapping.hpp"
#include "iso8583/settings.hpp"
#include "security/card_vault.hpp"
#include "security/constant_time.hpp"
#include "sim/channel_simulator.hpp"

namespace turnout::iso8583 {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Faults {
    int latency_ms = 0;
    double timeout_share = 0, late_share = 0, drop_share = 0, decline_share = 0, unanswered_reversals = 0;
    double bad_mac = 0;  // executed, then answered with a wrong MAC (the channel must drop it)
    int late_ms = 3000;
    bool soft96 = true;
    std::string reversal_code;  // empty: decided by finding the original
    bool nagle = false;
};

Faults parse_faults(const std::map<std::string, std::string>& f) {
    Faults out;
    for (const auto& [k, v] : f) {
        char* end = nullptr;
        const double d = std::strtod(v.c_str(), &end);
        const bool num = end && *end == 0 && !v.empty();
        auto share = [&](double& dst) {
            if (!num || d < 0 || d > 1) throw ConfigError("--fault " + k + " must be a share 0..1");
            dst = d;
        };
        auto ms = [&](int& dst) {
            if (!num || d < 0 || d > 600000) throw ConfigError("--fault " + k + " must be milliseconds 0..600000");
            dst = static_cast<int>(d);
        };
        if (k == "latency_ms") ms(out.latency_ms);
        else if (k == "late_ms") ms(out.late_ms);
        else if (k == "timeout_share") share(out.timeout_share);
        else if (k == "late_share") share(out.late_share);
        else if (k == "drop_share") share(out.drop_share);
        else if (k == "decline_share") share(out.decline_share);
        else if (k == "unanswered_reversals") share(out.unanswered_reversals);
        else if (k == "bad_mac") share(out.bad_mac);
        else if (k == "reversal_code") {
            if (v.size() != 2) throw ConfigError("--fault reversal_code must be a 2-character response code");
            out.reversal_code = v;
        } else if (k == "nagle") {
            if (v != "0" && v != "1") throw ConfigError("--fault nagle must be 0 or 1");
            out.nagle = v == "1";
        } else if (k == "soft96") {
            if (v != "0" && v != "1") throw ConfigError("--fault soft96 must be 0 or 1");
            out.soft96 = v == "1";
        } else
            throw ConfigError("unknown --fault `" + k +
                              "` (expected: latency_ms, timeout_share, late_share, late_ms, drop_share, decline_share, "
                              "unanswered_reversals, bad_mac, soft96, reversal_code, nagle)");
    }
    return out;
}

uint64_t fnv(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h;
}

bool picked(double share, const std::string& rrn, const char* fault) {
    if (share <= 0) return false;
    return static_cast<double>(fnv(rrn + "/" + fault) % 1000000) < share * 1000000;
}

struct Executed {
    std::string code, approval;
    bool reversed = false;
};

struct Stats {
    long executed = 0, replayed = 0, soft = 0, reversals = 0, reversals_unanswered = 0, unanswered = 0, late = 0,
         dropped = 0, echoes = 0, malformed = 0, reversals_not_found = 0, reversals_ambiguous = 0, bad_mac_in = 0,
         bad_mac_out = 0, tls_refused = 0, pin_verified = 0, pin_refused = 0;
};

class Host;

struct Session : std::enable_shared_from_this<Session> {
    Session(Host& h, tcp::socket s) : host(h), socket(std::move(s)) {}
    Host& host;
    tcp::socket socket;
    std::shared_ptr<TlsStream> tls;  // with --tls-cert
    uint8_t header[4] = {};
    std::vector<uint8_t> body;
    std::deque<std::vector<uint8_t>> writes;
    bool writing = false;
    bool closed = false;
    void read();
    void send(std::vector<uint8_t> bytes);
    void write_next();
    void close() {
        closed = true;
        boost::system::error_code ec;
        socket.close(ec);
    }
};

class Host {
public:
    Host(const SimulatorArgs& a) : args_(a), s_(parse_channel_settings(a.channel)), faults_(parse_faults(a.faults)),
                                   acceptor_(io_), stop_timer_(io_) {
        if (!a.ledger_file.empty()) load_ledger(a.ledger_file);
        if (a.tls_cert.empty() != a.tls_key.empty()) throw ConfigError("--tls-cert and --tls-key go together");
        if (!a.tls_cert.empty()) tls_ctx_ = server_tls_context(a.tls_cert, a.tls_key, a.tls_client_ca);
        // The bank's copies of the channel's MAC and PIN keys, from the channel's keys_file.
        if (!s_.mac_key.empty() || !s_.pin_key.empty()) {
            if (s_.keys_file.empty())
                throw ConfigError("channel `" + a.channel.id + "` has a mac_key or pin_key but no keys_file");
            keys_ = std::make_unique<CardVault>(load_vault_keys(s_.keys_file, "channels." + a.channel.id + ".keys_file"));
            if (!s_.mac_key.empty() && !keys_->mac8(s_.mac_key, {}))
                throw ConfigError("MAC key `" + s_.mac_key + "` is not in " + s_.keys_file);
            if (!s_.pin_key.empty() && keys_->provider().pin_block_size(s_.pin_key) == 0)
                throw ConfigError("PIN key `" + s_.pin_key + "` is not in " + s_.keys_file);
        }
    }

    int run() {
        std::string host = s_.host;
        uint16_t port = s_.port;
        if (!args_.listen.empty()) {
            const auto colon = args_.listen.rfind(':');
            if (colon == std::string::npos) throw ConfigError("--listen must be HOST:PORT");
            host = args_.listen.substr(0, colon);
            port = static_cast<uint16_t>(std::atoi(args_.listen.c_str() + colon + 1));
        }
        tcp::resolver resolver(io_);
        const tcp::endpoint ep = *resolver.resolve(host, std::to_string(port)).begin();
        acceptor_.open(ep.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        boost::system::error_code ec;
        acceptor_.bind(ep, ec);
        if (ec) {
            spdlog::error("cannot listen on {}:{}: {}", host, port, ec.message());
            return 1;
        }
        acceptor_.listen();
        if (!args_.ledger_file.empty()) ledger_.open(args_.ledger_file, std::ios::app);
        spdlog::info("ISO 8583 host on {}:{} (layout {}, {} executed payments in the ledger)", host,
                     acceptor_.local_endpoint().port(), s_.layout.name, executed_.size());
        accept();
        watch_stop();
        io_.run();
        spdlog::info(
            "stopped: executed {}, replayed {}, soft {}, reversals acknowledged {}, reversals unanswered {}, "
            "unanswered {}, late {}, dropped {}, echoes {}, malformed {}, reversals of an unknown original {}, "
            "ambiguous reversals {}, requests with a bad MAC {}, answers sent with a bad MAC {}, TLS handshakes "
            "refused {}, PINs verified {}, PINs refused {}",
            stats_.executed, stats_.replayed, stats_.soft, stats_.reversals, stats_.reversals_unanswered, stats_.unanswered,
            stats_.late, stats_.dropped, stats_.echoes, stats_.malformed, stats_.reversals_not_found,
            stats_.reversals_ambiguous, stats_.bad_mac_in, stats_.bad_mac_out, stats_.tls_refused,
            stats_.pin_verified, stats_.pin_refused);
        return 0;
    }

    const ChannelSettings& settings() const { return s_; }

    void on_message(const std::shared_ptr<Session>& ses) {
        std::string error;
        auto m = unpack(s_.layout, ses->body, &error);
        if (!m) {
            ++stats_.malformed;
            spdlog::warn("unreadable message ({}); closing the connection", error);
            ses->close();
            return;
        }
        const std::string rmti = response_mti(m->mti);
        if (rmti.empty()) return;  // a response: nothing to answer
        if (macs() && !mac_ok(*m, ses->body)) {
            // Not executed: answered 63 (security violation), itself MACed.
            ++stats_.bad_mac_in;
            spdlog::warn("{} (STAN {}) fails its MAC check: answered 63, not executed", m->mti, m->get(11));
            IsoMessage r;
            r.mti = rmti;
            for (int f : {3, 4, 7, 11, 12, 13, 32, 37, 41, 42, 49, 70, 90})
                if (m->has(f)) r.set(f, m->get(f));
            r.set(39, "63");
            return answer(ses, r, 0);
        }
        IsoMessage r;
        r.mti = rmti;
        for (int f : {3, 4, 7, 11, 12, 13, 32, 37, 41, 42, 49, 70, 90})
            if (m->has(f)) r.set(f, m->get(f));
        const std::string rrn = m->get(37);
        const char cls = m->mti[1];
        if (cls == '8') {
            ++stats_.echoes;
            r.set(39, "00");
            return answer(ses, r, 0);
        }
        if (cls == '4') {
            const std::string f90 = m->get(90);
            const std::string orig = f90.size() >= 20 ? f90.substr(4, 16) : "-";  // original STAN + transmission time
            const std::string seen = " " + orig + " " + m->get(11) + " " + m->get(41) + " " + (f90.empty() ? "-" : f90);
            if (picked(faults_.unanswered_reversals, rrn, "unanswered_reversals")) {
                ++stats_.reversals_unanswered;
                record("R " + rrn + " " + m->mti + " unanswered" + seen);
                return;
            }
            if (!faults_.reversal_code.empty()) {
                record("R " + rrn + " " + m->mti + " code_" + faults_.reversal_code + seen);
                r.set(39, faults_.reversal_code);
                return answer(ses, r, faults_.latency_ms);
            }
            std::string target;
            const auto matches = find_original(f90, m->get(41), rrn, target);
            if (matches == 0) {
                ++stats_.reversals_not_found;
                record("R " + rrn + " " + m->mti + " not_found" + seen);
                r.set(39, "25");
                return answer(ses, r, faults_.latency_ms);
            }
            ++stats_.reversals;
            if (matches > 1) {
                ++stats_.reversals_ambiguous;
                spdlog::warn("reversal {} (RRN {}) matches {} originals by field 90 + terminal", m->mti, rrn, matches);
            }
            if (auto it = executed_.find(target); it != executed_.end()) it->second.reversed = true;
            record("R " + rrn + " " + m->mti + (matches > 1 ? " ambiguous" : " acknowledged") + seen);
            r.set(39, "00");
            return answer(ses, r, faults_.latency_ms);
        }
        if (cls != '1' && cls != '2') {
            r.set(39, "12");
            return answer(ses, r, faults_.latency_ms);
        }
        if (auto it = executed_.find(rrn); it != executed_.end() && !it->second.reversed) {
            ++stats_.replayed;
            r.set(39, it->second.code);
            if (!it->second.approval.empty()) r.set(38, it->second.approval);
            return answer(ses, r, faults_.latency_ms);
        }
        if (picked(faults_.drop_share, rrn, "drop_share")) {
            ++stats_.dropped;
            spdlog::info("dropping the connection on RRN {}", rrn);
            ses->close();
            return;
        }
        const int64_t amount = std::atoll(m->get(4).c_str());
        const bool follow_up = m->mti[2] == '2' || m->get(3).rfind("20", 0) == 0 || m->has(90);
        if (!follow_up && m->has(52)) {
            // The issuer's PIN check: field 52 under the channel's PIN key must hold the card's
            // PIN, which for every simulated card is the last four digits of its number.
            const std::string f52 = m->get(52), pan = m->get(2);
            const auto pin = keys_ && !s_.pin_key.empty() && pan.size() >= 12
                                 ? decipher_pin(keys_->provider(), s_.pin_key, std::vector<uint8_t>(f52.begin(), f52.end()), pan)
                                 : std::nullopt;
            if (!pin || *pin != pan.substr(pan.size() - 4)) {
                ++stats_.pin_refused;
                r.set(39, "55");
                return answer(ses, r, faults_.latency_ms);
            }
            ++stats_.pin_verified;
        }
        const int64_t cents = follow_up ? 0 : amount % 100;
        std::string code = "00";
        if (cents == 91) code = "91";
        else if (cents == 96 && faults_.soft96) code = "96";
        else if (cents == 51) code = "51";
        else if (cents == 5) code = "05";
        else if (!follow_up && picked(faults_.decline_share, rrn, "decline_share")) code = "05";
        r.set(39, code);
        if (code == "91" || code == "96") {  // not executed: the payment may go elsewhere
            ++stats_.soft;
            return answer(ses, r, faults_.latency_ms);
        }
        std::string approval;
        if (code == "00") {
            static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
            uint64_t h = fnv(rrn + "/approval");
            for (int i = 0; i < 6; ++i, h /= 36) approval.push_back(alphabet[h % 36]);
            r.set(38, approval);
        }
        ++stats_.executed;
        executed_[rrn] = {code, approval, false};
        const std::string orig_key = m->get(11) + m->get(7);
        by_original_.emplace(original_key(m->mti, m->get(11), m->get(7), m->get(32), m->get(41)), rrn);
        record("X " + rrn + " " + m->mti + " " + code + " " + (approval.empty() ? "-" : approval) + " " +
               std::to_string(amount) + " " + (m->has(49) ? m->get(49) : "-") + " " + orig_key + " " +
               (m->has(41) ? m->get(41) : "-") + " " + (m->has(32) ? m->get(32) : "-"));
        if (picked(faults_.timeout_share, rrn, "timeout_share")) {
            ++stats_.unanswered;
            return;
        }
        if (picked(faults_.late_share, rrn, "late_share")) {
            ++stats_.late;
            return answer(ses, r, faults_.late_ms);
        }
        if (macs() && picked(faults_.bad_mac, rrn, "bad_mac")) {
            ++stats_.bad_mac_out;
            return answer(ses, r, faults_.latency_ms, true);
        }
        answer(ses, r, faults_.latency_ms);
    }

private:
    // What identifies an original for a reversal: field 90's MTI, STAN, transmission time and
    // acquirer id (11 digits), and the terminal.
    static std::string original_key(const std::string& mti, const std::string& stan, const std::string& transmission,
                                    const std::string& acquirer, const std::string& terminal) {
        std::string acq = acquirer;
        if (acq.size() < 11) acq.insert(acq.begin(), 11 - acq.size(), '0');
        return mti + stan + transmission + acq + "/" + terminal;
    }
    static std::string original_key(const std::string& f90, const std::string& terminal) {
        return (f90.size() >= 31 ? f90.substr(0, 31) : f90) + "/" + terminal;
    }

    // The original a reversal names: by field 90 + terminal; or, when field 90's STAN and
    // transmission time are zeros (a sender that no longer knows them, e.g. another site
    // taking over), by the RRN alone, among executions not reversed yet. The number of
    // matches; `target` is the RRN of the latest.
    long find_original(const std::string& f90, const std::string& terminal, const std::string& rrn,
                       std::string& target) const {
        if (f90.size() >= 20 && f90.substr(4, 16) == std::string(16, '0')) {
            const auto it = executed_.find(rrn);
            if (it == executed_.end() || it->second.reversed) return 0;
            target = rrn;
            return 1;
        }
        const auto [first, last] = by_original_.equal_range(original_key(f90, terminal));
        for (auto it = first; it != last; ++it) target = it->second;
        return std::distance(first, last);
    }

    bool mac_ok(const IsoMessage& m, std::span<const uint8_t> body) const {
        const auto view = mac_view(s_.layout, m, body, nullptr);
        const auto expected = view ? keys_->mac8(s_.mac_key, view->covered) : std::nullopt;
        return view && expected &&
               equal_constant_time(view->carried, std::string_view(reinterpret_cast<const char*>(expected->data()), 8));
    }

    // `bad_mac`: the MAC field carries a wrong code (fault injection).
    void answer(const std::shared_ptr<Session>& ses, const IsoMessage& r, int delay_ms, bool bad_mac = false) {
        std::string error;
        auto body = macs() ? pack_with_mac(
                                s_.layout, r,
                                [&](std::span<const uint8_t> d) {
                                    auto code = keys_->mac8(s_.mac_key, d);
                                    if (code && bad_mac) (*code)[0] ^= 0x01;
                                    return code;
                                },
                                &error)
                          : pack(s_.layout, r, &error);
        if (!body) {
            spdlog::warn("cannot pack {}: {}", r.mti, error);
            return;
        }
        auto framed = frame(s_.length_header, *body);
        if (!framed) return;
        if (delay_ms <= 0) return ses->send(std::move(*framed));
        auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(delay_ms));
        t->async_wait([t, ses, bytes = std::move(*framed)](const boost::system::error_code& e) mutable {
            if (!e) ses->send(std::move(bytes));
        });
    }

    void record(const std::string& line) {
        if (!ledger_.is_open()) return;
        ledger_ << line << '\n';
        ledger_.flush();
    }

    void load_ledger(const std::string& path) {
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) {
            std::istringstream ss(line);
            std::string kind, rrn, mti, a, b, amount, cur, orig, terminal, acquirer, stan, rterminal, f90;
            ss >> kind >> rrn >> mti >> a >> b;
            if (kind == "X") {
                ss >> amount >> cur >> orig >> terminal >> acquirer;
                executed_[rrn] = {a, b == "-" ? "" : b, false};
                if (orig.size() == 16)
                    by_original_.emplace(original_key(mti, orig.substr(0, 6), orig.substr(6), acquirer, terminal), rrn);
            } else if (kind == "R" && (a == "acknowledged" || a == "ambiguous")) {
                ss >> stan >> rterminal >> f90;
                std::string target;
                find_original(f90, rterminal, rrn, target);
                if (auto it = executed_.find(target); it != executed_.end()) it->second.reversed = true;
            }
        }
    }

    void accept() {
        acceptor_.async_accept([this](const boost::system::error_code& e, tcp::socket sock) {
            if (e) return;
            boost::system::error_code ignore;
            sock.set_option(tcp::no_delay(!faults_.nagle), ignore);
            auto ses = std::make_shared<Session>(*this, std::move(sock));
            sessions_.push_back(ses);
            accept();
            if (!tls_ctx_) return ses->read();
            ses->tls = std::make_shared<TlsStream>(ses->socket, *tls_ctx_);
            ses->tls->async_handshake(asio::ssl::stream_base::server, [this, ses](const boost::system::error_code& he) {
                if (!he) return ses->read();
                ++stats_.tls_refused;
                spdlog::warn("TLS handshake refused: {}", he.message());
                ses->close();
            });
        });
    }

    void watch_stop() {
        stop_timer_.expires_after(std::chrono::milliseconds(100));
        stop_timer_.async_wait([this](const boost::system::error_code& e) {
            if (e) return;
            if (args_.stop) {
                boost::system::error_code ignore;
                acceptor_.close(ignore);
                for (auto& w : sessions_)
                    if (auto s = w.lock()) s->close();
                io_.stop();
                return;
            }
            std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
            watch_stop();
        });
    }

    const SimulatorArgs& args_;
    ChannelSettings s_;
    Faults faults_;
    std::unique_ptr<CardVault> keys_;  // with a mac_key or a pin_key
    bool macs() const { return !s_.mac_key.empty(); }
    std::unique_ptr<asio::ssl::context> tls_ctx_;  // --tls-cert  // MAC keys (channel mac_key), null without
    asio::io_context io_;
    tcp::acceptor acceptor_;
    asio::steady_timer stop_timer_;
    std::vector<std::weak_ptr<Session>> sessions_;
    std::unordered_map<std::string, Executed> executed_;      // RRN → outcome
    std::unordered_multimap<std::string, std::string> by_original_;  // original_key → RRN
    std::ofstream ledger_;
    Stats stats_;
};

void Session::read() {
    auto self = shared_from_this();
    const size_t hs = header_size(host.settings().length_header);
    link_read(socket, tls, asio::buffer(header, hs), [self, hs](const boost::system::error_code& e, size_t) {
        if (e || self->closed) return;
        const auto n = body_length(self->host.settings().length_header, {self->header, hs});
        if (!n || *n == 0 || *n > 65536) return self->close();
        self->body.resize(*n);
        link_read(self->socket, self->tls, asio::buffer(self->body), [self](const boost::system::error_code& e2, size_t) {
            if (e2 || self->closed) return;
            self->host.on_message(self);
            if (!self->closed) self->read();
        });
    });
}

void Session::send(std::vector<uint8_t> bytes) {
    if (closed) return;
    writes.push_back(std::move(bytes));
    if (!writing) write_next();
}

void Session::write_next() {
    if (writes.empty() || closed) {
        writing = false;
        return;
    }
    writing = true;
    auto self = shared_from_this();
    link_write(socket, tls, asio::buffer(writes.front()), [self](const boost::system::error_code& e, size_t) {
        if (e) return self->close();
        self->writes.pop_front();
        self->write_next();
    });
}

int host_main(const SimulatorArgs& args) {
    Host h(args);
    return h.run();
}

}  // namespace

TURNOUT_REGISTER_SIMULATOR("iso8583", iso8583_host, host_main);

}  // namespace turnout::iso8583
