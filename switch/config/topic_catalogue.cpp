#include "config/topic_catalogue.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <stdexcept>

namespace turnout {
namespace {

const char* const kCleanups[] = {"delete", "compact"};
const char* const kPrincipals[] = {"router",   "risk",    "connector", "connector:own", "connector:asynchronous",
                                   "settlement", "state", "gateway",   "loadgen",       "operator"};

std::vector<std::string> principals(const YAML::Node& entry, const std::string& key, const char* field) {
    std::vector<std::string> out;
    const auto n = entry[field];
    if (!n) return out;
    if (!n.IsSequence()) throw std::logic_error("topic catalogue: " + key + "." + field + " is not a list");
    for (const auto& p : n) {
        auto s = p.as<std::string>();
        if (std::find(std::begin(kPrincipals), std::end(kPrincipals), s) == std::end(kPrincipals))
            throw std::logic_error("topic catalogue: " + key + "." + field + ": unknown principal `" + s + "`");
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<CatalogueTopic> parse() {
    const auto doc = YAML::Load(std::string(topic_catalogue_yaml()));
    const auto topics = doc["topics"];
    if (!topics || !topics.IsMap()) throw std::logic_error("topic catalogue: expected a mapping `topics`");
    std::vector<CatalogueTopic> out;
    for (const auto& kv : topics) {
        CatalogueTopic t;
        t.key = kv.first.as<std::string>();
        const auto& e = kv.second;
        const auto text = [&](const char* field) {
            if (!e[field] || !e[field].IsScalar() || e[field].as<std::string>().empty())
                throw std::logic_error("topic catalogue: " + t.key + "." + field + " is missing");
            return e[field].as<std::string>();
        };
        t.name = text("name");
        t.record_key = text("key");
        t.value = text("value");
        t.partitioning = text("partitioning");
        t.cleanup = text("cleanup");
        t.retention = text("retention");
        if (std::find(std::begin(kCleanups), std::end(kCleanups), t.cleanup) == std::end(kCleanups))
            throw std::logic_error("topic catalogue: " + t.key + ".cleanup must be delete or compact");
        if (t.compacted() && t.retention != "broker")
            throw std::logic_error("topic catalogue: " + t.key + " is compacted: its retention is the broker's");
        t.read = principals(e, t.key, "read");
        t.write = principals(e, t.key, "write");
        t.describe = principals(e, t.key, "describe");
        if (t.read.empty() || t.write.empty())
            throw std::logic_error("topic catalogue: " + t.key + " needs a reader and a writer");
        out.push_back(std::move(t));
    }
    return out;
}

bool names(const std::vector<std::string>& list, std::string_view principal) {
    return std::any_of(list.begin(), list.end(), [&](const std::string& p) {
        return p == principal || (principal == "connector" && p.rfind("connector:", 0) == 0);
    });
}

}  // namespace

bool CatalogueTopic::read_by(std::string_view principal) const { return names(read, principal); }
bool CatalogueTopic::written_by(std::string_view principal) const { return names(write, principal); }

const std::vector<CatalogueTopic>& topic_catalogue_entries() {
    static const std::vector<CatalogueTopic> entries = parse();
    return entries;
}

const CatalogueTopic& catalogue_topic(std::string_view key) {
    for (const auto& t : topic_catalogue_entries())
        if (t.key == key) return t;
    throw std::out_of_range("topic catalogue: no topic `" + std::string(key) + "`");
}

}  // namespace turnout
