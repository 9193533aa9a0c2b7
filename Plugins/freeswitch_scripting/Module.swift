// freeswitch_scripting is being written.
