// drouting is being written.
