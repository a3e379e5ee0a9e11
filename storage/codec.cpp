#include "storage/codec.hpp"

#include <cstring>

namespace rl::storage::codec {

namespace {

// Record values start with a format byte so later versions can add fields.
constexpr std::uint8_t user_format_1 = 1;  // schema 1: le64 limit
constexpr std::uint8_t user_format = 2;
constexpr std::uint8_t plan_format = 1;
// The name of the built-in plan a schema-1 user with limit 0 followed.
constexpr std::uint8_t key_format = 1;

void put_be64(std::string& out, std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

void put_le64(std::string& out, std::uint64_t v) {
    for (int shift = 0; shift < 64; shift += 8) out.push_back(static_cast<char>(v >> shift));
}

void put_string(std::string& out, std::string_view s) {
    put_le64(out, s.size());
    out.append(s);
}

// Bounds-checked reader: every read fails softly once the input is exhausted.
class reader {
public:
    explicit reader(std::string_view bytes) : bytes_(bytes) {}

    bool be64(std::uint64_t& v) noexcept {
        if (bytes_.size() < 8) return false;
        v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(bytes_[i]);
        bytes_.remove_prefix(8);
        return true;
    }
    bool le64(std::uint64_t& v) noexcept {
        if (bytes_.size() < 8) return false;
        v = 0;
        for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(bytes_[i]);
        bytes_.remove_prefix(8);
        return true;
    }
    bool byte(std::uint8_t& v) noexcept {
        if (bytes_.empty()) return false;
        v = static_cast<std::uint8_t>(bytes_[0]);
        bytes_.remove_prefix(1);
        return true;
    }
    bool string(std::string& s) {
        std::uint64_t n = 0;
        if (!le64(n) || n > bytes_.size()) return false;
        s.assign(bytes_.substr(0, n));
        bytes_.remove_prefix(n);
        return true;
    }
    bool i64(std::int64_t& v) noexcept {
        std::uint64_t u = 0;
        if (!le64(u)) return false;
        v = static_cast<std::int64_t>(u);
        return true;
    }
    bool done() const noexcept { return bytes_.empty(); }

private:
    std::string_view bytes_;
};

}  // namespace

std::string encode_user(const user_record& user) {
    std::string out;
    out.push_back(static_cast<char>(user_format));
    put_string(out, user.plan);
    put_string(out, user.limits);
    out.push_back(user.disabled ? 1 : 0);
    put_le64(out, static_cast<std::uint64_t>(user.created_at));
    return out;
}

std::string encode_user_format1(std::uint32_t limit, bool disabled, unix_seconds created_at) {
    std::string out;
    out.push_back(static_cast<char>(user_format_1));
    put_le64(out, limit);
    out.push_back(disabled ? 1 : 0);
    put_le64(out, static_cast<std::uint64_t>(created_at));
    return out;
}

std::optional<user_record> decode_user(std::string_view name, std::string_view bytes) noexcept {
    try {
        reader r(bytes);
        user_record user;
        std::uint8_t format = 0, disabled = 0;
        if (!r.byte(format)) return std::nullopt;
        if (format == user_format_1) {
            std::uint64_t limit = 0;
            if (!r.le64(limit) || limit > UINT32_MAX) return std::nullopt;
            if (limit == 0)
                user.plan = default_plan;
            else
                user.limits = "1s:" + std::to_string(limit);
        } else if (format == user_format) {
            if (!r.string(user.plan) || !r.string(user.limits)) return std::nullopt;
            // Exactly one of the two: a plan, or limits of the user's own.
            if (user.plan.empty() == user.limits.empty()) return std::nullopt;
        } else {
            return std::nullopt;
        }
        if (!r.byte(disabled) || disabled > 1 || !r.i64(user.created_at) || !r.done())
            return std::nullopt;
        user.name.assign(name);
        user.disabled = disabled == 1;
        return user;
    } catch (...) {  // allocation failure on a corrupt length
        return std::nullopt;
    }
}

std::string encode_plan(const plan_record& plan) {
    std::string out;
    out.push_back(static_cast<char>(plan_format));
    put_string(out, plan.limits);
    out.push_back(plan.shadow ? 1 : 0);
    put_le64(out, static_cast<std::uint64_t>(plan.created_at));
    put_le64(out, static_cast<std::uint64_t>(plan.updated_at));
    return out;
}

std::optional<plan_record> decode_plan(std::string_view name, std::string_view bytes) noexcept {
    try {
        reader r(bytes);
        plan_record plan;
        std::uint8_t format = 0, shadow = 0;
        if (!r.byte(format) || format != plan_format || !r.string(plan.limits) ||
            plan.limits.empty() || !r.byte(shadow) || shadow > 1 || !r.i64(plan.created_at) ||
            !r.i64(plan.updated_at) || !r.done())
            return std::nullopt;
        plan.name.assign(name);
        plan.shadow = shadow == 1;
        return plan;
    } catch (...) {
        return std::nullopt;
    }
}

std::string encode_key(const key_record& key) {
    std::string out;
    out.push_back(static_cast<char>(key_format));
    put_le64(out, key.key_id);
    put_string(out, key.user);
    put_string(out, key.label);
    put_le64(out, static_cast<std::uint64_t>(key.created_at));
    put_le64(out, static_cast<std::uint64_t>(key.expires_at));
    put_le64(out, static_cast<std::uint64_t>(key.revoked_at));
    return out;
}

std::optional<key_record> decode_key(std::string_view hash, std::string_view bytes) noexcept {
    if (hash.size() != sizeof(key_hash)) return std::nullopt;
    try {
        reader r(bytes);
        key_record key;
        std::uint8_t format = 0;
        if (!r.byte(format) || format != key_format || !r.le64(key.key_id) || !r.string(key.user) ||
            !r.string(key.label) || !r.i64(key.created_at) || !r.i64(key.expires_at) ||
            !r.i64(key.revoked_at) || !r.done())
            return std::nullopt;
        std::memcpy(key.hash.data(), hash.data(), hash.size());
        return key;
    } catch (...) {  // allocation failure on a corrupt length
        return std::nullopt;
    }
}

std::string encode_key_id(std::uint64_t key_id) {
    std::string out;
    put_be64(out, key_id);
    return out;
}

std::optional<std::uint64_t> decode_key_id(std::string_view bytes) noexcept {
    reader r(bytes);
    std::uint64_t id = 0;
    if (!r.be64(id) || !r.done()) return std::nullopt;
    return id;
}

void encode_usage_key(unix_seconds start, std::uint64_t key_id,
                      char (&out)[usage_key_size]) noexcept {
    for (int i = 0; i < 8; ++i) {
        out[i] = static_cast<char>(static_cast<std::uint64_t>(start) >> (56 - 8 * i));
        out[8 + i] = static_cast<char>(key_id >> (56 - 8 * i));
    }
}

std::string encode_usage_key(unix_seconds start, std::uint64_t key_id) {
    char out[usage_key_size];
    encode_usage_key(start, key_id, out);
    return std::string(out, sizeof out);
}

std::optional<usage_bucket> decode_usage_key(std::string_view bytes) noexcept {
    reader r(bytes);
    std::uint64_t start = 0;
    usage_bucket bucket;
    if (!r.be64(start) || !r.be64(bucket.key_id) || !r.done()) return std::nullopt;
    bucket.start = static_cast<unix_seconds>(start);
    return bucket;
}

void encode_usage_value(const usage_count& count, char (&out)[usage_value_size]) noexcept {
    for (int i = 0; i < 8; ++i) {
        out[i] = static_cast<char>(count.admitted >> (8 * i));
        out[8 + i] = static_cast<char>(count.limited >> (8 * i));
        out[16 + i] = static_cast<char>(count.shadow_limited >> (8 * i));
    }
}

std::string encode_usage_value(const usage_count& count) {
    char out[usage_value_size];
    encode_usage_value(count, out);
    return std::string(out, sizeof out);
}

std::optional<usage_count> decode_usage_value(std::string_view bytes) noexcept {
    reader r(bytes);
    usage_count count;
    if (!r.le64(count.admitted) || !r.le64(count.limited)) return std::nullopt;
    if (bytes.size() == usage_value_size_v1) return count;
    if (!r.le64(count.shadow_limited) || !r.done()) return std::nullopt;
    return count;
}

}  // namespace rl::storage::codec
