#include "security/pkcs11.hpp"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <fcntl.h>
#include <p11-kit/pkcs11.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <span>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <mutex>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "config/config.hpp"
#include "security/card_vault.hpp"
#include "security/message_mac.hpp"
#include "security/seal_counter.hpp"
#include "config/secret_file.hpp"

namespace turnout {
namespace {

std::string rv_text(CK_RV rv) {
    switch (rv) {
        case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
        case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
        case CKR_KEY_UNEXTRACTABLE: return "CKR_KEY_UNEXTRACTABLE";
        case CKR_ATTRIBUTE_SENSITIVE: return "CKR_ATTRIBUTE_SENSITIVE";
        case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
        case CKR_WRAPPED_KEY_INVALID: return "CKR_WRAPPED_KEY_INVALID";
        case CKR_ENCRYPTED_DATA_INVALID: return "CKR_ENCRYPTED_DATA_INVALID";
        case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
        case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
        case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
        default: break;
    }
    std::ostringstream s;
    s << "CKR 0x" << std::hex << rv;
    return s.str();
}

[[noreturn]] void fail(const std::string& what, CK_RV rv) {
    throw std::runtime_error("PKCS#11 " + what + ": " + rv_text(rv));
}

// The token's key type of a data key: AES for PAN keys and AES-CMAC keys, triple DES for the
// two halves of a retail MAC key, a generic secret for the HMAC keys.
CK_KEY_TYPE key_type_of(const WrappedKey& k) {
    if (k.purpose == "pan" || k.algorithm == "aes-cmac" || k.algorithm == "aes") return CKK_AES;
    if (k.purpose == "mac" || k.purpose == "pin") return CKK_DES3;
    return CKK_GENERIC_SECRET;
}

std::string hex_of(const unsigned char* p, size_t n) {
    static const char k[] = "0123456789abcdef";
    std::string s;
    s.reserve(2 * n);
    for (size_t i = 0; i < n; ++i) s.push_back(k[p[i] >> 4]), s.push_back(k[p[i] & 15]);
    return s;
}

// A key's check value as custodians read it, 6 hex digits ("?" when the key does not fit).
std::string kcv_hex(BlockCipher c, std::span<const uint8_t> key) {
    const auto v = key_check_value(c, key);
    return v ? hex_of(v->data(), v->size()) : std::string("?");
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// `<prefix>-<UTC time>-<4 random hex>`: unique on the token too, where KEK labels of other
// key sets (other environments sharing an HSM partition) may live.
std::string new_id(const std::string& prefix, const KeySet& set) {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    for (;;) {
        unsigned char r[2];
        if (RAND_bytes(r, sizeof r) != 1) throw std::runtime_error("RAND_bytes failed");
        const std::string id = prefix + "-" + buf + "-" + hex_of(r, sizeof r);
        if (!set.find(id) && id != set.active_kek) return id;
    }
}

std::string token_pin(const SecurityConfig& sec) {
    if (const char* env = std::getenv("TURNOUT_PKCS11_PIN"); env && *env) return env;
    if (sec.pin_file.empty())
        throw ConfigError("security.pkcs11.pin_file: no PIN for token `" + sec.token_label +
                          "` (set it, or TURNOUT_PKCS11_PIN)");
    check_secret_file(sec.pin_file, "security.pkcs11.pin_file");
    std::ifstream in(sec.pin_file);
    std::string pin;
    std::getline(in, pin);
    while (!pin.empty() && (pin.back() == '\r' || pin.back() == ' ')) pin.pop_back();
    if (pin.empty()) throw ConfigError("security.pkcs11.pin_file: " + sec.pin_file + " is empty");
    return pin;
}

// The PKCS#11 module, one logged-in session that owns the process's session keys, and a
// pool of sessions for operations (a session runs one operation at a time).
class Token {
public:
    explicit Token(const SecurityConfig& sec) {
        f_ = module(sec.pkcs11_module);
        slot_ = find_slot(sec.token_label);
        owner_ = open_session();
        const auto pin = token_pin(sec);
        CK_RV rv = f_->C_Login(owner_, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())),
                               pin.size());
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) fail("login to token `" + sec.token_label + "`", rv);
    }
    ~Token() {
        for (auto s : pool_) f_->C_CloseSession(s);
        if (owner_) f_->C_CloseSession(owner_);  // destroys the session keys
        // The module stays loaded and initialised for the process: other Tokens may use it.
    }
    Token(const Token&) = delete;
    Token& operator=(const Token&) = delete;

    CK_FUNCTION_LIST_PTR f() const { return f_; }
    CK_SESSION_HANDLE owner() const { return owner_; }

    // A session from the pool for one operation.
    class Lease {
    public:
        Lease(const Token& t) : t_(t), s_(t.borrow()) {}
        ~Lease() { t_.give_back(s_); }
        CK_SESSION_HANDLE get() const { return s_; }

    private:
        const Token& t_;
        CK_SESSION_HANDLE s_;
    };

