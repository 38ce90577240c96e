// The module is header-only (WendaoPrefetch.h); SwiftPM wants one source file per C target.
#include "WendaoPrefetch.h"
