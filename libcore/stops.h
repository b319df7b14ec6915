/* stops — stop strings in generated text: where the text must be cut when
 * a token just added completes one. Shared by generate and serve's
 * scheduler, which both append one token's bytes at a time.
 *
 *     size_t before = text_len;  ... append the new token's bytes ...
 *     long cut = rn_stop_find(text, text_len, before, stop, nstop);
 *     if (cut >= 0) text_len = (size_t)cut;   // generation ends there
 */
#ifndef RN_STOPS_H
#define RN_STOPS_H

#include <stddef.h>

/* The start of a stop string in text (n bytes) whose match ends past byte
 * `before` (only those are new: earlier ones were seen at earlier tokens),
 * the first of stop[0..nstop) in order that has one; -1 if none does. */
long rn_stop_find(const char *text, size_t n, size_t before, const char *const *stop, int nstop);

#endif
