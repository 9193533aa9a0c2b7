// freeswitch is being written.
