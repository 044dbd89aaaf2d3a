#include "core/version.h"

#ifndef CI_VERSION
#error "build with -DCI_VERSION=\"x.y.z\" (the Makefile's VERSION)"
#endif

const char ci_version[] = CI_VERSION;
