/*
 * version: the one program version, set in the Makefile (VERSION) and
 * compiled into version.c alone, so a release changes one line.
 * Every tool's --version prints "ci-NAME VERSION" from here.
 */
#ifndef CI_VERSION_H
#define CI_VERSION_H

extern const char ci_version[];

#endif
