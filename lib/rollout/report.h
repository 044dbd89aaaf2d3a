/*
 * report: the rollout as a picture, for `ci-canary --report FILE.svg`.
 *
 * rollout_report_svg() reads ci-canary's document section (ci-pipeline(5),
 * "The canary section"; borrowed, never changed) and writes a standalone
 * SVG 1.1 file, 900 px wide: a title (app, image, status, reason), one
 * panel per metric that has numbers (canary and stable as two polylines
 * over the interval index, each failed measurement as a red dot, the
 * metric's last values as text, min and max on the axis), then a panel of
 * the canary's weight as a step line over the same intervals, with a red
 * dot where any metric failed (the planned steps, dashed, when nothing was
 * measured yet).
 *
 * Invariants: the file is written whole or not at all (atomic_write());
 * every string taken from the section is escaped (format/xml.h), so the
 * output passes `xmllint --noout`; numbers that are missing, NaN or
 * infinite are skipped, never printed; no fonts, scripts or links outside
 * the file.  A section of the wrong shape is EX_INTERNAL (the section is
 * ours), naming the key; a file that cannot be written is EX_IOERR_,
 * naming the path.
 */
#ifndef CI_ROLLOUT_REPORT_H
#define CI_ROLLOUT_REPORT_H

#include <cJSON.h>

#include "core/log.h"

int rollout_report_svg(const cJSON *section, const char *path, struct err *e);

#endif
