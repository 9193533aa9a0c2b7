/* Umbrella header for Swift (the SwitchyardABI module): every public header of the ABI.
 * C plugins include the header they need directly. */
#include "switchyard.h"
#include "switchyard_cachedb.h"
#include "switchyard_db.h"
#include "switchyard_freeswitch.h"
#include "switchyard_httpd.h"
#include "switchyard_tm.h"
