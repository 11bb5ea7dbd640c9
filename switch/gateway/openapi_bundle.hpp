#pragma once
// The gateway's OpenAPI document made self-contained. docs/openapi.yaml refers to the
// message schemas in schemas/ (`$ref: '../schemas/payment-result.schema.json'`) instead of
// copying them; what GET /v1/openapi.yaml serves has each of them inlined:
//  * a schema referenced from a `components.schemas` entry that is only that `$ref`
//    replaces the entry; one referenced elsewhere becomes a new component named after its
//    file (payment-request.schema.json -> PaymentRequest);
//  * its `$schema` and `$id` are dropped (OpenAPI 3.1's dialect is JSON Schema 2020-12,
//    and an `$id` would make the rewritten refs below resolve against another base);
//  * its `$defs` entries become components `<Name>.<def>`;
//  * every ref inside it (`#/$defs/x`, `#/properties/...`) and every external ref with a
//    fragment (`../schemas/x.schema.json#/properties/payment_id`) is rewritten to the
//    matching `#/components/schemas/...` pointer.
// The result is checked: no external ref is left, and every ref resolves. Pure (files in,
// text out); used at gateway start-up and by `turnout openapi`.
#include <stdexcept>
#include <string>

#include <boost/json/value.hpp>

namespace turnout::gateway {

struct OpenapiBundleError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The document at `doc_path` (YAML or JSON) with every external ref replaced by the schema
// file of that name in `schemas_dir`, as YAML. Throws OpenapiBundleError with the file and
// the ref at fault (a missing or unreadable schema, a ref that does not resolve, a schema
// using `$id`/`$anchor`/`$dynamicRef` below its root).
std::string bundle_openapi(const std::string& doc_path, const std::string& schemas_dir);

// The parts, for tests.
// YAML text (1.2 core schema: plain `true`, `12`, `1.5`, `null` are typed, quoted ones are
// strings) as JSON; throws OpenapiBundleError.
boost::json::value yaml_to_json(const std::string& yaml_text, const std::string& what);
// JSON as block YAML that YAML 1.1 and 1.2 parsers read back as the same value (strings
// that could read as anything else are double-quoted).
std::string json_to_yaml(const boost::json::value& v);
// `doc` bundled in place (see above); `where` names the document in errors.
void bundle_document(boost::json::value& doc, const std::string& schemas_dir, const std::string& where);

}  // namespace turnout::gateway
