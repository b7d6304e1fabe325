// Test fixture: a loadable library without the plugin symbols.
extern "C" __attribute__((visibility("default"))) int some_other_library_function() { return 42; }
