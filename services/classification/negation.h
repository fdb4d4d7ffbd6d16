/* Negation and contrast in a complaint's text (pure, no I/O).
 *
 * A cue that is denied must not vote for its category: 「没有破损」, "not damaged" and 「不是延误」
 * say what did NOT happen. And in a contrast the clause after the turn wins: in
 * 「不是延误，是东西坏了」 or "not damaged, just late" or 「虽然晚了两天，但是东西摔坏了」 the
 * customer's complaint is what follows 是 / 而是 / 但是 / but / just.
 *
 * negation_mark marks each byte of a folded text (textnorm_fold: lowercase, ASCII
 * punctuation):
 *   NEGATION_NEGATED   in the scope of a negator: after 没有/不是/并非/并没有 up to five
 *                      characters, after a single 没/不/未/无/别 up to two (so
 * 「不知道为什么延误了」 does not deny the delay), after not/no/never/without/...n't up to three
 *                      words; a scope ends at clause punctuation or a contrast marker. 「不仅」,
 *                      「不断」, "not only" and the like are not negators.
 *   NEGATION_CONCEDED  in the part of a sentence before a contrast marker (但是, 但, 可是, 不过,
 *                      而是, 只是, 却, 然而, but, however, instead, rather; and 是 / 就是 / just /
 *                      only / it's at the start of a clause that follows a negated clause).
 * The negators and markers themselves stay unmarked. The keyword reader skips negated matches
 * and counts conceded ones only when nothing outside a conceded clause matched; the model sees
 * both marks as token prefixes (textnorm_tokens). */
#ifndef CP_NEGATION_H
#define CP_NEGATION_H

#include <stddef.h>

enum negation_marks {
	NEGATION_NEGATED = 1,
	NEGATION_CONCEDED = 2,
};

/* Writes one mark per byte of text[0..n) into marks[0..n) (0, NEGATION_NEGATED,
 * NEGATION_CONCEDED or both). text need not be NUL-terminated at n. */
void negation_mark(const char *text, size_t n, unsigned char *marks);

#endif
