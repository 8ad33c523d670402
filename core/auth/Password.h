// Password hashing compatible with the original's better-auth scrypt format "<saltHex>:<keyHex>".
#pragma once

#include <string>

namespace archestra::auth {

/// Hashes with scrypt (N=16384, r=16, p=1, 64-byte key). The salt is 16 random bytes written as 32 hex chars,
/// and (as in better-auth) those hex characters themselves are the salt bytes fed to scrypt.
/// The password is used as given: better-auth NFKC-normalises it first, we do not (ASCII passwords are
/// unaffected; a non-ASCII password hashed by the original in a different normal form would not verify).
std::string hashPassword(const std::string& password);

/// True when `stored` is a well-formed "<saltHex>:<keyHex>" whose key matches `password`. Constant-time
/// compare. A malformed `stored` value yields false, never an exception.
bool verifyPassword(const std::string& password, const std::string& stored);

}  // namespace archestra::auth
