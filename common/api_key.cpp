#include "common/api_key.hpp"

#define OPENSSL_SUPPRESS_DEPRECATED  // for SHA256_*, see sha256()
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace rl::common {

namespace {

void random_bytes(unsigned char* out, int size) {
    if (RAND_bytes(out, size) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
}

bool is_visible_ascii(char c) noexcept {
    return c > 0x20 && c < 0x7f;
}

}  // namespace

key_hash sha256(std::string_view data) noexcept {
    // OpenSSL 3's EVP_DigestInit allocates a provider context on every call; the SHA256_*
    // functions, deprecated but still part of libcrypto 3.x, hash on the stack. This runs on
    // every /limit call.
    key_hash out{};
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data.data(), data.size());
    SHA256_Final(out.data(), &ctx);
    return out;
}

std::optional<key_hash> parse_key_hash(std::string_view hex) noexcept {
    key_hash hash{};
    if (hex.size() != hash.size() * 2) return std::nullopt;
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < hash.size(); ++i) {
        const int high = digit(hex[2 * i]), low = digit(hex[2 * i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        hash[i] = static_cast<std::uint8_t>(high << 4 | low);
    }
    return hash;
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(size * 2, '0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0xf];
    }
    return out;
}

std::uint64_t random_u64() {
    std::uint64_t value = 0;
    random_bytes(reinterpret_cast<unsigned char*>(&value), sizeof value);
    return value;
}

std::string route_of(std::string_view user_name) {
    const key_hash digest = sha256(user_name);
    return to_hex(digest.data(), 5);
}

std::string generate_api_key(std::string_view user_name) {
    // 20 random bytes = 160 bits, written as 32 base32 characters (no separators inside).
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char secret[20];
    random_bytes(secret, sizeof secret);
    std::string key = "rl_" + route_of(user_name) + "_";
    for (std::size_t bit = 0; bit < sizeof secret * 8; bit += 5) {
        unsigned value = 0;
        for (std::size_t b = bit; b < bit + 5; ++b)
            value = (value << 1) | ((secret[b / 8] >> (7 - b % 8)) & 1u);
        key.push_back(alphabet[value]);
    }
    return key;
}

bool is_well_formed_key(std::string_view key) noexcept {
    if (key.empty() || key.size() > max_key_length) return false;
    for (char c : key)
        if (!is_visible_ascii(c)) return false;
    return true;
}

bool is_valid_user_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::string format_key_id(std::uint64_t id) {
    std::uint8_t bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(id >> (56 - 8 * i));
    return to_hex(bytes, sizeof bytes);
}

std::optional<std::uint64_t> parse_key_id(std::string_view text) noexcept {
    if (text.size() != 16) return std::nullopt;
    std::uint64_t id = 0;
    for (char c : text) {
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = static_cast<unsigned>(c - 'a' + 10);
        else
            return std::nullopt;
        id = (id << 4) | digit;
    }
    return id;
}

}  // namespace rl::common
