#pragma once
// Byte layouts of everything in the data directory. Integers in keys are big-endian so keys
// sort by value; decoders never throw and reject anything malformed.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/records.hpp"

namespace rl::storage::codec {

inline constexpr std::size_t usage_key_size = 16;  // be64 period start, be64 key_id
// le64 admitted, le64 limited, le64 shadow_limited. Every write has all three; the decoder
// also reads values written before shadow mode (the first two only: shadow_limited 0).
inline constexpr std::size_t usage_value_size = 24;
inline constexpr std::size_t usage_value_size_v1 = 16;

// Users are written in format 2; format 1 (schema 1) is still read: limit 0 as plan
// "default", limit N as limits "1s:N".
std::string encode_user(const user_record& user);
std::optional<user_record> decode_user(std::string_view name, std::string_view bytes) noexcept;
// A schema-1 user value (tests and the migration's own checks only write this).
std::string encode_user_format1(std::uint32_t limit, bool disabled, unix_seconds created_at);

std::string encode_plan(const plan_record& plan);
std::optional<plan_record> decode_plan(std::string_view name, std::string_view bytes) noexcept;

std::string encode_key(const key_record& key);
std::optional<key_record> decode_key(std::string_view hash, std::string_view bytes) noexcept;

std::string encode_key_id(std::uint64_t key_id);
std::optional<std::uint64_t> decode_key_id(std::string_view bytes) noexcept;

std::string encode_usage_key(unix_seconds start, std::uint64_t key_id);
void encode_usage_key(unix_seconds start, std::uint64_t key_id,
                      char (&out)[usage_key_size]) noexcept;
std::optional<usage_bucket> decode_usage_key(std::string_view bytes) noexcept;

std::string encode_usage_value(const usage_count& count);
void encode_usage_value(const usage_count& count, char (&out)[usage_value_size]) noexcept;
std::optional<usage_count> decode_usage_value(std::string_view bytes) noexcept;

}  // namespace rl::storage::codec
