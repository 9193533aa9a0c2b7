/* libpq (Debian: libpq-dev), linked only into the db_postgres plugin. */
#include <postgresql/libpq-fe.h>