    CK_OBJECT_HANDLE find_kek(const std::string& label) const {
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                               {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        CK_ULONG n = 0;
        if (CK_RV rv = f_->C_FindObjectsInit(owner_, tmpl, 2); rv != CKR_OK) fail("C_FindObjectsInit", rv);
        const CK_RV rv = f_->C_FindObjects(owner_, &h, 1, &n);
        f_->C_FindObjectsFinal(owner_);
        if (rv != CKR_OK) fail("C_FindObjects", rv);
        if (n == 0) throw std::runtime_error("the token has no key-encryption key `" + label + "`");
        return h;
    }

    CK_OBJECT_HANDLE generate_kek(const std::string& label) const {
        CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
        CK_ULONG len = 32;
        CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &yes, 1},       {CKA_PRIVATE, &yes, 1},
                               {CKA_SENSITIVE, &yes, 1},   {CKA_EXTRACTABLE, &no, 1},
                               {CKA_WRAP, &yes, 1},        {CKA_UNWRAP, &yes, 1},
                               {CKA_ENCRYPT, &no, 1},      {CKA_DECRYPT, &no, 1},
                               {CKA_SIGN, &no, 1},         {CKA_VERIFY, &no, 1},
                               {CKA_VALUE_LEN, &len, sizeof len},
                               {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
                               {CKA_ID, const_cast<char*>(label.data()), label.size()}};
        CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        if (CK_RV rv = f_->C_GenerateKey(owner_, &mech, tmpl, sizeof tmpl / sizeof *tmpl, &h); rv != CKR_OK)
            fail("generate key-encryption key", rv);
        return h;
    }

    // A fresh data key for `purpose`, generated inside the token and returned wrapped by `kek`.
    std::string generate_wrapped(CK_OBJECT_HANDLE kek, const std::string& purpose) const {
        CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
        CK_ULONG len = 32;
        const bool aes = purpose == "pan";
        CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &no, 1}, {CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &yes, 1},
                               {CKA_VALUE_LEN, &len, sizeof len}};
        CK_MECHANISM mech{aes ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        if (CK_RV rv = f_->C_GenerateKey(owner_, &mech, tmpl, 4, &h); rv != CKR_OK) fail("generate data key", rv);
        return wrap_and_destroy(kek, h);
    }

    // `key` wrapped by `kek`; the session object `key` is destroyed either way.
    std::string wrap_and_destroy(CK_OBJECT_HANDLE kek, CK_OBJECT_HANDLE key) const {
        std::string out;
        try {
            out = wrap(kek, key);
        } catch (...) {
            f_->C_DestroyObject(owner_, key);
            throw;
        }
        f_->C_DestroyObject(owner_, key);
        return out;
    }

    std::string wrap(CK_OBJECT_HANDLE kek, CK_OBJECT_HANDLE key) const {
        CK_MECHANISM mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
        unsigned char buf[256];
        CK_ULONG n = sizeof buf;
        if (CK_RV rv = f_->C_WrapKey(owner_, &mech, kek, key, buf, &n); rv != CKR_OK) fail("wrap data key", rv);
        return hex_of(buf, n);
    }

    // A key whose clear value the caller holds (a key custodians delivered), put into the
    // token as a sensitive session object and returned wrapped by `kek`; the object is
    // destroyed, the caller clears `value`.
    std::string import_wrapped(CK_OBJECT_HANDLE kek, CK_KEY_TYPE type, std::vector<unsigned char>& value) const {
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
        CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},       {CKA_KEY_TYPE, &type, sizeof type},
                               {CKA_TOKEN, &no, 1},                 {CKA_SENSITIVE, &yes, 1},
                               {CKA_EXTRACTABLE, &yes, 1},          {CKA_VALUE, value.data(), value.size()}};
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        if (CK_RV rv = f_->C_CreateObject(owner_, tmpl, sizeof tmpl / sizeof *tmpl, &h); rv != CKR_OK)
            fail("import key", rv);
        return wrap_and_destroy(kek, h);
    }

    // Unwraps `k` under `kek` as a session key limited to `usage` (CKA_ENCRYPT, CKA_DECRYPT,
    // CKA_SIGN); `extractable` only to re-wrap it under a new KEK; `chain`: the second half
    // of a retail MAC key (wrapped_chain_hex).
    CK_OBJECT_HANDLE unwrap(CK_OBJECT_HANDLE kek, const WrappedKey& k, const std::vector<CK_ATTRIBUTE_TYPE>& usage,
                            bool extractable = false, bool chain = false) const {
        auto wrapped = parse_hex_bytes(chain ? k.wrapped_chain_hex : k.wrapped_hex).value_or(std::vector<uint8_t>{});
        if (wrapped.empty()) throw std::runtime_error("key `" + k.id + "`: `wrapped` is not hex");
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_KEY_TYPE type = key_type_of(k);
        CK_BBOOL yes = CK_TRUE, no = CK_FALSE, ext = extractable ? CK_TRUE : CK_FALSE;
        std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof cls},      {CKA_KEY_TYPE, &type, sizeof type},
                                          {CKA_TOKEN, &no, 1},                {CKA_PRIVATE, &yes, 1},
                                          {CKA_SENSITIVE, &yes, 1},           {CKA_EXTRACTABLE, &ext, 1},
                                          {CKA_LABEL, const_cast<char*>(k.id.data()), k.id.size()}};
        for (auto a : {CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP}) {
            const bool on = std::find(usage.begin(), usage.end(), a) != usage.end();
            tmpl.push_back({a, on ? &yes : &no, 1});
        }
        CK_MECHANISM mech{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        if (CK_RV rv = f_->C_UnwrapKey(owner_, &mech, kek, wrapped.data(), wrapped.size(), tmpl.data(), tmpl.size(), &h);
            rv != CKR_OK)
            fail("unwrap key `" + k.id + "` under `" + k.kek + "`", rv);
        return h;
    }

    // The KEK's protection as the token reports it, and whether its value can be read out.
    std::string describe_kek(const std::string& label) const {
        const auto h = find_kek(label);
        CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, never = CK_FALSE, enc = CK_TRUE, dec = CK_TRUE;
        CK_ATTRIBUTE a[] = {{CKA_SENSITIVE, &sensitive, 1},
                            {CKA_EXTRACTABLE, &extractable, 1},
                            {CKA_NEVER_EXTRACTABLE, &never, 1},
                            {CKA_ENCRYPT, &enc, 1},
                            {CKA_DECRYPT, &dec, 1}};
        if (CK_RV rv = f_->C_GetAttributeValue(owner_, h, a, 5); rv != CKR_OK) fail("read attributes of " + label, rv);
        unsigned char value[64];
        CK_ATTRIBUTE v{CKA_VALUE, value, sizeof value};
        const bool readable = f_->C_GetAttributeValue(owner_, h, &v, 1) == CKR_OK;
        OPENSSL_cleanse(value, sizeof value);
        std::string out = sensitive ? "sensitive" : "NOT SENSITIVE";
        out += extractable ? ", EXTRACTABLE" : never ? ", never extractable" : ", not extractable";
        out += enc || dec ? ", ENCRYPTS DATA" : ", wrap/unwrap only";
        if (readable) out += ", VALUE READABLE";
        return out;
    }

