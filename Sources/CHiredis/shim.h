/* hiredis (Debian: libhiredis-dev), linked only into the cachedb_redis plugin. */
#include <hiredis/hiredis.h>

/* redisCommand is variadic, which Swift does not import; the plugin only uses redisCommandArgv. */
