// The gateway's OpenAPI document made self-contained: external schema refs inlined, their
// internal refs rewritten, errors that name the file at fault, YAML that reads back the same.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "gateway/openapi_bundle.hpp"

using namespace turnout::gateway;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name)
        : path(fs::temp_directory_path() / ("turnout-openapi-" + name + "-" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path / "docs");
        fs::create_directories(path / "schemas");
    }
    ~TempDir() { fs::remove_all(path); }
    void write(const std::string& rel, const std::string& text) const { std::ofstream(path / rel) << text; }
};

// Every "$ref" string of a JSON value.
void refs_of(const json::value& v, std::vector<std::string>& out) {
    if (v.is_object()) {
        for (const auto& kv : v.get_object()) {
            if (kv.key() == "$ref" && kv.value().is_string()) out.emplace_back(kv.value().get_string());
            else refs_of(kv.value(), out);
        }
    } else if (v.is_array()) {
        for (const auto& x : v.get_array()) refs_of(x, out);
    }
}

const json::value& at(const json::value& v, const std::string& pointer) { return v.at_pointer(pointer); }

const char* const kSchemaA = R"({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://turnout.example/schemas/a.schema.json",
  "title": "A",
  "type": "object",
  "properties": {
    "id": {"$ref": "#/$defs/id", "description": "the id"},
    "self": {"$ref": "#"},
    "kind": {"$ref": "#/properties/name"},
    "name": {"type": "string", "examples": [{"$ref": "not a ref: example data"}]},
    "$ref": {"type": "string", "description": "a property named $ref"}
  },
  "$defs": {"id": {"type": "string", "pattern": "^[a-z]+$"}}
})";

const char* const kDocA = R"(openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /x/{id}:
    get:
      parameters:
        - name: id
          in: path
          required: true
          schema: {$ref: '../schemas/a.schema.json#/$defs/id'}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/A'}
components:
  schemas:
    A: {$ref: '../schemas/a.schema.json'}
)";

}  // namespace