private:
    // Loaded and initialised once per process and module path.
    static CK_FUNCTION_LIST_PTR module(const std::string& path) {
        static std::mutex mu;
        static std::map<std::string, CK_FUNCTION_LIST_PTR> loaded;
        std::lock_guard lock(mu);
        if (auto it = loaded.find(path); it != loaded.end()) return it->second;
        void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!lib) throw ConfigError("security.pkcs11.module: cannot load " + path + ": " + ::dlerror());
        auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(lib, "C_GetFunctionList"));
        CK_FUNCTION_LIST_PTR f = nullptr;
        if (!get || get(&f) != CKR_OK) throw ConfigError("security.pkcs11.module: " + path + " is not a PKCS#11 module");
        CK_C_INITIALIZE_ARGS args{};
        args.flags = CKF_OS_LOCKING_OK;
        if (CK_RV rv = f->C_Initialize(&args); rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
            fail("C_Initialize", rv);
        return loaded[path] = f;
    }

    CK_SLOT_ID find_slot(const std::string& label) {
        CK_ULONG n = 0;
        if (CK_RV rv = f_->C_GetSlotList(CK_TRUE, nullptr, &n); rv != CKR_OK) fail("C_GetSlotList", rv);
        std::vector<CK_SLOT_ID> slots(n);
        if (CK_RV rv = f_->C_GetSlotList(CK_TRUE, slots.data(), &n); rv != CKR_OK) fail("C_GetSlotList", rv);
        for (CK_ULONG i = 0; i < n; ++i) {
            CK_TOKEN_INFO info{};
            if (f_->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
            std::string l(reinterpret_cast<const char*>(info.label), sizeof info.label);
            while (!l.empty() && l.back() == ' ') l.pop_back();
            if (l == label) return slots[i];
        }
        throw ConfigError("security.pkcs11.token_label: no token `" + label + "` in " + std::to_string(n) +
                          " slot(s) (softhsm2-util --init-token --free --label " + label + ")");
    }
    CK_SESSION_HANDLE open_session() const {
        CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
        if (CK_RV rv = f_->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s); rv != CKR_OK)
            fail("C_OpenSession", rv);
        return s;
    }
    CK_SESSION_HANDLE borrow() const {
        {
            std::lock_guard lock(mu_);
            if (!pool_.empty()) {
                auto s = pool_.back();
                pool_.pop_back();
                return s;
            }
        }
        return open_session();
    }
    void give_back(CK_SESSION_HANDLE s) const {
        std::lock_guard lock(mu_);
        pool_.push_back(s);
    }

    CK_FUNCTION_LIST_PTR f_ = nullptr;
    CK_SLOT_ID slot_ = 0;
    CK_SESSION_HANDLE owner_ = CK_INVALID_HANDLE;
    mutable std::mutex mu_;
    mutable std::vector<CK_SESSION_HANDLE> pool_;
};

std::string purpose_of(KeyUse use) {
    return use == kFingerprint ? "fingerprint" : use == kSettlement ? "settlement" : "pan";
}

// CKM_AES_GCM with a 96-bit nonce, `aad` and a 128-bit tag (PKCS#11 2.40 parameters). The
// mechanism points into the object: build it where it is used, never copy it.
class Gcm {
public:
    Gcm(const Nonce96& nonce, std::string_view aad)
        : iv_(nonce),
          params_{iv_.data(), iv_.size(), iv_.size() * 8, reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(aad.data())),
                  aad.size(), 128},
          mech_{CKM_AES_GCM, &params_, sizeof params_} {}
    Gcm(const Gcm&) = delete;
    Gcm& operator=(const Gcm&) = delete;
    CK_MECHANISM_PTR mechanism() const { return const_cast<CK_MECHANISM_PTR>(&mech_); }

private:
    Nonce96 iv_;
    CK_GCM_PARAMS params_;
    CK_MECHANISM mech_;
};

// The two triple-DES keys of a retail MAC in a session, for retail_mac_with().
struct RetailOps {
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE chain, final;
};

// Whole blocks under `key`: CBC with a zero IV (CKM_DES3_CBC) or ECB (CKM_DES3_ECB).
bool token_encrypt(const RetailOps& o, CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE key, const uint8_t* in, size_t n,
                   uint8_t* out) {
    unsigned char iv[8] = {};
    const bool cbc = type == CKM_DES3_CBC;
    CK_MECHANISM mech{type, cbc ? iv : nullptr, cbc ? CK_ULONG{sizeof iv} : CK_ULONG{0}};
    CK_ULONG len = n;
    return o.f->C_EncryptInit(o.session, &mech, key) == CKR_OK &&
           o.f->C_Encrypt(o.session, const_cast<CK_BYTE_PTR>(in), n, out, &len) == CKR_OK && len == n;
}

