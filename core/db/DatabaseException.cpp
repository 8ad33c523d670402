// Definitions of the database layer's exception classes.
#include "core/db/DatabaseException.h"

#include <typeinfo>

namespace archestra::db {

POCO_IMPLEMENT_EXCEPTION(DatabaseException, Poco::RuntimeException, "Database error")
POCO_IMPLEMENT_EXCEPTION(DatabaseUnavailableException, DatabaseException, "Database unavailable")
POCO_IMPLEMENT_EXCEPTION(SchemaTooNewException, DatabaseException, "Database schema too new")

}  // namespace archestra::db
