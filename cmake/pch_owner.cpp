// The source of the precompiled-header owners (cmake/PrecompiledHeaders.cmake): nothing.