class Pkcs11KeyProvider final : public KeyProvider {
public:
    Pkcs11KeyProvider(const SecurityConfig& sec, unsigned uses) : token_(sec), uses_(uses) {
        const auto set = read_key_set(sec.key_set_file);
        std::map<std::string, CK_OBJECT_HANDLE> keks;
        auto kek = [&](const std::string& label) {
            auto it = keks.find(label);
            return it != keks.end() ? it->second : keks[label] = token_.find_kek(label);
        };
        if (uses & kSealPan) {
            const auto* k = set.find(set.active_pan_key);
            if (!k) throw std::runtime_error(sec.key_set_file + ": active_pan_key names no key");
            active_ = k->id;
        }
        for (const auto& k : set.keys) {
            std::vector<CK_ATTRIBUTE_TYPE> usage;
            if (k.purpose == "pan") {
                if ((uses & kSealPan) && k.id == active_) usage.push_back(CKA_ENCRYPT);
                if (uses & kOpenPan) usage.push_back(CKA_DECRYPT);
            } else if (k.purpose == "mac") {
                if (!(uses & kIsoMac)) continue;
                MacKey m{*parse_mac_algorithm(k.algorithm)};
                if (m.algorithm == MacAlgorithm::aes_cmac) {
                    m.key = token_.unwrap(kek(k.kek), k, {CKA_SIGN});
                } else {
                    m.key = token_.unwrap(kek(k.kek), k, {CKA_ENCRYPT});
                    m.chain = token_.unwrap(kek(k.kek), k, {CKA_ENCRYPT}, false, true);
                }
                mac_[k.id] = m;
                continue;
            } else if (k.purpose == "pin") {
                if (!(uses & kPin)) continue;
                // The acquiring zone key only deciphers what arrives under it; a channel key only
                // enciphers what leaves under it.
                const bool acquiring = k.id == set.acquiring_pin_key;
                pin_[k.id] = {token_.unwrap(kek(k.kek), k, {acquiring ? CKA_DECRYPT : CKA_ENCRYPT}),
                              k.algorithm == "aes" ? 16u : 8u};
                if (acquiring) acquiring_pin_ = k.id;
                continue;
            } else if ((k.purpose == "fingerprint" && (uses & kFingerprint)) ||
                       (k.purpose == "settlement" && (uses & kSettlement))) {
                usage.push_back(CKA_SIGN);
            }
            if (usage.empty()) continue;
            auto h = token_.unwrap(kek(k.kek), k, usage);
            if (k.purpose == "pan") pan_[k.id] = h;
            else if (k.purpose == "fingerprint") fingerprint_ = h;
            else settlement_ = h;
        }
        for (KeyUse u : {kFingerprint, kSettlement})
            if ((uses & u) && (u == kFingerprint ? fingerprint_ : settlement_) == CK_INVALID_HANDLE)
                throw std::runtime_error(sec.key_set_file + ": no " + purpose_of(u) + " key");
    }

    const char* kind() const override { return "pkcs11"; }
    bool has(KeyUse use) const override { return (uses_ & use) != 0; }
    const std::string& active_pan_key() const override { return active_; }

