// The json module is being written.
