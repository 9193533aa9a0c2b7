// The ESL codec is being written.