    std::string gcm_seal(const std::string& key_id, const Nonce96& nonce, std::string_view aad,
                         std::string_view plaintext) const override {
        auto key = pan_.find(key_id);
        if (key == pan_.end()) throw std::runtime_error("no PAN key `" + key_id + "` loaded");
        const Gcm gcm(nonce, aad);
        Token::Lease s(token_);
        auto* f = token_.f();
        if (CK_RV rv = f->C_EncryptInit(s.get(), gcm.mechanism(), key->second); rv != CKR_OK) fail("AES-GCM seal", rv);
        std::string out(plaintext.size() + 16, '\0');
        CK_ULONG n = out.size();
        // An empty value (a null or empty record for the DLQ envelope) may come without a
        // buffer; a token refuses a null one (CKR_ARGUMENTS_BAD), so it gets an empty one.
        static const char kNothing[1] = {0};
        const char* in = plaintext.data() ? plaintext.data() : kNothing;
        if (CK_RV rv = f->C_Encrypt(s.get(), reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(in)),
                                    plaintext.size(), reinterpret_cast<CK_BYTE_PTR>(out.data()), &n);
            rv != CKR_OK)
            fail("AES-GCM seal", rv);
        out.resize(n);
        return out;
    }

    std::optional<std::string> gcm_open(const std::string& key_id, const Nonce96& nonce, std::string_view aad,
                                        std::string_view ct) const override {
        auto key = pan_.find(key_id);
        if (key == pan_.end() || ct.size() < 16) return std::nullopt;
        const Gcm gcm(nonce, aad);
        Token::Lease s(token_);
        auto* f = token_.f();
        if (f->C_DecryptInit(s.get(), gcm.mechanism(), key->second) != CKR_OK) return std::nullopt;
        std::string out(ct.size(), '\0');
        CK_ULONG n = out.size();
        // A failed C_Decrypt ends the operation; the session is clean for the next one.
        if (f->C_Decrypt(s.get(), reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(ct.data())), ct.size(),
                         reinterpret_cast<CK_BYTE_PTR>(out.data()), &n) != CKR_OK)
            return std::nullopt;
        out.resize(n);
        return out;
    }

    Mac256 fingerprint_mac(std::string_view message) const override {
        if (fingerprint_ == CK_INVALID_HANDLE) throw std::runtime_error("the fingerprint key is not loaded in this process");
        return hmac(fingerprint_, message);
    }
    Mac256 settlement_mac(std::string_view message) const override {
        if (settlement_ == CK_INVALID_HANDLE)
            throw std::runtime_error("the clearing-file signing key is not loaded in this process");
        return hmac(settlement_, message);
    }

    // AES-CMAC is one C_Sign (CKM_AES_CMAC, the leftmost 8 bytes kept). ISO 9797-1 algorithm
    // 3 has no PKCS#11 mechanism: its CBC chain is CKM_DES3_CBC under K1|K2|K2 (single DES
    // under K1) and its output transformation CKM_DES3_ECB under K1|K2|K1, both in the token;
    // the chaining value between them (not key material) passes through this process.
    std::optional<Mac8> mac8(const std::string& key_id, std::span<const uint8_t> data) const override {
        auto it = mac_.find(key_id);
        if (it == mac_.end()) return std::nullopt;
        const MacKey& k = it->second;
        Token::Lease s(token_);
        if (k.algorithm == MacAlgorithm::aes_cmac) {
            CK_MECHANISM mech{CKM_AES_CMAC, nullptr, 0};
            auto* f = token_.f();
            unsigned char tag[16];
            CK_ULONG n = sizeof tag;
            // An empty message still needs a valid pointer (the token refuses NULL_PTR).
            unsigned char none = 0;
            auto* in = data.empty() ? &none : const_cast<CK_BYTE_PTR>(data.data());
            if (f->C_SignInit(s.get(), &mech, k.key) != CKR_OK || f->C_Sign(s.get(), in, data.size(), tag, &n) != CKR_OK ||
                n != 16)
                return std::nullopt;
            Mac8 out;
            std::copy(tag, tag + 8, out.begin());
            return out;
        }
        const RetailOps ops{token_.f(), s.get(), k.chain, k.key};
        return retail_mac_with(
            &ops,
            [](const void* c, const uint8_t* in, size_t n, uint8_t* out) {
                const auto& o = *static_cast<const RetailOps*>(c);
                return token_encrypt(o, CKM_DES3_CBC, o.chain, in, n, out);
            },
            [](const void* c, const uint8_t* in, size_t n, uint8_t* out) {
                const auto& o = *static_cast<const RetailOps*>(c);
                return token_encrypt(o, CKM_DES3_ECB, o.final, in, n, out);
            },
            data);
    }

    size_t pin_block_size(const std::string& key_id) const override {
        auto it = pin_.find(key_id);
        return it == pin_.end() ? 0 : it->second.block;
    }
    // One ECB block in the token. The clear PIN block it deciphers comes back to this process:
    // PKCS#11 has no PIN translation mechanism (docs/security.md).
    bool pin_cipher(const std::string& key_id, bool encrypt, const uint8_t* in, uint8_t* out) const override {
        auto it = pin_.find(key_id);
        if (it == pin_.end()) return false;
        const auto& k = it->second;
        CK_MECHANISM mech{k.block == 8 ? CKM_DES3_ECB : CKM_AES_ECB, nullptr, 0};
        Token::Lease s(token_);
        auto* f = token_.f();
        CK_ULONG n = k.block;
        auto* data = const_cast<CK_BYTE_PTR>(in);
        if (encrypt)
            return f->C_EncryptInit(s.get(), &mech, k.key) == CKR_OK &&
                   f->C_Encrypt(s.get(), data, k.block, out, &n) == CKR_OK && n == k.block;
        return f->C_DecryptInit(s.get(), &mech, k.key) == CKR_OK &&
               f->C_Decrypt(s.get(), data, k.block, out, &n) == CKR_OK && n == k.block;
    }
    const std::string& acquiring_pin_key() const override { return acquiring_pin_; }

private:
    Mac256 hmac(CK_OBJECT_HANDLE key, std::string_view message) const {
        CK_MECHANISM mech{CKM_SHA256_HMAC, nullptr, 0};
        Token::Lease s(token_);
        auto* f = token_.f();
        Mac256 mac{};
        CK_ULONG n = mac.size();
        if (CK_RV rv = f->C_SignInit(s.get(), &mech, key); rv != CKR_OK) fail("HMAC-SHA256", rv);
        if (CK_RV rv = f->C_Sign(s.get(), reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(message.data())),
                                 message.size(), mac.data(), &n);
            rv != CKR_OK || n != mac.size())
            fail("HMAC-SHA256", rv);
        return mac;
    }

    struct MacKey {
        MacAlgorithm algorithm = MacAlgorithm::aes_cmac;
        CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;    // AES-CMAC key, or K1|K2|K1
        CK_OBJECT_HANDLE chain = CK_INVALID_HANDLE;  // retail-des3: K1|K2|K2
    };

    struct PinKey {
        CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
        size_t block = 0;
    };

    Token token_;
    unsigned uses_;
    std::string active_;
    std::map<std::string, MacKey> mac_;
    std::map<std::string, PinKey> pin_;
    std::string acquiring_pin_;
    std::map<std::string, CK_OBJECT_HANDLE> pan_;
    CK_OBJECT_HANDLE fingerprint_ = CK_INVALID_HANDLE, settlement_ = CK_INVALID_HANDLE;
};

}  // namespace

