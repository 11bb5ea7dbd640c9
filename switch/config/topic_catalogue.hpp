#pragma once
// The topic catalogue (schemas/topics.yaml, built into the binary): every topic's config key,
// default name, record key, partitioning, cleanup, retention, and which principals read,
// write or only describe it. The config's default topic names, `turnout topics`, the
// scripts' topic creation and ACLs, and the topic table of docs/design.md come from it.
#include <string>
#include <string_view>
#include <vector>

namespace turnout {

struct CatalogueTopic {
    std::string key;           // kafka.topics.<key>
    std::string name;          // default name (channel_prefix: the prefix of one topic per channel)
    std::string record_key, value, partitioning;
    std::string cleanup;       // delete | compact
    std::string retention;     // "broker" or a config setting in hours (settlement.log_retention_hours)
    std::vector<std::string> read, write, describe;  // principals; connector:own, connector:asynchronous

    bool compacted() const { return cleanup == "compact"; }
    // Does `principal` (router, connector, ...) consume / produce this topic? `connector`
    // matches connector, connector:own and connector:asynchronous.
    bool read_by(std::string_view principal) const;
    bool written_by(std::string_view principal) const;
};

// The entries in catalogue order; parsed once. Throws std::logic_error if the built-in
// catalogue is malformed (a unit test parses it).
const std::vector<CatalogueTopic>& topic_catalogue_entries();
// The entry of `key`; throws std::out_of_range for a key the catalogue does not have.
const CatalogueTopic& catalogue_topic(std::string_view key);
// The catalogue's YAML text, as built in.
std::string_view topic_catalogue_yaml();

}  // namespace turnout
