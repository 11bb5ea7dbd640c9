#pragma once
// The connector interface: a channel kind (bank host, acquirer, PSP, wallet) plugs into
// Turnout as a Connector built by a ConnectorFactory registered under its kind name.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "model/payment.hpp"

namespace turnout {

struct ChannelOutcome {
    enum class Kind {
        approved,
        declined,
        soft_failure,  // the request provably never reached the channel (not connected, circuit
                       // open) or the channel says it did not take effect: the next channel of
                       // the plan may try. Never for an unclear answer: that is `failed`.
        reversed,      // sent, no final answer in time, reversal/cancel acknowledged: result `reversed`
        failed,        // outcome unknown or broken at the channel (e.g. reversal unanswered):
                       // result `failed`, never retried on another channel
        pending,       // accepted, the final outcome follows asynchronously (webhook or status
                       // query): the stage records the payment in payments.pending, no result yet
    };
    Kind kind = Kind::approved;
    std::string code;     // channel response code ("00", "51", ...)
    std::string message;
    std::string channel_ref;
    std::string approval_code;
};

// A final outcome a channel reports on its own, later (a PSP webhook), for a payment it had
// answered `pending`.
struct ChannelEvent {
    std::string event_id;
    std::string payment_id;
    std::string root_id;
    ChannelOutcome outcome;
    // The channel's own message as received (a webhook body) and what authenticates it (its
    // signature headers), recorded with the event so that the stage applying it verifies it
    // again (Connector::verify_event): whoever can write the channel topic cannot forge one.
    std::string origin;
    std::vector<std::pair<std::string, std::string>> origin_auth;
};
// Records an event durably; `done(true)` once it is (the channel may then be acknowledged),
// `done(false)` if it could not be. `done` may run on any thread.
using ChannelEventSink = std::function<void(const ChannelEvent&, std::function<void(bool)> done)>;

// How long a pending payment waits for its event before the stage asks the channel.
struct PendingPolicy {
    int64_t query_after_ms = 30'000;
    int64_t query_every_ms = 10'000;
    int64_t give_up_after_ms = 600'000;  // then the stage cancels it at the channel (Connector::cancel)
    // A payment given up with an unknown outcome stays watched this long: a late event for
    // it is counted, logged at error and dead-lettered (`late_channel_event`), not dropped.
    int64_t late_event_window_ms = 7 * 86'400'000LL;
};

class Connector {
public:
    virtual ~Connector() = default;
    // Channels that answer `pending` and report outcomes later return true and get the sink.
    virtual bool asynchronous() const { return false; }
    // Whether the channel carries a cardholder PIN (an iso8583 channel with a pin_key). A
    // payment with a PIN block is never given to one that does not: it moves on to the next
    // channel of its plan (`pin_not_supported`), never sent without its PIN.
    virtual bool takes_pin() const { return false; }
    virtual void start_events(ChannelEventSink /*sink*/) {}
    virtual PendingPolicy pending_policy() const { return {}; }
    // Asks the channel for the current outcome of pending payments (status query), in order.
    virtual std::vector<ChannelOutcome> query(std::span<const RoutedPayment> batch) {
        return std::vector<ChannelOutcome>(batch.size(), ChannelOutcome{ChannelOutcome::Kind::pending});
    }
    // A pending payment past its give-up age: cancel it at the channel, by idempotency key,
    // or ask one last time. One outcome per payment: `reversed` (the cancel is confirmed),
    // `approved` / `declined` (the channel had decided), anything else = still unknown.
    virtual std::vector<ChannelOutcome> cancel(std::span<const RoutedPayment> batch) { return query(batch); }
    // Authenticates a channel event read back from the channel topic and returns the event as
    // the channel's own authenticated message (`origin`) says, never as the record's other
    // fields say; nullopt if it does not verify. A channel without events verifies none.
    // Called on the stage's thread.
    virtual std::optional<ChannelEvent> verify_event(const ChannelEvent& /*recorded*/) const { return std::nullopt; }
    // Sends every payment of the batch to the channel (concurrently where the channel allows)
    // and returns one outcome per payment, in order. The same payment_id sent again must be
    // answered idempotently by the channel.
    virtual std::vector<ChannelOutcome> call(std::span<const RoutedPayment> batch) = 0;
    // The stage committed (or aborted) the transaction holding the outcomes of every call()
    // since the last of these; a connector that keeps per-request state until its outcome is
    // recorded (the iso8583 in-doubt journal) releases (or keeps) it here.
    virtual void committed() {}
    virtual void aborted() {}
};

class CardVault;

// What the process gives a connector it builds: the card keys its role loaded (an iso8583
// channel's, to open field 2; null for channels that never see a card number).
struct ConnectorContext {
    const CardVault* card_keys = nullptr;
};

// Validates a channel's settings (throwing ConfigError with file:line:column) and returns
// the function that builds the connector.
class ConnectorFactory {
public:
    using Builder = std::function<std::unique_ptr<Connector>(const ConnectorContext&)>;
    virtual ~ConnectorFactory() = default;
    virtual Builder prepare(const ChannelConfig& channel) const = 0;
};

class ConnectorRegistry {
public:
    static ConnectorRegistry& get();
    // Aborts at start-up on a duplicate kind name.
    void add(const std::string& kind, std::unique_ptr<ConnectorFactory> factory);
    const ConnectorFactory* find(const std::string& kind) const;
    std::vector<std::string> kinds() const;

private:
    std::map<std::string, std::unique_ptr<ConnectorFactory>> factories_;
};

// Keys every channel has whatever its kind (read by the config loader); a factory skips them.
inline bool is_common_channel_key(const std::string& key) { return key == "id" || key == "kind" || key == "circuit" || key == "fees"; }

// Validates every channel of the config against its factory; throws ConfigError.
void validate_channels(const Config& cfg);
std::unique_ptr<Connector> make_connector(const ChannelConfig& channel, const ConnectorContext& ctx = {});

template <typename F>
struct ConnectorRegistration {
    explicit ConnectorRegistration(const char* kind) { ConnectorRegistry::get().add(kind, std::make_unique<F>()); }
};

}  // namespace turnout

// One line at the bottom of a connector's .cpp registers its factory under `kind`.
#define TURNOUT_REGISTER_CONNECTOR(kind, Factory) \
    static const ::turnout::ConnectorRegistration<Factory> turnout_connector_registration_##Factory{kind}