const WrappedKey* KeySet::find(const std::string& id) const {
    for (const auto& k : keys)
        if (k.id == id) return &k;
    return nullptr;
}

const WrappedKey* KeySet::first_of(const std::string& purpose) const {
    for (const auto& k : keys)
        if (k.purpose == purpose) return &k;
    return nullptr;
}

KeySet read_key_set(const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        throw std::runtime_error("security.pkcs11.key_set_file: " + path +
                                 " cannot be read (create the keys with `turnout keys init`)");
    } catch (const YAML::Exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
    auto str = [&](const YAML::Node& n, const char* k) {
        if (!n[k] || !n[k].IsScalar()) throw std::runtime_error(path + ": expected `" + k + "`");
        return n[k].as<std::string>();
    };
    KeySet s;
    s.token_label = str(root, "token_label");
    s.active_kek = str(root, "active_kek");
    s.active_pan_key = str(root, "active_pan_key");
    if (root["acquiring_pin_key"]) s.acquiring_pin_key = root["acquiring_pin_key"].as<std::string>();
    if (!root["keys"] || !root["keys"].IsSequence()) throw std::runtime_error(path + ": expected a list `keys`");
    for (const auto& k : root["keys"]) {
        WrappedKey w{str(k, "id"), str(k, "purpose"), str(k, "kek"), str(k, "wrapped"), str(k, "created")};
        if (w.purpose != "pan" && w.purpose != "fingerprint" && w.purpose != "settlement" && w.purpose != "mac" &&
            w.purpose != "pin")
            throw std::runtime_error(path + ": key `" + w.id + "`: purpose must be pan, fingerprint, settlement, mac or pin");
        if (w.purpose == "mac" || w.purpose == "pin") {
            w.algorithm = str(k, "algorithm");
            const bool known = w.purpose == "mac" ? parse_mac_algorithm(w.algorithm).has_value()
                                                  : w.algorithm == "des3" || w.algorithm == "aes";
            if (!known)
                throw std::runtime_error(path + ": key `" + w.id + "`: algorithm must be " +
                                         (w.purpose == "mac" ? "retail-des3 or aes-cmac" : "des3 or aes"));
            if (k["kcv"]) w.kcv = k["kcv"].as<std::string>();
            if (w.algorithm == "retail-des3") w.wrapped_chain_hex = str(k, "wrapped_chain");
        }
        if (s.find(w.id)) throw std::runtime_error(path + ": key id `" + w.id + "` appears twice");
        if (w.id == s.acquiring_pin_key && w.purpose != "pin")
            throw std::runtime_error(path + ": acquiring_pin_key `" + w.id + "` is not a PIN key");
        s.keys.push_back(std::move(w));
    }
    if (!s.acquiring_pin_key.empty() && !s.find(s.acquiring_pin_key))
        throw std::runtime_error(path + ": acquiring_pin_key `" + s.acquiring_pin_key + "` names no key");
    return s;
}

void write_key_set(const std::string& path, const KeySet& set) {
    std::ostringstream o;
    o << "# Turnout key set, written by `turnout keys`. Data keys wrapped (AES key wrap with padding,\n"
         "# RFC 5649) by a key-encryption key that never leaves the token. Not secret; keep it with\n"
         "# the configuration and back it up: without it the token cannot open what was sealed.\n";
    YAML::Emitter e;
    e << YAML::BeginMap << YAML::Key << "token_label" << YAML::Value << set.token_label << YAML::Key << "active_kek"
      << YAML::Value << set.active_kek << YAML::Key << "active_pan_key" << YAML::Value << set.active_pan_key;
    if (!set.acquiring_pin_key.empty()) e << YAML::Key << "acquiring_pin_key" << YAML::Value << set.acquiring_pin_key;
    e << YAML::Key << "keys" << YAML::Value << YAML::BeginSeq;
    for (const auto& k : set.keys) {
        e << YAML::BeginMap << YAML::Key << "id" << YAML::Value << k.id << YAML::Key << "purpose" << YAML::Value
          << k.purpose << YAML::Key << "kek" << YAML::Value << k.kek << YAML::Key << "created" << YAML::Value
          << k.created;
        if (!k.algorithm.empty()) e << YAML::Key << "algorithm" << YAML::Value << k.algorithm;
        if (!k.kcv.empty()) e << YAML::Key << "kcv" << YAML::Value << k.kcv;
        e << YAML::Key << "wrapped" << YAML::Value << k.wrapped_hex;
        if (!k.wrapped_chain_hex.empty()) e << YAML::Key << "wrapped_chain" << YAML::Value << k.wrapped_chain_hex;
        e << YAML::EndMap;
    }
    e << YAML::EndSeq << YAML::EndMap;
    o << e.c_str() << "\n";
    const auto text = o.str();
    std::error_code ec;
    if (auto dir = std::filesystem::path(path).parent_path(); !dir.empty()) std::filesystem::create_directories(dir, ec);
    const auto tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot write " + path);
}

std::unique_ptr<KeyProvider> make_pkcs11_key_provider(const SecurityConfig& sec, unsigned uses) {
    return std::make_unique<Pkcs11KeyProvider>(sec, uses);
}

