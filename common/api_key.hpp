#pragma once
// API keys and identifiers: how they are generated, hashed and validated.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rl::common {

// SHA-256 of an API key: the only form in which a key is kept, in memory or on disk.
using key_hash = std::array<std::uint8_t, 32>;

key_hash sha256(std::string_view data) noexcept;

std::string to_hex(const std::uint8_t* data, std::size_t size);
// A key hash from 64 lowercase hex digits (what export writes), nullopt otherwise.
std::optional<key_hash> parse_key_hash(std::string_view hex) noexcept;

// Cryptographically random bytes from OpenSSL; throws std::runtime_error if the RNG fails.
std::uint64_t random_u64();

// Short, stable, non-secret token of a user, so a balancer can hash all of a user's keys
// (`rl_<route>_<secret>`) to one instance.
std::string route_of(std::string_view user_name);

// A new key `rl_<route>_<secret>` with 160 random bits of secret.
std::string generate_api_key(std::string_view user_name);

// Keys accepted on /limit and by `key import`: 1..256 visible ASCII characters.
inline constexpr std::size_t max_key_length = 256;
bool is_well_formed_key(std::string_view key) noexcept;

// User names: 1..64 of [A-Za-z0-9._@-], so they are safe in URLs, headers and logs.
bool is_valid_user_name(std::string_view name) noexcept;

// Public key ids are 64-bit values written as 16 lowercase hex digits.
std::string format_key_id(std::uint64_t id);
std::optional<std::uint64_t> parse_key_id(std::string_view text) noexcept;

}  // namespace rl::common
