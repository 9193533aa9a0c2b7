/* Empty: CEpoll is header only; SwiftPM needs one source file. */