int keys_init(const SecurityConfig& sec, std::ostream& out) {
    if (std::filesystem::exists(sec.key_set_file))
        throw std::runtime_error(sec.key_set_file + " exists: the keys are made once (`turnout keys rotate` for new ones)");
    Token token(sec);
    KeySet set;
    set.token_label = sec.token_label;
    set.active_kek = new_id("kek", set);
    const auto kek = token.generate_kek(set.active_kek);
    out << "key-encryption key " << set.active_kek << " generated in token `" << sec.token_label
        << "` (sensitive, not extractable, wrap/unwrap only)\n";
    const auto created = utc_now();
    for (const char* purpose : {"pan", "fingerprint", "settlement"}) {
        WrappedKey k{new_id(purpose, set), purpose, set.active_kek, token.generate_wrapped(kek, purpose), created};
        out << purpose << " key " << k.id << " generated in the token, wrapped by " << set.active_kek << "\n";
        set.keys.push_back(std::move(k));
    }
    set.active_pan_key = set.first_of("pan")->id;
    write_key_set(sec.key_set_file, set);
    out << "wrote " << sec.key_set_file << "; new seals use " << set.active_pan_key << "\n";
    return 0;
}

int keys_rotate(const SecurityConfig& sec, bool new_kek, std::ostream& out) {
    auto set = read_key_set(sec.key_set_file);
    Token token(sec);
    if (!new_kek) {
        const auto kek = token.find_kek(set.active_kek);
        WrappedKey k{new_id("pan", set), "pan", set.active_kek, token.generate_wrapped(kek, "pan"), utc_now()};
        out << "pan key " << k.id << " generated in the token, wrapped by " << set.active_kek << "\n";
        out << "new seals use " << k.id << " (after a restart of the sealing processes); " << set.active_pan_key
            << " and older keys still open what they sealed\n";
        set.active_pan_key = k.id;
        set.keys.push_back(std::move(k));
        write_key_set(sec.key_set_file, set);
        return 0;
    }
    const auto label = new_id("kek", set);
    const auto fresh = token.generate_kek(label);
    out << "key-encryption key " << label << " generated in token `" << sec.token_label << "`\n";
    std::map<std::string, CK_OBJECT_HANDLE> old;
    for (auto& k : set.keys) {
        if (!old.count(k.kek)) old[k.kek] = token.find_kek(k.kek);
        // Unwrapped inside the token, extractable only to be wrapped again, then destroyed.
        auto rewrap = [&](bool chain) { return token.wrap_and_destroy(fresh, token.unwrap(old[k.kek], k, {}, true, chain)); };
        k.wrapped_hex = rewrap(false);
        if (!k.wrapped_chain_hex.empty()) k.wrapped_chain_hex = rewrap(true);
        out << k.purpose << " key " << k.id << " re-wrapped: " << k.kek << " -> " << label << "\n";
        k.kek = label;
    }
    set.active_kek = label;
    write_key_set(sec.key_set_file, set);
    out << "wrote " << sec.key_set_file << "; the old key-encryption key(s) stay on the token until destroyed\n";
    return 0;
}

int keys_list(const SecurityConfig& sec, const std::string& keys_file, std::ostream& out) {
    const auto seals = SealCounter::totals(sec.seal_count_dir);
    auto seal_text = [&](const std::string& id) {
        auto it = seals.find(id);
        const int64_t n = it == seals.end() ? 0 : it->second;
        std::ostringstream s;
        s << n << " of " << sec.seal_limit << " (" << std::fixed << std::setprecision(2)
          << 100.0 * static_cast<double>(n) / static_cast<double>(sec.seal_limit) << "%)";
        return s.str();
    };
    if (sec.key_provider == "file") {
        const auto keys = load_vault_keys(keys_file);
        out << "provider file (" << keys_file << "): keys in process memory, development only\n";
        for (const auto& [id, k] : keys.pan_keys)
            out << "  pan          " << id << (id == keys.active_pan_key ? "  active" : "") << "  seals " << seal_text(id)
                << "\n";
        out << "  fingerprint  (fingerprint_key_hex)\n";
        if (keys.settlement_hmac_key) out << "  settlement   (settlement_hmac_key_hex)\n";
        for (const auto& [id, k] : keys.mac_keys)
            out << "  mac          " << id << "  " << to_string(k.algorithm) << "  check value "
                << kcv_hex(cipher_of(k.algorithm), k.key) << "\n";
        for (const auto& [id, k] : keys.pin_keys)
            out << "  pin          " << id << "  " << (k.cipher == BlockCipher::aes ? "aes" : "des3") << "  check value "
                << kcv_hex(k.cipher, k.key) << (id == keys.acquiring_pin_key ? "  acquiring zone" : "") << "\n";
        return 0;
    }
    const auto set = read_key_set(sec.key_set_file);
    out << "provider pkcs11, token `" << set.token_label << "`, key set " << sec.key_set_file << "\n";
    Token token(sec);
    out << "  key-encryption key " << set.active_kek << " (active): " << token.describe_kek(set.active_kek) << "\n";
    for (const auto& k : set.keys) {
        out << "  " << std::left << std::setw(12) << k.purpose << " " << k.id << "  wrapped by " << k.kek << "  created "
            << k.created;
        if (k.purpose == "pan") out << (k.id == set.active_pan_key ? "  active" : "") << "  seals " << seal_text(k.id);
        if (k.purpose == "mac" || k.purpose == "pin")
            out << "  " << k.algorithm << "  check value " << k.kcv
                << (k.id == set.acquiring_pin_key ? "  acquiring zone" : "");
        out << "\n";
    }
    return 0;
}