TEST_CASE("openapi bundle: external refs inlined, internal refs rewritten, nothing external left") {
    struct Case {
        const char* name;
        std::string doc;
        std::map<std::string, std::string> schemas;
        std::map<std::string, std::string> expect;  // pointer in the bundled document -> its JSON
    };
    const std::vector<Case> cases = {
        {"a components entry is replaced by its file, $defs hoisted, $id and $schema dropped",
         kDocA,
         {{"a.schema.json", kSchemaA}},
         {{"/components/schemas/A/title", R"("A")"},
          {"/components/schemas/A/properties/id", R"({"$ref":"#/components/schemas/A.id","description":"the id"})"},
          {"/components/schemas/A/properties/self", R"({"$ref":"#/components/schemas/A"})"},
          {"/components/schemas/A/properties/kind", R"({"$ref":"#/components/schemas/A/properties/name"})"},
          {"/components/schemas/A.id", R"({"type":"string","pattern":"^[a-z]+$"})"},
          {"/paths/~1x~1{id}/get/parameters/0/schema", R"({"$ref":"#/components/schemas/A.id"})"},
          // data and a property named $ref are left alone
          {"/components/schemas/A/properties/name/examples/0", R"({"$ref":"not a ref: example data"})"},
          {"/components/schemas/A/properties/$ref", R"({"type":"string","description":"a property named $ref"})"}}},
        {"a file referenced only from a path becomes a component named after it",
         R"(openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /y:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '../schemas/payment-thing.schema.json'}
      responses:
        "204": {description: none}
)",
         {{"payment-thing.schema.json", R"({"$id": "x", "type": "object", "properties": {"b": {"$ref": "b.schema.json#/properties/v"}}})"},
          {"b.schema.json", R"({"type": "object", "properties": {"v": {"type": "integer"}}})"}},
         {{"/paths/~1y/post/requestBody/content/application~1json/schema", R"({"$ref":"#/components/schemas/PaymentThing"})"},
          {"/components/schemas/PaymentThing", R"({"type":"object","properties":{"b":{"$ref":"#/components/schemas/B/properties/v"}}})"},
          {"/components/schemas/B", R"({"type":"object","properties":{"v":{"type":"integer"}}})"}}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        TempDir dir("ok");
        dir.write("docs/openapi.yaml", c.doc);
        for (const auto& [file, text] : c.schemas) dir.write("schemas/" + file, text);
        const std::string out = bundle_openapi((dir.path / "docs/openapi.yaml").string(), (dir.path / "schemas").string());
        const json::value doc = yaml_to_json(out, "bundled");
        for (const auto& [pointer, want] : c.expect) {
            CAPTURE(pointer);
            CHECK(json::serialize(at(doc, pointer)) == json::serialize(json::parse(want)));
        }
        std::vector<std::string> refs;
        refs_of(doc, refs);
        for (const auto& r : refs) {
            CAPTURE(r);
            CHECK((r.rfind("#", 0) == 0 || r == "not a ref: example data"));
        }
        CHECK(out.find("$id") == std::string::npos);
        CHECK(out.find("$schema") == std::string::npos);
    }
}

TEST_CASE("openapi bundle: errors name the file and the ref at fault") {
    struct Case {
        const char* name;
        std::string doc;
        std::map<std::string, std::string> schemas;
        std::vector<std::string> message_has;
    };
    const std::vector<Case> cases = {
        {"missing schema file", kDocA, {}, {"a.schema.json", "cannot be read", "/components/schemas/A"}},
        {"schema file is not JSON", kDocA, {{"a.schema.json", "{\"type\": "}}, {"a.schema.json", "not JSON"}},
        {"ref into a $defs entry the file does not have",
         kDocA,
         {{"a.schema.json", R"({"type": "object", "$defs": {"other": {}}})"}},
         {"no $defs/id", "a.schema.json"}},
        {"ref to a pointer that is not there",
         R"(openapi: 3.1.0
info: {title: t, version: "1"}
paths: {}
components:
  schemas:
    A: {$ref: '../schemas/a.schema.json'}
    B: {$ref: '#/components/schemas/A/properties/missing'}
)",
         {{"a.schema.json", R"({"type": "object"})"}},
         {"#/components/schemas/A/properties/missing", "does not resolve"}},
        {"an $id below the root of an inlined schema",
         kDocA,
         {{"a.schema.json", R"({"type": "object", "properties": {"x": {"$id": "inner", "type": "string"}}, "$defs": {"id": {}}})"}},
         {"a.schema.json", "$id", "/properties/x"}},
        {"an anchor fragment", R"(openapi: 3.1.0
info: {title: t, version: "1"}
paths: {}
components:
  schemas:
    A: {$ref: '../schemas/a.schema.json#thing'}
)",
         {{"a.schema.json", R"({"type": "object"})"}},
         {"#thing", "not a JSON pointer"}},
        {"YAML that does not parse", "openapi: [3.1.0\n", {}, {"openapi.yaml"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        TempDir dir("err");
        dir.write("docs/openapi.yaml", c.doc);
        for (const auto& [file, text] : c.schemas) dir.write("schemas/" + file, text);
        std::string message;
        try {
            bundle_openapi((dir.path / "docs/openapi.yaml").string(), (dir.path / "schemas").string());
        } catch (const OpenapiBundleError& e) {
            message = e.what();
        }
        CAPTURE(message);
        REQUIRE(!message.empty());
        for (const auto& part : c.message_has) {
            CAPTURE(part);
            CHECK(message.find(part) != std::string::npos);
        }
    }
    CHECK_THROWS_AS(bundle_openapi("/nonexistent/openapi.yaml", "/nonexistent"), OpenapiBundleError);
}

TEST_CASE("openapi bundle: YAML out reads back as the same value") {
    const std::vector<std::pair<const char*, std::string>> cases = {
        {"strings that would read as other types",
         R"({"a":"yes","b":"No","c":"200","d":"","e":"null","f":"1.5","g":"true","h":"~","i":"0x1F","j":"on","k":"1e3"})"},
        {"strings with indicators and spaces",
         R"({"a":"a: b","b":"-x","c":"#c","d":" lead","e":"trail ","f":"{x}","g":"[y]","h":"*star","i":"&amp","j":"!tag","k":"'q'","l":"\"dq\"","m":"%p","n":"@at","o":"`bt`","p":"|pipe",">":"gt","/v1/payments/{id}":"path"})"},
        {"control characters and non-ASCII",
         "{\"a\":\"x\\ny\\tz\\r\",\"b\":\"\\u0000\\u001f\\u007f\",\"c\":\"caf\\u00e9 \\u20ac\",\"d\":\"\\u0085\\u0080\",\"e\":\"back\\\\slash\"}"},
        {"numbers", R"({"a":0,"b":-7,"c":1000000000000,"d":18446744073709551615,"e":1.5,"f":1e20,"g":-2.5e-7,"h":3.0})"},
        {"nesting and empty containers",
         R"({"a":{},"b":[],"c":[[1,[2,{}]],{"x":[{"y":{"z":[]}}]}],"d":[{"p":1,"q":[true,false,null]},"s"],"e":{"f":{"g":{"h":"i"}}}})"},
        {"a top-level array", R"([1,"two",{"three":3}])"},
    };
    for (const auto& [name, text] : cases) {
        CAPTURE(name);
        const json::value v = json::parse(text);
        const std::string yaml = json_to_yaml(v);
        CAPTURE(yaml);
        const json::value back = yaml_to_json(yaml, "round trip");
        if (v.is_object() && v.get_object().contains("h") && v.get_object().at("h").is_double()) {
            CHECK(back.at("h").is_double());  // 3.0 stays a float
        }
        CHECK(json::serialize(back) == json::serialize(v));
    }
}

TEST_CASE("openapi bundle: the shipped docs/openapi.yaml with schemas/ is self-contained") {
    const std::string src = TURNOUT_SOURCE_DIR;
    const std::string out = bundle_openapi(src + "/docs/openapi.yaml", src + "/schemas");
    const json::value doc = yaml_to_json(out, "bundled");
    const json::value source = yaml_to_json(
        [&] {
            std::ifstream in(src + "/docs/openapi.yaml");
            std::stringstream ss;
            ss << in.rdbuf();
            return ss.str();
        }(),
        "docs/openapi.yaml");
    CHECK(doc.at("openapi").as_string() == "3.1.0");
    // every component of the source is there, the schema files' ones with their content
    for (const auto& kv : source.at("components").at("schemas").get_object()) {
        CAPTURE(std::string(kv.key()));
        REQUIRE(doc.at("components").at("schemas").get_object().contains(kv.key()));
    }
    CHECK(doc.at_pointer("/components/schemas/PaymentResult/title").as_string() == "Payment result");
    CHECK(doc.at_pointer("/components/schemas/PaymentRequest/title").as_string() == "Payment request");
    CHECK(doc.at_pointer("/components/schemas/PaymentState/title").as_string() == "Payment state");
    CHECK(doc.at("components").at("schemas").get_object().contains("PaymentResult.currency"));
    std::vector<std::string> refs;
    refs_of(doc, refs);
    CHECK(refs.size() > 20);
    for (const auto& r : refs) {
        CAPTURE(r);
        REQUIRE(r.rfind("#/", 0) == 0);
        const std::string pointer = r.substr(1);
        boost::system::error_code ec;
        CHECK(doc.find_pointer(pointer, ec) != nullptr);
    }
    CHECK(out.find("../schemas") == std::string::npos);
}
