#pragma once
// The one error type storage throws: a domain code and RocksDB's text, never a RocksDB type.

#include <stdexcept>
#include <string>

namespace rl::storage {

enum class storage_errc {
    io_error,         // the disk or RocksDB failed
    locked,           // another process holds the data directory
    schema_mismatch,  // written by an incompatible version
    corruption,       // a stored value does not decode
    exists,           // a backup or restore target is already there (and is left alone)
};

class storage_error : public std::runtime_error {
public:
    storage_error(storage_errc code, const std::string& what)
        : std::runtime_error(what), code_(code) {}
    storage_errc code() const noexcept { return code_; }

private:
    storage_errc code_;
};

}  // namespace rl::storage