int keys_import(const SecurityConfig& sec, const KeyImport& what, std::istream& in, std::ostream& out) {
    const bool mac = what.purpose == "mac", pin = what.purpose == "pin";
    const auto mac_alg = parse_mac_algorithm(what.algorithm);
    if (!(mac && mac_alg) && !(pin && (what.algorithm == "des3" || what.algorithm == "aes")))
        throw ConfigError("`turnout keys import` takes --purpose mac --algorithm retail-des3|aes-cmac, or --purpose pin "
                          "--algorithm des3|aes");
    if (what.acquiring && !pin) throw ConfigError("--acquiring names a PIN key (--purpose pin)");
    if (what.id.empty() || what.id.size() > 64) throw ConfigError("--id: 1 to 64 characters");
    if (what.components < 1 || what.components > 9) throw ConfigError("--components: 1 to 9");
    auto set = read_key_set(sec.key_set_file);
    const std::string setting = mac ? "mac_key" : "pin_key";
    if (set.find(what.id))
        throw std::runtime_error(sec.key_set_file + " already holds a key `" + what.id +
                                 "` (a new key gets a new id; point the channel's " + setting + " at it)");
    // Triple DES keys are double-length (K1|K2); AES keys 16, 24 or 32 bytes.
    const bool tdes = mac ? *mac_alg == MacAlgorithm::retail_des3 : what.algorithm == "des3";
    const BlockCipher cipher = tdes ? BlockCipher::tdes2 : BlockCipher::aes;
    std::vector<unsigned char> key;
    auto kcv_text = [&](std::span<const unsigned char> k) { return kcv_hex(cipher, k); };
    for (int i = 1; i <= what.components; ++i) {
        std::string line;
        if (!std::getline(in, line)) throw std::runtime_error("component " + std::to_string(i) + " of " +
                                                              std::to_string(what.components) + ": no input");
        std::string hex;
        for (char c : line)
            if (!std::isspace(static_cast<unsigned char>(c))) hex.push_back(static_cast<char>(std::tolower(c)));
        OPENSSL_cleanse(line.data(), line.size());
        auto part = parse_hex_bytes(hex).value_or(std::vector<uint8_t>{});
        OPENSSL_cleanse(hex.data(), hex.size());
        const bool fits = tdes ? part.size() == 16 : part.size() == 16 || part.size() == 24 || part.size() == 32;
        if (!fits || (!key.empty() && part.size() != key.size())) {
            OPENSSL_cleanse(part.data(), part.size());
            OPENSSL_cleanse(key.data(), key.size());
            throw std::runtime_error("component " + std::to_string(i) + ": expected " +
                                     (tdes ? std::string("32") : std::string("32, 48 or 64")) +
                                     " hex digits, all components of one size");
        }
        out << "component " << i << " of " << what.components << ": check value " << kcv_text(part) << "\n";
        if (key.empty()) key.assign(part.size(), 0);
        for (size_t j = 0; j < part.size(); ++j) key[j] ^= part[j];
        OPENSSL_cleanse(part.data(), part.size());
    }
    // DES keys carry odd parity in the low bit of each byte (PKCS#11 tokens may insist);
    // XORed components lose it. The cipher ignores those bits, so nothing else changes.
    if (tdes)
        for (auto& b : key) b = static_cast<unsigned char>((b & 0xfe) | (__builtin_popcount(b & 0xfe) % 2 == 0));
    const std::string kcv = kcv_text(key);
    std::string expected;
    for (char c : what.expect_kcv) expected.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (!expected.empty() && expected != kcv) {
        OPENSSL_cleanse(key.data(), key.size());
        throw std::runtime_error("the components make a key with check value " + kcv + ", not " + what.expect_kcv +
                                 " (--kcv): a component was mistyped; nothing imported");
    }
    Token token(sec);
    const auto kek = token.find_kek(set.active_kek);
    WrappedKey k{what.id, what.purpose, set.active_kek, {}, utc_now(), what.algorithm, kcv, {}};
    std::vector<unsigned char> k3(24);
    try {
        if (!tdes) {
            k.wrapped_hex = token.import_wrapped(kek, CKK_AES, key);
        } else {
            // K1|K2|K1: two-key triple DES as a three-key object. A retail MAC key also gets
            // K1|K2|K2, which is single DES under K1: its CBC chain.
            std::copy(key.begin(), key.end(), k3.begin());
            std::copy(key.begin(), key.begin() + 8, k3.begin() + 16);
            k.wrapped_hex = token.import_wrapped(kek, CKK_DES3, k3);
            if (mac) {
                std::copy(key.begin() + 8, key.end(), k3.begin() + 16);
                k.wrapped_chain_hex = token.import_wrapped(kek, CKK_DES3, k3);
            }
        }
    } catch (...) {
        OPENSSL_cleanse(k3.data(), k3.size());
        OPENSSL_cleanse(key.data(), key.size());
        throw;
    }
    OPENSSL_cleanse(k3.data(), k3.size());
    OPENSSL_cleanse(key.data(), key.size());
    out << what.purpose << " key " << k.id << " (" << k.algorithm << ") check value " << k.kcv
        << " imported into token `" << sec.token_label << "`, wrapped by " << set.active_kek << "\n";
    set.keys.push_back(std::move(k));
    if (what.acquiring) {
        out << "PIN blocks in requests are under " << what.id
            << (set.acquiring_pin_key.empty() ? "" : " (was " + set.acquiring_pin_key + ")") << "\n";
        set.acquiring_pin_key = what.id;
    }
    write_key_set(sec.key_set_file, set);
    out << "wrote " << sec.key_set_file << "; ";
    if (what.acquiring) out << "connectors with a pin_key translate from it after a restart\n";
    else out << "a channel with `" << setting << ": " << what.id << "` uses it after a restart of its connector\n";
    return 0;
}

}  // namespace turnout
