/* MariaDB Connector/C (Debian: libmariadb-dev), linked only into the db_mysql plugin. */
#include <mariadb/mysql.h>
#include <mariadb/errmsg.h>
#include <mariadb/mysqld_error.h>
