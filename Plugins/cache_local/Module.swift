// The cache_local module is being written.
