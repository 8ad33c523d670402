// Exceptions of the database layer; the HTTP layer maps DatabaseUnavailableException to 503.
#pragma once

#include <Poco/Exception.h>

namespace archestra::db {

/// SQL errors and anything else the database refused.
POCO_DECLARE_EXCEPTION(, DatabaseException, Poco::RuntimeException)
/// The server cannot be reached or the connection was lost: retryable, reported as 503.
POCO_DECLARE_EXCEPTION(, DatabaseUnavailableException, DatabaseException)
/// The database carries migrations this binary does not know.
POCO_DECLARE_EXCEPTION(, SchemaTooNewException, DatabaseException)

}  // namespace archestra::db
